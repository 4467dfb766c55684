"""Masklets on disk: a (T, Y, X) label array in a Zarr group laid out as OME-Zarr labels,
one chunk per frame, written frame by frame as tracking produces them."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import zarr

LABELS_NAME = "masklets"
PROMPTS_ATTR = "napari_sam2_prompts"  # the prompts that made the labels, JSON in the group's attributes
DEFAULT_AXES = {2: "yx", 3: "tyx", 4: "tzyx", 5: "tczyx"}
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
UNDO_NAME = "undo"  # the labels a propagation overwrote, frame by frame, until it is undone or replaced
UNDO_FRAMES_ATTR = "napari_sam2_undo_frames"
ARRAY_PATH = f"labels/{LABELS_NAME}/0"


class NotALabelsStore(ValueError):
    """A path that is not a napari-sam2 labels store where one was expected."""


def is_labels_store(path) -> bool:
    """True for a folder laid out as napari-sam2 writes its labels stores."""
    return (Path(path) / ARRAY_PATH).is_dir()


def check_replaceable(path: str | Path, overwrite: bool = False) -> None:
    """Refuses a `path` that holds anything but a napari-sam2 store, and a store unless `overwrite`:
    nothing is ever replaced that napari-sam2 did not write, nor without being asked."""
    path = Path(path)
    if not path.exists():
        return
    if not is_labels_store(path):
        raise FileExistsError(
            f"{path} already exists and is not a napari-sam2 labels store: it is left as it is; "
            "choose a new location for the labels"
        )
    if not overwrite:
        raise FileExistsError(
            f"{path} already holds a napari-sam2 labels store: choose a new location, or ask to replace "
            "it (overwrite=True; --overwrite on the command line)"
        )


class LabelsStore:
    """`path` is the group (e.g. "cells.zarr"); the array lives at labels/masklets/0.

    Each frame is one chunk, so writing a frame never touches another frame's data, and every
    frame written before a crash stays readable.
    """

    def __init__(self, group: zarr.Group):
        self.group = group
        self.array = group[ARRAY_PATH]

    @classmethod
    def create(cls, path: str | Path, shape: tuple[int, ...], axes: str | None = None, dtype=np.uint32,
               scale: tuple[float, ...] | None = None) -> "LabelsStore":
        """A new, empty store; `path` must not exist. Tracking writes (frames,
        rows, columns); any 2-D to 5-D labels can be kept (the napari writer does), one chunk
        per 2-D plane. axes: OME-Zarr axis names, default by dimension ("yx", "tyx", "tzyx", "tczyx")."""
        shape = tuple(int(s) for s in shape)
        axes = axes or DEFAULT_AXES.get(len(shape))
        if axes is None or len(axes) != len(shape):
            raise ValueError(
                f"a labels store holds 2 to 5 dimensions named by `axes`, got shape {shape} and axes {axes!r}"
            )
        scale = [1.0] * len(shape) if scale is None else [float(v) for v in scale]
        if Path(path).exists():
            raise FileExistsError(f"{path} already exists: a new labels store needs a new location")
        root = zarr.open_group(str(path), mode="w-")
        root.attrs["labels"] = [LABELS_NAME]
        group = root.require_group(f"labels/{LABELS_NAME}")
        group.attrs["multiscales"] = [{
            "version": "0.4",
            "axes": [{"name": a, "type": AXIS_TYPES[a]} for a in axes],
            "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}],
        }]
        group.attrs["image-label"] = {"version": "0.4", "source": {"image": "../../"}}
        group.create_array("0", shape=shape, chunks=(1,) * (len(shape) - 2) + shape[-2:], dtype=dtype, fill_value=0)
        return cls(root)

    @property
    def scale(self) -> tuple[float, ...]:
        multiscales = self.group[f"labels/{LABELS_NAME}"].attrs.asdict().get("multiscales", [{}])
        transforms = multiscales[0].get("datasets", [{}])[0].get("coordinateTransformations", [])
        return tuple(next((t["scale"] for t in transforms if t.get("type") == "scale"), [1.0] * len(self.shape)))

    @classmethod
    def open(cls, path: str | Path, mode: str = "r+") -> "LabelsStore":
        if not Path(path).exists():
            raise FileNotFoundError(f"there is no labels store at {path}")
        if not is_labels_store(path):
            raise NotALabelsStore(
                f"{path} is not a napari-sam2 labels store (it has no {ARRAY_PATH} array; it holds "
                f"{_listing(path)}): open a folder written by napari-sam2, e.g. cells.masklets.zarr"
            )
        return cls(zarr.open_group(str(path), mode=mode))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def write_frame(self, frame: int, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        if tuple(labels.shape) != self.shape[1:]:
            raise ValueError(f"frame labels of shape {labels.shape} do not fit the store's frames {self.shape[1:]}")
        self.array[frame] = self.checked_labels(labels)

    def checked_labels(self, labels: np.ndarray) -> np.ndarray:
        """`labels` as the store's dtype, or a ValueError if an id is not a whole number from 0
        (background) to the largest id the store can hold."""
        largest = np.iinfo(self.array.dtype).max
        if labels.dtype.kind not in "uib":
            raise ValueError(f"labels must be whole numbers (object ids), not {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() > largest):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(f"object id {bad} cannot be stored: ids go from 1 to {largest} (0 is background)")
        return labels.astype(self.array.dtype, copy=False)

    def read_frame(self, frame: int) -> np.ndarray:
        return np.asarray(self.array[frame])

    # ---- prompts ---------------------------------------------------------------------------

    def save_prompts(self, prompts: dict) -> None:
        """Keep the prompts (any JSON-compatible dict) with the labels; written atomically."""
        self.group.attrs[PROMPTS_ATTR] = prompts

    def load_prompts(self) -> dict | None:
        return self.group.attrs.asdict().get(PROMPTS_ATTR)

    # ---- undo of one propagation -----------------------------------------------------------

    def begin_undoable(self) -> None:
        """Start recording: frames overwritten by `write_frame_undoable` from now on can be put back
        by `undo`. The copies live on disk beside the labels, so undo costs no memory."""
        if UNDO_NAME not in self.group:
            self.group.create_array(UNDO_NAME, shape=self.shape, chunks=(1, *self.shape[1:]),
                                    dtype=self.array.dtype, fill_value=0)
        self.group.attrs[UNDO_FRAMES_ATTR] = []

    def write_frame_undoable(self, frame: int, labels: np.ndarray) -> None:
        """Like write_frame, first copying the frame's labels aside (once per recording)."""
        recorded = list(self.group.attrs.asdict().get(UNDO_FRAMES_ATTR, []))
        if frame not in recorded:
            self.group[UNDO_NAME][frame] = self.read_frame(frame)
            self.group.attrs[UNDO_FRAMES_ATTR] = recorded + [frame]  # after the copy: a crash never lists a frame not copied
        self.write_frame(frame, labels)

    @property
    def undoable_frames(self) -> list[int]:
        return list(self.group.attrs.asdict().get(UNDO_FRAMES_ATTR, []))

    def discard_undo(self) -> None:
        if self.undoable_frames:
            self.group.attrs[UNDO_FRAMES_ATTR] = []

    def undo(self) -> list[int]:
        """Put back the labels of every frame written since begin_undoable; returns those frames.
        A second undo does nothing (one level)."""
        frames = self.undoable_frames
        for frame in frames:
            self.write_frame(frame, np.asarray(self.group[UNDO_NAME][frame]))
        self.group.attrs[UNDO_FRAMES_ATTR] = []
        return frames


def _listing(path) -> str:
    names = sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else []
    return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing napari-sam2 reads"


@contextmanager
def new_labels_store(path: str | Path, shape: tuple[int, ...], overwrite: bool = False, **create_args):
    """A new store that appears at `path` only when the block ends without error: it is written in
    a hidden folder beside `path`, then moved there. A failure or an interruption leaves nothing at
    `path` (and a store that was there, with `overwrite`, as it was). The store yielded is the
    one in the hidden folder: open `path` afterwards to use the result."""
    path = Path(path)
    check_replaceable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield LabelsStore.create(folder / path.name, shape, **create_args)
        check_replaceable(path, overwrite)  # again: something may have appeared meanwhile
        if path.exists():
            shutil.rmtree(path)
        os.rename(folder / path.name, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
