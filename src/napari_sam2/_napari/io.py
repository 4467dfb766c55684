"""napari reader and writer for napari-sam2 label stores (OME-Zarr 0.5 label images, one chunk
per plane).

The reader opens the store's array itself (nothing is loaded up front, and painting in the layer
writes to disk when the store is writable), at the store's pixel sizes, offset and units, and
shows the lineage of a store of tracked cells as a Tracks layer; the writer saves any 2-D to 5-D
Labels layer with the layer's.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..engine.cell_measurements import measure_cells
from ..engine.track_graph import tracks_layer_data
from ..storage import LabelsStore, new_labels_store
from ..storage.axes import axes_from_labels, ome_unit
from ..storage.labels_store import is_labels_store, label_dtype
from .store_location import prefer_napari_sam2_for_stores
from .tracks_view import TAIL_FRAMES


def get_reader(path):
    """The reader for a napari-sam2 store (a folder such as cells.masklets.zarr), else None so
    that napari asks other plugins (a plain OME-Zarr image, say)."""
    if isinstance(path, list):
        return get_reader(path[0]) if len(path) == 1 else None
    return read_labels_store if isinstance(path, (str, os.PathLike)) and is_labels_store(path) else None


def read_labels_store(path):
    path = Path(path[0] if isinstance(path, list) else path)
    store = LabelsStore.open(path, mode="r+" if os.access(path, os.W_OK) else "r")
    prefer_napari_sam2_for_stores()
    name = path.name.removesuffix(".zarr").removesuffix(".masklets") + " tracked labels"
    units = [unit or "pixel" for unit in store.units]
    meta = {"name": name, "scale": store.scale, "translate": store.translation, "axis_labels": tuple(store.axes),
            "units": units}
    return [(store.array, meta, "labels"), *_tracks_layer(store, name.removesuffix(" labels"))]


def _tracks_layer(store: LabelsStore, name: str) -> list[tuple]:
    """The store's lineage as a Tracks layer, if it has one (frames, rows, columns only)."""
    lineage = store.load_lineage()
    if lineage is None or len(store.shape) != 3:
        return []
    data, graph = tracks_layer_data(measure_cells(store.frames, lineage), lineage)
    meta = {"name": name + " tracks", "graph": graph, "scale": store.scale, "translate": store.translation,
            "tail_length": TAIL_FRAMES}
    return [(data, meta, "tracks")] if len(data) else []


def write_labels(path: str, data, meta: dict) -> list[str]:
    """Save a Labels layer as a napari-sam2 store at `path` (".zarr" is added if missing). A store
    already there is replaced (napari's Save dialog has asked); anything else there is refused."""
    target = Path(path)
    if target.suffix != ".zarr":
        target = target.with_name(target.name + ".zarr")
    array = np.asarray(data)
    if not 2 <= array.ndim <= 5:
        raise ValueError(f"a labels store holds 2-D to 5-D labels, and this layer has {array.ndim} dimensions")
    if array.dtype.kind not in "ui" or (array.dtype.kind == "i" and array.min() < 0):
        raise ValueError(f"labels must be non-negative integers, not {array.dtype}")
    units = meta.get("units")
    geometry = {"axes": axes_from_labels(meta.get("axis_labels") or [""] * array.ndim), "scale": meta.get("scale"),
                "translation": meta.get("translate"), "units": None if units is None else [ome_unit(u) for u in units],
                "dtype": label_dtype(int(array.max()) if array.size else 0)}
    with new_labels_store(target, array.shape, overwrite=True, **geometry) as store:
        for index in np.ndindex(array.shape[:-2]):  # plane by plane: one chunk each
            store.array[index] = store.checked_labels(array[index])
    prefer_napari_sam2_for_stores()
    return [str(target)]
