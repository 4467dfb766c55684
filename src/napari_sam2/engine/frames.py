"""Frame sources: read one 2-D frame (with optional channels) at a time from any array-like.

A frame source is anything with `len(source)` and `source[i]` returning an (H, W) or
(H, W, C) numpy array. `ArrayFrames` makes one from numpy, dask, zarr or tifffile arrays
without reading more than the frame asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .image_layout import ImageLayout, image_layout, is_ome_zarr, ome_zarr_image
from .indices import as_integer, axis_index, frame_index


@runtime_checkable
class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


class ArrayFrames:
    """Frames along `axis` of an N-D array.

    axis: the axis to track along (time for a time-lapse, z for a volume).
    channel_axis: the channel axis, if any (kept, moved last).
    fixed: the index of every other non-spatial axis, e.g. {1: 12} to track through time at
    z = 12 in a (T, Z, Y, X) array. The two axes left are the frame's rows and columns.
    """

    def __init__(self, array, axis: int = 0, channel_axis: int | None = None, fixed: dict[int, int] | None = None):
        self.array = array
        ndim = len(array.shape)
        self.axis = axis_index(axis, ndim, "axis")
        self.channel_axis = None if channel_axis is None else axis_index(channel_axis, ndim, "channel_axis")
        self.fixed = {axis_index(a, ndim, "an axis in fixed"): as_integer(i, f"fixed index of axis {a}")
                      for a, i in (fixed or {}).items()}
        self._check_axes(ndim)

    def _check_axes(self, ndim: int) -> None:
        shape = tuple(self.array.shape)
        used = {self.axis, *self.fixed} | ({self.channel_axis} if self.channel_axis is not None else set())
        if self.channel_axis == self.axis or self.axis in self.fixed:
            raise ValueError(f"axis {self.axis} cannot be both the tracking axis and a channel or fixed axis")
        for a, i in self.fixed.items():
            if not 0 <= i < shape[a]:
                raise ValueError(f"fixed index {i} is outside axis {a} of length {shape[a]}")
        spatial = [a for a in range(ndim) if a not in used]
        if len(spatial) != 2:
            raise ValueError(
                f"an array of shape {shape} tracked along axis {self.axis} leaves axes {spatial} per frame; "
                "a frame needs exactly two (rows, columns): fix the others with fixed={axis: index}, "
                "or name the channel axis with channel_axis="
            )
        self.spatial_axes = spatial

    def __len__(self) -> int:
        return int(self.array.shape[self.axis])

    @property
    def frame_shape(self) -> tuple[int, ...]:
        shape = tuple(int(self.array.shape[a]) for a in self.spatial_axes)
        return shape if self.channel_axis is None else shape + (int(self.array.shape[self.channel_axis]),)

    def __getitem__(self, index: int) -> np.ndarray:
        key = [slice(None)] * len(self.array.shape)
        key[self.axis] = frame_index(index, len(self))
        for a, i in self.fixed.items():
            key[a] = i
        frame = np.asarray(self.array[tuple(key)])  # reads this frame only (dask/zarr/tiff lazily)
        if frame.dtype == bool:  # a mask saved as an image: 0 and 1 to the model
            frame = frame.astype(np.uint8)
        kept = [a for a in range(len(self.array.shape)) if a != self.axis and a not in self.fixed]
        if self.channel_axis is not None:
            frame = np.moveaxis(frame, kept.index(self.channel_axis), -1)
        return frame


def open_tiff_frames(path: str | Path, axis: int | None = None, channel_axis: int | None = None,
                     fixed: dict[int, int] | None = None, series: int = 0, layout: ImageLayout | None = None) -> ArrayFrames:
    """Frames of a TIFF file, read lazily page by page through tifffile's zarr interface;
    `series`: which image of a multi-series (e.g. multi-position OME-) TIFF. axis=None: the axes as
    `layout` says (None: as the file names them, image_layout.py: frames along its one stack axis,
    channels C or RGB samples, axes of one entry fixed; one 2-D image is a stack of one frame); else
    `axis`, `channel_axis` and `fixed` as given."""
    import tifffile
    import zarr

    if axis is None and layout is None:  # as the file names its axes (and a ValueError that says so for a bad file)
        layout = image_layout(path, series)
    store = tifffile.imread(str(path), aszarr=True, series=series)
    array = zarr.open(store, mode="r")
    if isinstance(array, zarr.Group):  # a pyramid: take full resolution
        array = array["0"]
    if axis is not None:
        return ArrayFrames(array, axis=axis, channel_axis=channel_axis, fixed=fixed)
    return frames_as_laid_out(array, layout)


def open_image_frames(path: str | Path, series: int = 0, layout: ImageLayout | None = None) -> ArrayFrames:
    """Frames of a TIFF file or an OME-Zarr image (its full resolution), read lazily, with the axes as
    `layout` says (None: as the file names them, image_layout.py)."""
    if not is_ome_zarr(path):
        return open_tiff_frames(path, series=series, layout=layout)
    return frames_as_laid_out(ome_zarr_image(path).array, layout or image_layout(path))


def frames_as_laid_out(array, layout: ImageLayout) -> ArrayFrames:
    """The frames of an array whose axes `layout` names (one image: a stack of one frame; a
    projected axis: each frame the maximum along it)."""
    if layout.projected is not None:
        array, layout = _MaxProjection(array, layout.projected), layout.projected_out()
    if layout.stack_axis is None:
        return ArrayFrames(_OneFrame(array), axis=0, fixed={a + 1: i for a, i in layout.fixed.items()},
                           channel_axis=None if layout.channel_axis is None else layout.channel_axis + 1)
    return ArrayFrames(array, axis=layout.stack_axis, channel_axis=layout.channel_axis, fixed=layout.fixed)


class _MaxProjection:
    """An array seen without one of its axes: each read is the maximum along it (a z-stack's
    maximum-intensity projection), reading only the block asked for."""

    def __init__(self, array, axis: int):
        self.array, self.axis = array, axis
        self.shape = tuple(size for a, size in enumerate(array.shape) if a != axis)

    def __getitem__(self, key: tuple):
        key = tuple(key)
        block = np.asarray(self.array[key[:self.axis] + (slice(None),) + key[self.axis:]])
        kept_before = sum(not isinstance(k, (int, np.integer)) for k in key[:self.axis])  # axes left before it
        return block.max(axis=kept_before)


class _OneFrame:
    """An array seen with a leading axis of one entry (a single image as a stack of one frame),
    read lazily as the array is."""

    def __init__(self, array):
        self.array = array
        self.shape = (1, *array.shape)

    def __getitem__(self, key: tuple):
        return self.array[key[1:]]  # key[0] is 0: frame_index checked it
