"""A TIFF stack's axis names, pixel sizes and units, from its OME-XML or ImageJ metadata, for the
labels store made from it (tracked axis "z" or "t", scale, units)."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import tifffile

from ..engine.tiff_layout import layout_of, tiff_layout
from .axes import ome_unit

STACK_AXES = ("t", "z")  # what a stack's first axis may be: time (cells divide) or depth


def tiff_geometry(path, series: int = 0, axis: str | None = None) -> dict:
    """{"axes", "scale", "units"} for a (frames, rows, columns) TIFF (its image `series`); 1 and no
    unit where the file does not say. axis: "t" or "z", what the first axis is when the file does
    not say it right; None: "z" where its ImageJ/OME metadata says the frames are along Z
    (engine.tiff_layout), else "t"."""
    if axis is not None and axis not in STACK_AXES:
        raise ValueError(f"axis {axis!r}: the stack's first axis is 't' (a time-lapse) or 'z' (a z-stack)")
    tracked = axis or ("z" if tiff_layout(path, series).depth else "t")
    with tifffile.TiffFile(path) as tif:
        sizes = _ome_sizes(tif.ome_metadata, series) if tif.ome_metadata else _imagej_sizes(tif)
    step, step_unit = sizes.get(tracked, (1.0, None))
    (row, row_unit), (col, col_unit) = sizes.get("y", (1.0, None)), sizes.get("x", (1.0, None))
    return {"axes": tracked + "yx", "scale": [step, row, col], "units": [step_unit, row_unit, col_unit]}


def _ome_sizes(xml: str, series: int = 0) -> dict:
    every_pixels = [e for e in ElementTree.fromstring(xml).iter() if e.tag.endswith("}Pixels")]  # one per image
    pixels = every_pixels[series] if series < len(every_pixels) else None
    if pixels is None:
        return {}
    found = {}
    for axis, size, unit, default_unit in (("x", "PhysicalSizeX", "PhysicalSizeXUnit", "µm"),
                                           ("y", "PhysicalSizeY", "PhysicalSizeYUnit", "µm"),
                                           ("z", "PhysicalSizeZ", "PhysicalSizeZUnit", "µm"),
                                           ("t", "TimeIncrement", "TimeIncrementUnit", "s")):
        if size in pixels.attrib:
            found[axis] = (float(pixels.attrib[size]), ome_unit(pixels.attrib.get(unit, default_unit)))
    return found


def _imagej_sizes(tif: tifffile.TiffFile) -> dict:
    metadata = tif.imagej_metadata or {}
    unit = ome_unit(metadata.get("unit"))
    found = {}
    for axis, tag in (("x", "XResolution"), ("y", "YResolution")):
        resolution = tif.pages[0].tags.get(tag)
        if metadata and resolution is not None and resolution.value[0]:
            found[axis] = (resolution.value[1] / resolution.value[0], unit)  # pixels per unit -> size
    if "spacing" in metadata:
        found["z"] = (float(metadata["spacing"]), unit)
    if "finterval" in metadata:
        found["t"] = (float(metadata["finterval"]), "second")
    return found


def tiff_series_frames(path) -> list[int]:
    """The number of frames (engine.tiff_layout: 1 for one image) of each image series of a TIFF:
    one entry for a plain TIFF, one per position for a multi-series OME-TIFF."""
    with tifffile.TiffFile(path) as tif:
        layouts = [layout_of(series.axes, series.shape, str(path)) for series in tif.series]
    return [1 if layout.stack_axis is None else layout.shape[layout.stack_axis] for layout in layouts]
