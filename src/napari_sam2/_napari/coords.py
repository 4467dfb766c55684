"""The one place where napari coordinates become the engine's.

napari gives a point as (..., row, col) in the layer's data coordinates (pixel i is drawn over
[i - 0.5, i + 0.5]); the engine takes (x, y) = (col, row) in pixels of one frame, boxes as XYXY.
"""
from __future__ import annotations

import numpy as np


def slice_index(value: float) -> int:
    """The index of the slice a coordinate lies on (napari puts new points at integer slices,
    but rounding also accepts coordinates moved by a transform's floating-point error)."""
    return int(np.floor(float(value) + 0.5))


def napari_point_to_frame_xy(point, axis: int | None, spatial_axes: tuple[int, int]) -> tuple[int, float, float]:
    """(frame index, x, y) of a napari point: the frame from the tracking axis (0 for a single
    image, axis None), x from the column axis, y from the row axis."""
    row_axis, col_axis = spatial_axes
    frame = 0 if axis is None else slice_index(point[axis])
    return frame, float(point[col_axis]), float(point[row_axis])


def frame_xy_to_napari_point(frame: int, x: float, y: float, ndim: int, axis: int | None,
                             spatial_axes: tuple[int, int], fixed: dict[int, int] | None = None) -> np.ndarray:
    """The inverse: a napari point (ndim,) for (frame, x, y); fixed axes get their index."""
    point = np.zeros(ndim)
    for a, index in (fixed or {}).items():
        point[a] = index
    if axis is not None:
        point[axis] = frame
    point[spatial_axes[0]], point[spatial_axes[1]] = y, x
    return point


def on_fixed_slice(point, fixed: dict[int, int]) -> bool:
    """Whether a point lies on the fixed slice of every non-tracked axis (e.g. the time point
    a z-stack is tracked at); prompts elsewhere belong to another tracking."""
    return all(slice_index(point[a]) == index for a, index in fixed.items())


def napari_vertices_to_xyxy(vertices, spatial_axes: tuple[int, int]) -> tuple[float, float, float, float]:
    """The XYXY box around a shape's vertices (a rotated rectangle gives its bounding box)."""
    v = np.asarray(vertices, dtype=float)
    rows, cols = v[:, spatial_axes[0]], v[:, spatial_axes[1]]
    return float(cols.min()), float(rows.min()), float(cols.max()), float(rows.max())


def napari_vertices_to_rows_cols(vertices, spatial_axes: tuple[int, int]) -> np.ndarray:
    """(N, 2) (row, col) vertices: the order skimage.draw takes."""
    v = np.asarray(vertices, dtype=float)
    return np.stack([v[:, spatial_axes[0]], v[:, spatial_axes[1]]], axis=1)
