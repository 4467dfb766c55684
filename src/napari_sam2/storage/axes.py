"""OME-Zarr axis names, types and units for a labels store."""
from __future__ import annotations

AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
DEFAULT_LEADING = {0: "", 1: "t", 2: "tz", 3: "tcz"}  # the axes before (y, x), by count
DEPTH_NAMES = {"z", "depth", "slice", "slices", "plane", "planes"}
NO_UNITS = {"pixel", "pixels", "px", "dimensionless", ""}


def default_axes(ndim: int) -> str | None:
    """ "yx", "tyx", "tzyx" or "tczyx"; None outside 2 to 5 dimensions."""
    leading = DEFAULT_LEADING.get(ndim - 2)
    return None if leading is None else leading + "yx"


def axes_from_labels(labels, depth: bool | None = None) -> str | None:
    """OME axis names for an image whose axes carry these labels (napari's axis_labels): one
    leading axis is "z" if `depth` (None: if its label says depth, `says_depth`), else "t"; with
    more leading axes, the default order (OME-Zarr puts time first)."""
    axes = default_axes(len(labels))
    if axes is not None and len(labels) == 3 and (says_depth(labels) if depth is None else depth):
        return "zyx"
    return axes


def says_depth(labels) -> bool:
    """Whether the leading axis of a 3-D image with these axis labels is depth (z) by its name."""
    return len(labels) == 3 and str(labels[0]).lower() in DEPTH_NAMES


def ome_unit(unit) -> str | None:
    """An OME-Zarr unit name (e.g. "micrometer", "second") from napari's or a TIFF's, None for pixels."""
    name = str(unit).strip() if unit is not None else ""
    name = {"micron": "micrometer", "um": "micrometer", "µm": "micrometer", "\\u00B5m": "micrometer",
            "nm": "nanometer", "mm": "millimeter", "s": "second", "sec": "second", "ms": "millisecond",
            "min": "minute", "h": "hour"}.get(name, name)
    return None if name in NO_UNITS else name
