"""A TIFF stack's (or an OME-Zarr image's) axis names, pixel sizes and units, from its OME-XML or
ImageJ metadata (or its OME-Zarr axes and scale), for the labels store made from it (tracked axis "z"
or "t", scale, units)."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import tifffile

from ..engine.image_layout import ImageLayout, OmeZarrImage, image_layout, is_ome_zarr, layout_of, ome_zarr_image
from .axes import ome_unit

STACK_AXES = ("t", "z")  # what a stack's first axis may be: time (cells divide) or depth


def tiff_geometry(path, series: int = 0, axis: str | None = None, layout: ImageLayout | None = None) -> dict:
    """{"axes", "scale", "units"} for a (frames, rows, columns) TIFF (its image `series`); 1 and no
    unit where the file does not say. axis: "t" or "z", what the first axis is when the file does
    not say it right; None: "z" where its ImageJ/OME metadata says the frames are along Z
    (engine.image_layout), else "t". layout: the image's as it is read (None: as the file says)."""
    if axis is not None and axis not in STACK_AXES:
        raise ValueError(f"axis {axis!r}: the stack's first axis is 't' (a time-lapse) or 'z' (a z-stack)")
    layout = layout or image_layout(path, series)
    tracked = axis or ("z" if layout.depth else "t")
    if is_ome_zarr(path):
        sizes = _zarr_sizes(ome_zarr_image(path), layout)
    else:
        with tifffile.TiffFile(path) as tif:
            sizes = _ome_sizes(tif.ome_metadata, series) if tif.ome_metadata else _imagej_sizes(tif)
    step, step_unit = sizes.get(tracked, (1.0, None))
    (row, row_unit), (col, col_unit) = sizes.get("y", (1.0, None)), sizes.get("x", (1.0, None))
    return {"axes": tracked + "yx", "scale": [step, row, col], "units": [step_unit, row_unit, col_unit]}


def _zarr_sizes(image: OmeZarrImage, layout: ImageLayout) -> dict:
    """Each axis's size and unit at full resolution, by its name ("t", "z", "y", "x"; the frames'
    axis, whatever the image calls it, under both "t" and "z")."""
    found = {letter.lower(): (image.scale[a], ome_unit(image.units[a])) for a, letter in enumerate(image.axes)}
    if layout.stack_axis is not None:
        found["t"] = found["z"] = found[image.axes[layout.stack_axis].lower()]
    return found


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
        found["t"] = (float(metadata["finterval"]), ome_unit(metadata.get("tunit", "sec")))  # ImageJ's time unit
    return found


def tiff_series_frames(path) -> list[int]:
    """The number of frames (engine.image_layout: 1 for one image) of each image series of a TIFF:
    one entry for a plain TIFF, one per position for a multi-series OME-TIFF."""
    if is_ome_zarr(path):
        layouts = [image_layout(path)]
    else:
        with tifffile.TiffFile(path) as tif:
            layouts = [layout_of(series.axes, series.shape, str(path)) for series in tif.series]
    return [1 if layout.stack_axis is None else layout.shape[layout.stack_axis] for layout in layouts]
