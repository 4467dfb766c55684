"""Where a session keeps its labels on disk, where they sit in the image's world, and which reader
napari uses for them."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from napari.settings import get_settings

from ..storage import LabelsStore, open_or_create_store
from ..storage.axes import axes_from_labels, ome_unit
from .labels_view import labels_translate
from .layout import FrameLayout

STORE_SUFFIX = ".masklets.zarr"
STORE_PATTERN = f"*{STORE_SUFFIX}{os.sep}"  # napari matches a folder's real path, with a separator at its end


def store_name(stem: str, layout: FrameLayout) -> str:
    """e.g. "cells.masklets.zarr"; for a 4-D image the tracked axis and the fixed indices are in
    the name, so tracking another time point does not overwrite this one."""
    name = re.sub(r"[^\w.-]+", "_", stem) or "image"
    if layout.fixed:
        name += f"_axis{layout.axis}" + "".join(f"_{a}-{i}" for a, i in layout.fixed)
    return name + STORE_SUFFIX


def default_store_path(source_path, layer_name: str, layout: FrameLayout) -> Path:
    """Next to the image file if the layer came from one (and that folder is writable), so the
    labels stay with the data; otherwise in a new temporary folder."""
    if source_path:
        source = Path(source_path)
        stem = source.name.split(".")[0] if source.name.split(".")[0] else source.stem
        if os.access(source.parent, os.W_OK):
            return source.parent / store_name(stem, layout)
    return Path(tempfile.mkdtemp(prefix="napari-sam2-")) / store_name(layer_name, layout)


def open_session_store(path, image_layer, layout: FrameLayout) -> LabelsStore:
    """The session's store at `path` (reopened, or created with the image layer's axis names,
    pixel sizes, units and offset, translated to the fixed slice of a 4-D image)."""
    prefer_napari_sam2_for_stores()
    scale = [float(s) for s in image_layer.scale]
    return open_or_create_store(
        path, layout.store_shape, f"the image {image_layer.name!r} tracked along axis {layout.axis}",
        axes=axes_from_labels(image_layer.axis_labels), scale=scale,
        translation=[float(t) for t in labels_translate(scale, image_layer.translate, layout)],
        units=[ome_unit(u) for u in getattr(image_layer, "units", [None] * layout.ndim)], frame_axis=layout.axis,
    )


def prefer_napari_sam2_for_stores() -> None:
    """napari's own reader accepts every folder, so for a folder napari-sam2 reads too napari asks
    which reader to use. Once napari-sam2 has opened or saved a store, folders named *.masklets.zarr
    open with napari-sam2 without the question: the preference napari keeps when "Remember this
    choice" is ticked (Preferences > Plugins, where it can be changed). A preference already set
    for the pattern stays."""
    plugins = get_settings().plugins
    if STORE_PATTERN not in plugins.extension2reader:
        plugins.extension2reader = {**plugins.extension2reader, STORE_PATTERN: "napari-sam2"}
