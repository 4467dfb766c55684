"""Tracking from napari's console (or a script holding a viewer), on layer objects.

    import napari_sam2 as ns
    tracking = ns.start_tracking(viewer, "timelapse", points=viewer.layers["Points"])
    tracking.session.labels_layer              # the tracked labels (one id per object), filled in as frames are tracked

The same session the widget drives: its layers take further clicks (corrections), and
`propagate_in_background` tracks again. Two forms of each:
- `start_tracking` and `propagate_in_background` return at once: the clicks are decoded and the
  frames tracked in worker threads, napari stays responsive and shows each frame as it is written;
  the returned BackgroundTracking tells the progress and can stop.
- `track_layers` and `propagate_now` block: they run in the calling thread (napari's, from its
  console) and return when every frame is written; napari is frozen meanwhile. For scripts.
"""
from __future__ import annotations

import time

import numpy as np
from napari.layers import Image, Points, Shapes
from napari.utils import progress
from napari.utils.notifications import show_error
from qtpy.QtCore import QThreadPool
from qtpy.QtWidgets import QApplication

from .closing import CLOSE_WAIT_MS, ClosingWatcher
from .prompt_layers import OBJ_ID, POSITIVE
from .prompt_worker import PromptWorker
from .propagation import PropagationRunner
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
    one; store: the Zarr labels store (default next to the image file).

    Blocks until every frame is tracked (napari is frozen meanwhile): see start_tracking."""
    session = prompted_session(viewer, image, points, shapes, model, axis, store)
    propagate_now(session, direction, start)
    return session


def start_tracking(viewer, image, points=None, shapes=None, model=None, axis=None, direction="both",
                   store=None, start=None) -> BackgroundTracking:
    """track_layers in worker threads: returns at once, napari stays responsive and the Labels
    layer (`.session.labels_layer`) fills in frame by frame."""
    session = prompted_session(viewer, image, points, shapes, model, axis, store)
    return propagate_in_background(session, direction, start)


def prompted_session(viewer, image, points=None, shapes=None, model=None, axis=None, store=None) -> TrackingSession:
    """A session on `image` whose prompt layers hold the prompts of `points` and `shapes` (see
    track_layers); nothing is decoded yet."""
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
    return session


def propagate_now(session: TrackingSession, direction: str = "both", start: int | None = None) -> list[int]:
    """Apply the session's prompts and propagate in this thread; returns the frames written.
    Blocks (napari is frozen until the last frame): see propagate_in_background."""
    propagation = session.propagate(direction, start)
    plan = propagation.plan
    done = list(progress(propagation, total=plan.num_frames, desc=f"Tracking {plan.describe()}"))
    session.labels_layer.refresh()
    return done


def propagate_in_background(session: TrackingSession, direction: str = "both",
                            start: int | None = None) -> BackgroundTracking:
    """Apply the session's prompts and propagate in worker threads; returns at once."""
    return BackgroundTracking(session, direction, start)


class BackgroundTracking:
    """A propagation in worker threads: the session's prompts are decoded first (a PromptWorker),
    then the frames are tracked (a PropagationRunner, with napari's progress bar), each written to
    the store and shown as it comes. Errors are shown as napari notifications; one that keeps the
    propagation from starting is kept in `error`.

    `running`, `frames_done` (the frames written so far), `stop()` (after the frame being
    tracked), `wait()` (for scripts: blocks until the end, processing napari's events)."""

    def __init__(self, session: TrackingSession, direction: str = "both", start: int | None = None):
        self.session, self.direction, self.start = session, direction, start
        self.error: Exception | None = None
        self.runner = PropagationRunner(self._on_frame, self._on_done)
        self.prompts = PromptWorker(lambda edits: None, self._on_prompts_applied, self._on_failed, lambda: None)
        # Closing napari mid-run: end these workers too before Qt is torn down, as the widget does.
        self.closing_watcher = ClosingWatcher(session.viewer.window._qt_window, self._shut_down)
        self._queued, self._after = True, []  # runs to start when this one ends
        # One run at a time on a session's tracker: a run asked for during another starts after it.
        earlier, session.background = getattr(session, "background", None), self
        self._earlier = None  # held until this run begins: nothing else may hold the run it waits for
        if earlier is not None and earlier.running:
            self._earlier = earlier
            earlier._after.append(self._begin)
        else:
            self._begin()

    def _begin(self) -> None:
        self._earlier = None
        if not self._queued:  # stopped while it waited
            self._finished()
            return
        self._queued = False
        self.prompts.request(self.session)
        if self.error is None:  # prompts the layers cannot express are reported, nothing starts
            self.prompts.then(self._propagate)
        else:
            self._finished()

    def _finished(self) -> None:
        after, self._after = self._after, []
        for begin in after:
            begin()

    @property
    def running(self) -> bool:
        return self._queued or self.prompts.running or self.runner.running

    @property
    def frames_done(self) -> list[int]:
        return list(self.runner.frames_done)

    def stop(self) -> None:
        self._queued = False
        self.prompts.cancel_waiting_actions()
        if self.runner.running:
            self.session.tracker.request_stop()  # at its next model call
        self.runner.stop()

    def _shut_down(self) -> None:
        self.stop()
        self.prompts.close()
        self.runner.on_frame, self.runner.on_done = (lambda frame: None), (lambda: None)
        QThreadPool.globalInstance().waitForDone(CLOSE_WAIT_MS)

    def wait(self, timeout: float | None = None) -> list[int]:
        """Until the propagation ends (or `timeout` seconds); returns the frames written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running and (deadline is None or time.monotonic() < deadline):
            QApplication.processEvents()
            time.sleep(0.01)
        return self.frames_done

    def _propagate(self) -> None:
        session = self.session
        try:  # the prompt worker has sent every prompt: nothing is decoded here
            propagation = session.propagate(self.direction, self.start)
        except ValueError as error:
            self._on_failed(error)
            return
        plan = propagation.plan
        if plan.runs:
            self.runner.start(propagation, plan.num_frames, f"Tracking {plan.describe()}")
        else:
            self._finished()

    def _on_prompts_applied(self, session, frames) -> None:
        if frames:
            session.prompts_changed()

    def _on_failed(self, error: Exception) -> None:
        self.error = error
        show_error(f"tracking did not start: {error}")
        self._finished()

    def _on_frame(self, frame: int) -> None:
        self.session.labels_layer.refresh()

    def _on_done(self) -> None:
        self.session.labels_layer.refresh()
        self._finished()
