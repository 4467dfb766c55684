"""Which axes of an image are frames, rows and columns: what a tracking session goes through.

Axes are the image layer's dimensions (an RGB layer's channel axis is not one of them). The last
two are a frame's rows and columns; one of the others is tracked (time or z); any others are
fixed at one index (e.g. the time point of a z-stack in a (T, Z, Y, X) image).
"""
from __future__ import annotations

from dataclasses import dataclass

from .coords import slice_index


@dataclass(frozen=True)
class FrameLayout:
    shape: tuple[int, ...]  # the layer's dimensions, without an RGB channel axis
    axis: int | None  # the tracked axis; None for a single 2-D image (one frame)
    fixed: tuple[tuple[int, int], ...] = ()  # (axis, index) for every other non-spatial axis

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def spatial_axes(self) -> tuple[int, int]:
        return self.ndim - 2, self.ndim - 1

    @property
    def fixed_dict(self) -> dict[int, int]:
        return dict(self.fixed)

    @property
    def num_frames(self) -> int:
        return 1 if self.axis is None else self.shape[self.axis]

    @property
    def single_image(self) -> bool:
        return self.axis is None

    @property
    def store_frame_axis(self) -> int:
        """The labels store's frame axis (a single image's 2-D store is one frame whatever it says)."""
        return 0 if self.axis is None else self.axis

    def frame_of(self, point) -> int:
        """The frame a napari point (or a viewer index) along the layer's axes is on."""
        return 0 if self.axis is None else slice_index(point[self.axis])

    @property
    def frame_hw(self) -> tuple[int, int]:
        return self.shape[-2], self.shape[-1]

    @property
    def store_shape(self) -> tuple[int, ...]:
        """The labels store's shape: the layer's, with length 1 at the fixed axes (the labels of a
        z-stack tracked at one time point of a (T, Z, Y, X) image are (1, Z, Y, X))."""
        return tuple(1 if a in self.fixed_dict else n for a, n in enumerate(self.shape))


def tracking_axes(shape: tuple[int, ...]) -> list[int]:
    """The axes a session can track along: all but the last two (rows, columns)."""
    return list(range(max(len(shape) - 2, 0)))


def frame_layout(shape, rgb: bool = False, axis: int | None = None, current_index=None, name: str = "image") -> FrameLayout:
    """The layout of an image layer of `shape` (without the RGB channel axis).

    axis: the axis to track (default: the first non-spatial one); current_index: the viewer's
    index along every axis, which fixes the axes neither tracked nor spatial.
    """
    shape = tuple(int(s) for s in shape)
    candidates = tracking_axes(shape)
    if len(shape) == 2 and axis is None:  # a single image: click cells, get labels
        return FrameLayout(shape, None)
    if not candidates:
        raise ValueError(
            f"the image layer {name!r} has shape {shape}: open a single 2-D image, a time-lapse or a z-stack "
            "(frames, rows, columns)"
        )
    axis = candidates[0] if axis is None else int(axis)
    if axis not in candidates:
        raise ValueError(
            f"axis {axis} cannot be tracked in the image layer {name!r} of shape {shape}: "
            f"choose one of the axes {candidates} (the last two are a frame's rows and columns)"
        )
    current = list(current_index) if current_index is not None else [0] * len(shape)
    fixed = tuple((a, min(max(int(current[a]), 0), shape[a] - 1)) for a in candidates if a != axis)
    return FrameLayout(shape, axis, fixed)
