"""Tracking from napari's console (or a script holding a viewer), on layer objects.

    import napari_sam2 as ns
    session = ns.track_layers(viewer, "timelapse", points=viewer.layers["Points"])
    session.labels_layer                       # the tracked labels (one id per object), a view of session.store_path

The same session the widget drives: its layers take further clicks (corrections), and
`propagate_now` tracks again. Runs in the calling thread, with napari's progress bar.
"""
from __future__ import annotations

import numpy as np
from napari.layers import Image, Points, Shapes
from napari.utils import progress

from .closing import ClosingWatcher
from .prompt_layers import OBJ_ID, POSITIVE
from .session import TrackingSession


def _layer(viewer, layer, kind, what: str):
    if isinstance(layer, str):
        if layer not in viewer.layers:
            names = ", ".join(repr(x.name) for x in viewer.layers) or "none"
            raise ValueError(f"there is no layer named {layer!r} for the {what} (layers: {names})")
        layer = viewer.layers[layer]
    if layer is not None and not isinstance(layer, kind):
        raise ValueError(f"the {what} must be a {kind.__name__} layer, and {layer.name!r} is a {type(layer).__name__} layer")
    return layer


def _to_image_coords(layer, image, data: np.ndarray) -> np.ndarray:
    """Another layer's data coordinates (N, D) as the image's (its scale and translate may differ)."""
    return np.array([image.world_to_data(layer.data_to_world(row)) for row in data]).reshape(len(data), image.ndim)


def _obj_ids(layer, count: int, first: int) -> np.ndarray:
    """The layer's obj_id feature, or one new object per point or shape."""
    if OBJ_ID in layer.features:
        return np.asarray(layer.features[OBJ_ID], dtype=int)
    return np.arange(first, first + count)


def track_layers(viewer, image, points=None, shapes=None, model=None, axis=None, direction="both",
                 store=None, start=None) -> TrackingSession:
    """Track the objects prompted in `points` (a Points layer: every point is a positive click on
    its own object, unless the layer has "obj_id" and "positive" features) and `shapes` (rectangles
    are boxes, polygons and ellipses masks) through `image` (a layer or its name) along `axis`
    (default: the first one), and return the session. model: a loaded model, default the embedded
    one; store: the Zarr labels store (default next to the image file)."""
    from ..engine import load_model

    image = _layer(viewer, image, Image, "image to track")
    points, shapes = _layer(viewer, points, Points, "clicks"), _layer(viewer, shapes, Shapes, "boxes and masks")
    if (points is None or not len(points.data)) and (shapes is None or not len(shapes.data)):
        raise ValueError("no prompts: give a Points layer with a click on each object (or a Shapes layer with boxes)")
    session = TrackingSession(viewer, image, model if model is not None else load_model(), axis=axis, store_path=store)
    session.closing_watcher = ClosingWatcher(viewer.window._qt_window, session.close)  # as the widget's
    next_id = max(session.object_ids_in_use(), default=0) + 1
    if points is not None and len(points.data):
        ids = _obj_ids(points, len(points.data), next_id)
        positive = np.asarray(points.features[POSITIVE], bool) if POSITIVE in points.features else np.ones(len(ids), bool)
        session.points_layer.add(_to_image_coords(points, image, np.asarray(points.data)))
        features = session.points_layer.features
        features.iloc[-len(ids):, features.columns.get_loc(OBJ_ID)] = ids
        features.iloc[-len(ids):, features.columns.get_loc(POSITIVE)] = positive
        session.points_layer.features = features
        next_id = int(ids.max()) + 1
    if shapes is not None and len(shapes.data):
        ids = _obj_ids(shapes, len(shapes.data), next_id)
        session.shapes_layer.add([_to_image_coords(shapes, image, np.asarray(v)) for v in shapes.data],
                                 shape_type=list(shapes.shape_type))
        features = session.shapes_layer.features
        features.iloc[-len(ids):, features.columns.get_loc(OBJ_ID)] = ids
        session.shapes_layer.features = features
    propagate_now(session, direction, start)
    return session


def propagate_now(session: TrackingSession, direction: str = "both", start: int | None = None) -> list[int]:
    """Apply the session's prompts and propagate in this thread; returns the frames written."""
    session.sync_prompts()
    _, total = session.propagation_plan(direction, start)
    done = [frame for frame in progress(session.propagate(direction, start), total=total, desc=f"Tracking {direction}")]
    session.labels_layer.refresh()
    return done
