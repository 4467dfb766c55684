"""Creating and opening labels stores without ever replacing what napari-sam2 did not write:
one set of rules for the napari session, the napari writer and the command line."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import zarr

from .labels_store import LEGACY_ARRAY_PATH, PROMPTS_ATTR, LabelsStore, label_dtype, store_kind
from .output_place import partials_of, written_beside


def remove_abandoned_partials(path: str | Path) -> list[Path]:
    """Deletes what a writer of `path` that was killed left behind (a process ended by the system,
    a batch worker that died): call it only where no other writer of `path` can be running, as a
    batch job does before it starts. Returns what was deleted."""
    found = partials_of(path)
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def check_replaceable(path: str | Path, overwrite: bool = False) -> None:
    """Refuses a `path` that holds anything but a napari-sam2 store, and a store unless `overwrite`:
    nothing is ever replaced that napari-sam2 did not write, nor without being asked."""
    kind = store_kind(path)
    if kind == "other":
        raise FileExistsError(
            f"{path} already exists and is not a napari-sam2 labels store: it is left as it is; "
            "choose a new location for the labels"
        )
    if kind != "missing" and not overwrite:
        raise FileExistsError(
            f"{path} already holds a napari-sam2 labels store: choose a new location, or ask to replace "
            "it (overwrite=True; --overwrite on the command line)"
        )


@contextmanager
def new_labels_store(path: str | Path, shape: tuple[int, ...], overwrite: bool = False, **create_args):
    """A new store that appears at `path` only when the block ends without error: it is written in
    a hidden folder beside `path`, then moved there. A failure or an interruption leaves nothing at
    `path` (and a store that was there, with `overwrite`, as it was). The store yielded is the
    one in the hidden folder: open `path` afterwards to use the result."""
    check_replaceable(path, overwrite)
    with written_beside(path, lambda: check_replaceable(path, overwrite)) as partial:
        yield LabelsStore.create(partial, shape, **create_args)


def open_or_create_store(path: str | Path, shape: tuple[int, ...], source: str = "the image",
                         **create_args) -> LabelsStore:
    """The store at `path`: reopened if it exists (earlier work is kept), else created empty.
    `source` names what the labels belong to, for the error when the store does not fit it."""
    path = Path(path)
    if store_kind(path) == "missing":
        return LabelsStore.create(path, shape, **create_args)
    store = LabelsStore.open(path)  # a folder that is not a store: NotALabelsStore says so
    if store.shape != tuple(shape):
        raise ValueError(
            f"the labels store {path} holds {store.shape} but {source} has {tuple(shape)}: choose another "
            "store location, or delete the store to start again"
        )
    return store


def convert_legacy_store(old: str | Path, new: str | Path) -> LabelsStore:
    """A store written before OME-Zarr 0.5 (labels at labels/masklets/0), copied into a new store:
    the labels frame by frame, the axes, the scale and the prompts. `old` is left as it is."""
    if store_kind(old) != "legacy":
        raise ValueError(f"{old} is not a labels store of the earlier layout (no {LEGACY_ARRAY_PATH} array)")
    group = zarr.open_group(str(old), mode="r")
    array = group[LEGACY_ARRAY_PATH]
    multiscale = group[LEGACY_ARRAY_PATH.rsplit("/", 1)[0]].attrs["multiscales"][0]
    axes = "".join(a["name"] for a in multiscale["axes"])
    scale = next(t["scale"] for t in multiscale["datasets"][0]["coordinateTransformations"] if t["type"] == "scale")
    largest = max(int(np.asarray(array[index]).max()) for index in np.ndindex(array.shape[:-2]))
    with new_labels_store(new, array.shape, axes=axes, scale=scale, dtype=label_dtype(largest)) as store:
        for index in np.ndindex(array.shape[:-2]):
            store.array[index] = store.checked_labels(np.asarray(array[index]))
        if PROMPTS_ATTR in group.attrs:
            store.save_prompts(group.attrs[PROMPTS_ATTR])
    return LabelsStore.open(new)
