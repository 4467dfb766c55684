"""The measurements in the image's physical units where its labels store knows them (the pixel
size and frame interval or z step that the TIFF, OME-Zarr image or napari layer gave): columns
beside the pixel ones in the CSV, and each GEFF axis's scale to them. Nothing is added for an
axis of unknown unit: a number without a unit would look like one."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_AXIS_NAMES = {"t": "time", "z": "z"}  # the CSV's column for the frame axis, by the store's axis


@dataclass(frozen=True)
class AxisSize:
    """One axis of a store: what one step is in `unit` (None: not known) and where step 0 lies."""
    scale: float
    unit: str | None
    offset: float = 0.0


def store_sizes(store) -> dict[str, AxisSize]:
    """The frame axis ("t" or "z"), "y" and "x" of a labels store (its OME-Zarr scale, translation and units)."""
    axes, scale, offset, units = store.axes, store.scale, store.translation, store.units
    found = {name: AxisSize(float(scale[a]), units[a], float(offset[a])) for a, name in enumerate(axes) if name in "yx"}
    frame = store.frame_axis
    found[axes[frame]] = AxisSize(float(scale[frame]), units[frame], float(offset[frame]))
    return found


def physical_columns(table: dict[str, np.ndarray], sizes: dict[str, AxisSize]) -> dict[str, np.ndarray]:
    """Columns to add to a measurements `table` (frame, y, x, area in pixels) for the axes of known
    unit: time_<unit> or z_<unit> of each row's frame, y_<unit> and x_<unit> of the centroid, and
    area_<unit>2 where rows and columns share a unit (e.g. area_micrometer2)."""
    columns = {}
    for axis, name in FRAME_AXIS_NAMES.items():
        size = sizes.get(axis)
        if size is not None and size.unit:
            columns[f"{name}_{size.unit}"] = table["frame"] * size.scale + size.offset
    for axis in ("y", "x"):
        size = sizes.get(axis)
        if size is not None and size.unit:
            columns[f"{axis}_{size.unit}"] = table[axis] * size.scale + size.offset
    y, x = sizes.get("y"), sizes.get("x")
    if y is not None and x is not None and y.unit and y.unit == x.unit:
        columns[f"area_{y.unit}2"] = table["area"] * (y.scale * x.scale)
    return {name: np.asarray(values, np.float64) for name, values in columns.items()}
