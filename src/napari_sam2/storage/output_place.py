"""Where every output (labels store, CTC folder, GEFF, CSV) is written: beside its place in a
hidden folder, then moved there once complete. A failure or an interruption leaves nothing at the
place (and what was there, when asked to replace it, as it was). What a writer killed outright
(SIGKILL, the system out of memory) left behind is removed by the next writer of the same place
on the same machine, once that process is known to have ended."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"  # the hidden folder beside an output being written: .<name>.<random>.partial
WRITER_FILE = "writer"  # in that folder: "<host>/<pid namespace> <process id>" of the process writing there


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
    for left in partials_of(path):
        if writer_ended(left):  # a run of this place killed outright: its partial output can be large
            shutil.rmtree(left, ignore_errors=True)
    holder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent))
    (holder / WRITER_FILE).write_text(f"{_this_machine()} {os.getpid()}")
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


def partials_of(path: str | Path) -> list[Path]:
    """The hidden folders where outputs for `path` are or were being written (written_beside)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}")) if path.parent.is_dir() else []


def writer_ended(holder: Path) -> bool:
    """Whether the process that wrote in the hidden folder `holder` is known to have ended: it ran
    on this machine and no process has its id now. False where that cannot be known (another
    machine of a cluster, a folder without the note): such a folder is left for whoever knows."""
    try:
        machine, pid = (holder / WRITER_FILE).read_text().split()
        pid = int(pid)
    except (OSError, ValueError):
        return False
    if machine != _this_machine() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: no signal, only whether the process is there
    except ProcessLookupError:
        return True
    except PermissionError:  # there, another user's
        return False
    return False


def _this_machine() -> str:
    """Where a process id means one process: the host, and on Linux its process-id namespace
    (two containers of one host share neither their processes nor, often, their names)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").replace(":", "-")
    except OSError:
        namespace = "-"
    return f"{socket.gethostname()}/{namespace}"
