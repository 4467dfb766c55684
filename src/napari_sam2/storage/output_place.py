"""Where every output (labels store, CTC folder, GEFF, CSV) is written: beside its place in a
hidden folder, then moved there once complete. A failure or an interruption leaves nothing at the
place (and what was there, when asked to replace it, as it was)."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"  # the hidden folder beside an output being written: .<name>.<random>.partial


def check_place(path: str | Path, kind: str, what: str, overwrite: bool = False) -> None:
    """The one rule of every output: `kind` says what is at `path` ("missing", "ours": an output
    napari-sam2 wrote, "other"); anything else is never replaced, ours only when asked. `what`
    names the output for the message, e.g. "a GEFF"."""
    if kind == "other":
        raise FileExistsError(f"{path} already exists and is not {what} napari-sam2 wrote: it is left as it is; "
                              f"choose a new place for {what}")
    if kind == "ours" and not overwrite:
        raise FileExistsError(f"{path} already holds {what} napari-sam2 wrote: choose a new place, or ask to "
                              "replace it (overwrite=True; --overwrite on the command line)")


@contextmanager
def written_beside(path: str | Path, check_replaceable: Callable[[], None]) -> Iterator[Path]:
    """Yields the hidden path (a file or a folder, named like `path`) to write. When the block ends
    without error, `check_replaceable()` runs again (something may have appeared at `path`
    meanwhile), whatever is at `path` is removed and the written one takes its place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent))
    try:
        yield holder / path.name
        check_replaceable()
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        os.rename(holder / path.name, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
