"""Masklets on disk: a (T, Y, X) label array in a Zarr group laid out as OME-Zarr labels,
one chunk per frame, written frame by frame as tracking produces them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

LABELS_NAME = "masklets"


class LabelsStore:
    """`path` is the group (e.g. "cells.zarr"); the array lives at labels/masklets/0.

    Each frame is one chunk, so writing a frame never touches another frame's data, and every
    frame written before a crash stays readable.
    """

    def __init__(self, group: zarr.Group):
        self.group = group
        self.array = group[f"labels/{LABELS_NAME}/0"]

    @classmethod
    def create(cls, path: str | Path, shape: tuple[int, int, int], axes: str = "tyx", dtype=np.uint32) -> "LabelsStore":
        if len(shape) != 3:
            raise ValueError(f"a labels store holds (frames, rows, columns), got shape {shape}")
        root = zarr.open_group(str(path), mode="w")
        root.attrs["labels"] = [LABELS_NAME]
        group = root.require_group(f"labels/{LABELS_NAME}")
        group.attrs["multiscales"] = [{
            "version": "0.4",
            "axes": [{"name": a, "type": "time" if a == "t" else "space"} for a in axes],
            "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0]}]}],
        }]
        group.attrs["image-label"] = {"version": "0.4", "source": {"image": "../../"}}
        group.create_array("0", shape=shape, chunks=(1, *shape[1:]), dtype=dtype, fill_value=0)
        return cls(root)

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
