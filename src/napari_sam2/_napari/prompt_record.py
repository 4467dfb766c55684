"""The prompt layers' contents as a JSON record kept in the labels store, and back.

Saved in the layers' own (data) coordinates with their features, so reopening the image and the
store gives back exactly the clicks, boxes and polygons that were drawn (the store's shape check
guarantees the same frame layout).
"""
from __future__ import annotations

import numpy as np

from .prompt_layers import OBJ_ID, POSITIVE

RECORD_VERSION = 1


def layers_to_record(points_layer, shapes_layer) -> dict:
    points_features = points_layer.features
    shapes_features = shapes_layer.features
    return {
        "version": RECORD_VERSION,
        "points": {
            "data": np.asarray(points_layer.data, dtype=float).tolist(),
            POSITIVE: [bool(v) for v in points_features.get(POSITIVE, [])],
            OBJ_ID: [int(v) for v in points_features.get(OBJ_ID, [])],
        },
        "shapes": {
            "data": [np.asarray(v, dtype=float).tolist() for v in shapes_layer.data],
            "shape_type": [str(t) for t in shapes_layer.shape_type],
            OBJ_ID: [int(v) for v in shapes_features.get(OBJ_ID, [])],
        },
    }


def restore_layers(record: dict, points_layer, shapes_layer) -> int:
    """Fill the (empty) prompt layers from a record; returns how many prompts were restored."""
    if record.get("version") != RECORD_VERSION:
        raise ValueError(
            f"the labels store's prompts are in format version {record.get('version')!r}, which this "
            f"napari-sam2 does not read (it reads {RECORD_VERSION}): update napari-sam2, or choose another store"
        )
    points, shapes = record["points"], record["shapes"]
    if points["data"]:
        points_layer.data = np.asarray(points["data"], dtype=float)
        points_layer.features = {POSITIVE: np.asarray(points[POSITIVE], bool),
                                 OBJ_ID: np.asarray(points[OBJ_ID], int)}
    if shapes["data"]:
        shapes_layer.add([np.asarray(v, dtype=float) for v in shapes["data"]], shape_type=shapes["shape_type"])
        shapes_layer.features = {OBJ_ID: np.asarray(shapes[OBJ_ID], int)}
    return len(points["data"]) + len(shapes["data"])
