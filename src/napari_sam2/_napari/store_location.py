"""Where a session keeps its labels on disk, and opening or creating that store."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..storage import LabelsStore, NotALabelsStore
from .layout import FrameLayout

STORE_SUFFIX = ".masklets.zarr"


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


def open_or_create_store(path, layout: FrameLayout) -> LabelsStore:
    """The store at `path`: reopened if it exists (earlier work is kept), else created empty."""
    path = Path(path)
    if not path.exists():
        return LabelsStore.create(path, layout.store_shape)
    try:
        store = LabelsStore.open(path)
    except NotALabelsStore as error:
        raise ValueError(
            f"{error}; or choose another location for this session's labels"
        ) from error
    if store.shape != layout.store_shape:
        raise ValueError(
            f"the labels store {path} holds {store.shape} (frames, rows, columns) but the image tracked "
            f"along axis {layout.axis} has {layout.store_shape}: choose another store location, or delete "
            "the store to start again"
        )
    return store
