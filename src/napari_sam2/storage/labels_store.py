"""Masklets on disk: a (T, Y, X) label array in a Zarr group laid out as OME-Zarr labels,
one chunk per frame, written frame by frame as tracking produces them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

LABELS_NAME = "masklets"
PROMPTS_ATTR = "napari_sam2_prompts"  # the prompts that made the labels, JSON in the group's attributes
DEFAULT_AXES = {2: "yx", 3: "tyx", 4: "tzyx", 5: "tczyx"}
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
UNDO_NAME = "undo"  # the labels a propagation overwrote, frame by frame, until it is undone or replaced
UNDO_FRAMES_ATTR = "napari_sam2_undo_frames"


class LabelsStore:
    """`path` is the group (e.g. "cells.zarr"); the array lives at labels/masklets/0.

    Each frame is one chunk, so writing a frame never touches another frame's data, and every
    frame written before a crash stays readable.
    """

    def __init__(self, group: zarr.Group):
        self.group = group
        self.array = group[f"labels/{LABELS_NAME}/0"]

    @classmethod
    def create(cls, path: str | Path, shape: tuple[int, ...], axes: str | None = None, dtype=np.uint32,
               scale: tuple[float, ...] | None = None) -> "LabelsStore":
        """A new, empty store (an existing one at `path` is replaced). Tracking writes (frames,
        rows, columns); any 2-D to 5-D labels can be kept (the napari writer does), one chunk
        per 2-D plane. axes: OME-Zarr axis names, default by dimension ("yx", "tyx", "tzyx", "tczyx")."""
        shape = tuple(int(s) for s in shape)
        axes = axes or DEFAULT_AXES.get(len(shape))
        if axes is None or len(axes) != len(shape):
            raise ValueError(
                f"a labels store holds 2 to 5 dimensions named by `axes`, got shape {shape} and axes {axes!r}"
            )
        scale = [1.0] * len(shape) if scale is None else [float(v) for v in scale]
        root = zarr.open_group(str(path), mode="w")
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
        return cls(zarr.open_group(str(path), mode=mode))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def write_frame(self, frame: int, labels: np.ndarray) -> None:
        if tuple(labels.shape) != self.shape[1:]:
            raise ValueError(f"frame labels of shape {labels.shape} do not fit the store's frames {self.shape[1:]}")
        self.array[frame] = labels

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
