"""Where a session keeps its labels on disk, where they sit in the image's world, and which reader
napari uses for them."""
from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs
from napari.settings import get_settings

from ..storage import LabelsStore, open_or_create_store
from ..storage.axes import axes_from_labels, ome_unit
from .labels_view import labels_translate
from .layout import FrameLayout

STORE_SUFFIX = ".masklets.zarr"
STORE_PATTERN = f"*{STORE_SUFFIX}{os.sep}"  # napari matches a folder's real path, with a separator at its end
DATA_DIR_VARIABLE = "NAPARI_SAM2_DATA_DIR"


def store_name(stem: str, layout: FrameLayout) -> str:
    """e.g. "cells.masklets.zarr"; for a 4-D image the tracked axis and the fixed indices are in
    the name, so tracking another time point does not overwrite this one."""
    name = re.sub(r"[^\w.-]+", "_", stem) or "image"
    if layout.fixed:
        name += f"_axis{layout.axis}" + "".join(f"_{a}-{i}" for a, i in layout.fixed)
    return name + STORE_SUFFIX


def data_folder() -> Path:
    """Where stores of images without a writable folder are kept, for good: the user's data
    folder for napari-sam2 (e.g. ~/.local/share/napari-sam2/stores), or $NAPARI_SAM2_DATA_DIR."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or platformdirs.user_data_dir("napari-sam2")) / "stores"


def default_store_path(source_path, layer_name: str, layout: FrameLayout) -> tuple[Path, str | None]:
    """(store path, why it is not next to the image, or None). Next to the image file if the layer
    came from one and that folder is writable, so the labels stay with the data; otherwise in the
    data folder, named after the layer, where opening the same image again finds it."""
    if source_path:
        source = Path(source_path)
        stem = source.name.split(".")[0] if source.name.split(".")[0] else source.stem
        if os.access(source.parent, os.W_OK):
            return source.parent / store_name(stem, layout), None
        why = f"the image's folder {source.parent} cannot be written to"
    else:
        why = f"the image {layer_name!r} was not opened from a file (a sample, or an array made in Python)"
    return data_folder() / store_name(layer_name, layout), why


def open_session_store(path, image_layer, layout: FrameLayout, depth: bool | None = None) -> LabelsStore:
    """The session's store at `path` (reopened, or created with the image layer's axis names,
    pixel sizes, units and offset, translated to the fixed slice of a 4-D image). depth: a 3-D
    image's first axis is z (True) or time (False); None: as its axis label says."""
    prefer_napari_sam2_for_stores()
    scale = [float(s) for s in image_layer.scale]
    return open_or_create_store(
        path, layout.store_shape,
        f"the image {image_layer.name!r}" + ("" if layout.single_image else f" tracked along axis {layout.axis}"),
        axes=axes_from_labels(image_layer.axis_labels, depth), scale=scale,
        translation=[float(t) for t in labels_translate(scale, image_layer.translate, layout)],
        units=[ome_unit(u) for u in getattr(image_layer, "units", [None] * layout.ndim)], frame_axis=layout.store_frame_axis,
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
