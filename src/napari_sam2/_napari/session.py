"""A tracking session: one image tracked along one axis, with the tracker, the labels on disk
and the layers that show them. No Qt widgets here: the dock widget drives a session."""
from __future__ import annotations

import weakref
from pathlib import Path
from typing import Iterator

import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_info, show_warning

from ..engine import ArrayFrames, MaskCleanup, TiledVideoTracker
from ..engine.clicked_outlines import outline_image, written_as_given
from ..engine.depth_extent import ClickedDepth
from ..engine.preprocessing import check_finite
from ..engine.propagation_plan import PropagationPlan
from .coords import slice_index
from .feature_prefetch import FeaturePrefetcher
from .labels_view import labels_translate
from .layout import FrameLayout, frame_layout
from .mask_warnings import warn_about_mask
from .prompt_layers import (
    OBJ_ID,
    ObjectPrompts,
    add_prompt_points,
    add_prompt_shapes,
    collect_prompts,
    points_to_clicks,
    set_current_obj_id,
    shapes_to_prompts,
)
from .prompt_record import layers_to_record, restore_layers
from .store_location import default_store_path, open_session_store

NO_IMAGE = (
    "there is no image layer to track: open a time-lapse or a z-stack (File > Open, or "
    "File > Open Sample > SAM 2 for microscopy) and choose it"
)


def image_data(layer):
    """The layer's full-resolution array (level 0 of a multiscale image)."""
    return layer.data[0] if layer.multiscale else layer.data


def viewer_index(viewer, layer) -> list[int]:
    """The slice the viewer shows, as an index along each of the layer's axes."""
    return [slice_index(v) for v in layer.world_to_data(viewer.dims.point)]


def check_trackable(viewer, image_layer, axis=None, current_index=None):
    """The layout of `image_layer` tracked along `axis`, or a ValueError saying what to change
    (no image, not an image layer, nothing to track through). Cheap: run it before loading a model."""
    if image_layer is None:
        raise ValueError(NO_IMAGE)
    if not isinstance(image_layer, Image):
        raise ValueError(f"the layer {image_layer.name!r} is not an image layer: choose the image to track")
    index = viewer_index(viewer, image_layer) if current_index is None else current_index
    shape = image_data(image_layer).shape[: image_layer.ndim]
    return frame_layout(shape, image_layer.rgb, axis, index, image_layer.name)


OPEN_SESSIONS: weakref.WeakSet[TrackingSession] = weakref.WeakSet()  # sessions whose layers are shown


def replace_earlier_sessions(image_layer, store_path: Path) -> None:
    """One session per image and per store: an earlier session on this image or this store is
    closed and its layers removed. Its prompts and labels are in its store, which a session on
    the same store reopens; two sessions writing one store, or prompts in a layer that no session
    reads, would lose work."""
    for earlier in [s for s in OPEN_SESSIONS if s.image_layer is image_layer or same_path(s.store_path, store_path)]:
        earlier.close(wait=False)
        earlier.remove_layers()


def same_path(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def check_sample_frames(frames, on_screen: int, name: str) -> None:
    """Refuse at Start an image whose pixels the model cannot read (NaN), rather than failing at
    every click. Only the first, the last and the frame on screen are read: a large lazy (dask)
    image is not read whole; a bad frame elsewhere is refused when it is reached."""
    for frame in sorted({0, min(max(on_screen, 0), len(frames) - 1), len(frames) - 1}):
        try:
            check_finite(np.asarray(frames[frame]))
        except ValueError as error:
            raise ValueError(f"{name!r} cannot be tracked: on frame {frame}, {error}") from error


def layer_frames(image_layer, layout: FrameLayout) -> ArrayFrames:
    """The frames a session tracks: along the layout's axis, or a single image as one frame."""
    data = image_data(image_layer)
    if layout.single_image:  # one frame, read whole: it is on screen anyway
        data = np.asarray(data)[None]
        return ArrayFrames(data, axis=0, channel_axis=data.ndim - 1 if image_layer.rgb else None)
    return ArrayFrames(data, axis=layout.axis, fixed=layout.fixed_dict,
                       channel_axis=data.ndim - 1 if image_layer.rgb else None)


class TrackingSession:
    """Tracks objects through `image_layer` along `axis` (default: the first non-spatial one);
    other non-spatial axes stay at the viewer's current index (or `current_index`). A single 2-D
    image is one frame: click cells, get labels. Frames are resampled so that cells have the
    model's preferred size and tiled (TiledVideoTracker): `cell_diameter` in pixels, estimated
    from the frames when None (the tracker's `cell_diameter` tells what is used). depth: a 3-D
    image's first axis is z (a z-stack: "Track all cells" gives 3-D labels, no divisions) or time
    (False); None: as its axis label says (storage.axes.says_depth). A store reopened keeps its axes."""

    def __init__(self, viewer, image_layer, model, axis=None, store_path=None, current_index=None,
                 cell_diameter: float | None = None, precision: str = "auto",
                 cleanup: MaskCleanup = MaskCleanup(), depth: bool | None = None):
        self.layout = check_trackable(viewer, image_layer, axis, current_index)
        self.viewer, self.image_layer = viewer, image_layer
        self.frames = layer_frames(image_layer, self.layout)
        check_sample_frames(self.frames, self.layout.frame_of(viewer_index(viewer, image_layer)), image_layer.name)
        # "auto" precision is decided there, once
        self.tracker = TiledVideoTracker(model, self.frames, cell_diameter=cell_diameter, precision=precision,
                                         cleanup=cleanup)
        self.store_path = Path(store_path) if store_path else self._default_store_path()
        replace_earlier_sessions(image_layer, self.store_path)
        self.store = open_session_store(self.store_path, image_layer, self.layout, depth)
        self._sent: dict[int, dict[int, ObjectPrompts]] = {}  # what the tracker has been given
        self._resume: str | None = None  # the direction of a stopped propagation, which the next one extends
        self._told_skipped: set[str] = set()  # the skipped prompts already shown to the user
        self._add_layers()
        self._restore_prompts()
        self.prefetcher = FeaturePrefetcher(self.tracker)
        viewer.dims.events.current_step.connect(self._on_step)
        self._on_step()
        OPEN_SESSIONS.add(self)

    def _default_store_path(self) -> Path:
        path, why_there = default_store_path(self.image_layer.source.path, self.image_layer.name, self.layout)
        if why_there:
            show_warning(f"The labels are kept in {path}, because {why_there}. Opening this image again "
                         "finds them there; to keep them elsewhere, choose a 'Labels store' before Start.")
        return path

    def _add_layers(self) -> None:
        image, layout = self.image_layer, self.layout
        scale, translate = np.asarray(image.scale), np.asarray(image.translate)
        self.labels_layer = self.viewer.add_labels(
            self.store.array, name=f"{image.name} tracked labels",
            scale=scale, translate=labels_translate(scale, translate, layout),
        )
        self.shapes_layer = add_prompt_shapes(self.viewer, layout.ndim, f"{image.name} boxes and masks", scale, translate)
        self.points_layer = add_prompt_points(self.viewer, layout.ndim, f"{image.name} clicks", scale, translate)
        self.labels_layer.selected_label = 1
        # The Labels layer's selected label is the current object: new prompts get its id.
        self.labels_layer.events.selected_label.connect(lambda event: self._use_object(self.labels_layer.selected_label))

    def _restore_prompts(self) -> None:
        """A reopened store brings back its prompts, which the tracker takes at once, so
        tracking goes on where it was left."""
        record = self.store.load_prompts()
        if record and restore_layers(record, self.points_layer, self.shapes_layer):
            # the object new prompts get, as it was saved, is the one the Labels layer selects
            self.labels_layer.selected_label = int(self.points_layer.feature_defaults[OBJ_ID].iloc[0])
            self.sync_prompts()

    def close(self, wait: bool = True) -> None:
        """Compute no more features in the background. When napari closes (`wait`), wait for the
        workers to end: one left running when Qt is torn down aborts the process. A session
        replaced by a new one does not wait (a propagation of another image may be running)."""
        if self.prefetcher.closed:
            return
        OPEN_SESSIONS.discard(self)
        self.viewer.dims.events.current_step.disconnect(self._on_step)
        self.prefetcher.close(wait)

    def layers(self) -> tuple:
        return self.labels_layer, self.shapes_layer, self.points_layer

    def remove_layers(self) -> None:
        for layer in self.layers():
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    def show_layers(self) -> list[str]:
        """Put back the session's layers that were deleted from the viewer (e.g. the Labels layer
        during a propagation: the labels are still in the store); returns their names."""
        missing = [layer for layer in self.layers() if layer not in self.viewer.layers]
        for layer in missing:
            self.viewer.layers.append(layer)
        self.labels_layer.refresh()
        return [layer.name for layer in missing]

    def _on_step(self, event=None) -> None:
        """The viewer moved: compute the features of the frame now on screen in the background."""
        index = viewer_index(self.viewer, self.image_layer)
        if all(index[a] == i for a, i in self.layout.fixed):
            self.prefetcher.request(self.layout.frame_of(index))

    # ---- objects ---------------------------------------------------------------------------

    def object_ids_in_use(self) -> set[int]:
        """The ids of clicked objects, and of the tracks of cells tracked without clicks."""
        lineage = self.store.load_lineage()
        ids = set(self.tracker.object_ids) | (set(lineage.tracks) if lineage is not None else set())
        for layer in (self.points_layer, self.shapes_layer):
            if len(layer.data):
                ids.update(int(i) for i in layer.features[OBJ_ID])
        return ids

    def new_object(self) -> int:
        """A new object id (one more than any in use); new prompts get it."""
        obj_id = max(self.object_ids_in_use(), default=0) + 1
        self.labels_layer.selected_label = obj_id  # its event sets the prompt layers' default
        self._use_object(obj_id)
        return obj_id

    def _use_object(self, obj_id: int) -> None:
        if obj_id >= 1:
            set_current_obj_id(self.points_layer, obj_id)
            set_current_obj_id(self.shapes_layer, obj_id)

    # ---- prompts ---------------------------------------------------------------------------

    def current_prompts(self) -> dict[int, dict[int, ObjectPrompts]]:
        """Every valid prompt in the prompt layers, {frame: {obj_id: ObjectPrompts}}; the others
        are skipped (and told about), so that one stray point does not block the rest."""
        points, shapes = self.points_layer, self.shapes_layer
        clicks, bad_points = points_to_clicks(points.data, points.features, self.layout)
        boxes, polygons, bad_shapes = shapes_to_prompts(shapes.data, shapes.shape_type, shapes.features, self.layout)
        self._tell_skipped([f"In the layer {points.name!r}, {why}" for why in bad_points]
                           + [f"In the layer {shapes.name!r}, {why}" for why in bad_shapes])
        return collect_prompts(clicks, boxes, polygons)

    def _tell_skipped(self, messages: list[str]) -> None:
        """Each skipped prompt is told once, not again at every later edit while it stays."""
        for message in messages:
            if message not in self._told_skipped:
                show_warning(message)
        self._told_skipped = set(messages)

    def sync_prompts(self) -> list[int]:
        """Apply every frame whose prompts changed since they were last sent; returns those frames."""
        frames = self.send_prompts(self.current_prompts())
        if frames:
            self.prompts_changed()
        return frames

    def edits(self, prompts) -> dict[int, list[int]]:
        """{frame: ids of the objects whose prompts there differ from what the tracker was sent},
        for `prompts` as current_prompts gives them."""
        changed = {}
        for frame in sorted(set(prompts) | set(self._sent)):
            now, before = prompts.get(frame, {}), self._sent.get(frame, {})
            ids = sorted(i for i in set(now) | set(before) if now.get(i) != before.get(i))
            if ids:
                changed[frame] = ids
        return changed

    def send_prompts(self, prompts) -> list[int]:
        """Send `prompts` (from current_prompts) to the tracker on every frame where they changed
        and write those frames' labels; returns the frames. It reads and refreshes no layer, so
        a worker thread may run it (see prompt_worker.py): then call prompts_changed after it,
        in the main thread."""
        frames = list(self.edits(prompts))
        for frame in frames:
            self._apply_frame(frame, prompts)
        return frames

    def apply_prompts(self, frame: int, prompts=None) -> None:
        """Send one frame's prompts to the tracker (see _apply_frame) and record the change."""
        self._apply_frame(frame, prompts)
        self.prompts_changed()

    def prompts_changed(self) -> None:
        """The prompts are saved with the labels; the last propagation (or erase) is no longer the
        last change, so undo no longer takes it back, and the user is told."""
        self.store.save_prompts(layers_to_record(self.points_layer, self.shapes_layer))
        if self.store.undoable_frames:
            self.store.discard_undo()
            show_info("the last propagation is final now: a prompt was edited after it, so undo no longer takes it back")
        self.labels_layer.refresh()

    def _apply_frame(self, frame: int, prompts=None) -> None:
        """Send the frame's prompts to the tracker (each object whose prompts changed since last
        sent; deleted ones are cleared) and paint the objects they changed onto the frame's
        stored labels (FrameResult.paint_onto: every other object keeps its pixels)."""
        prompts = self.current_prompts() if prompts is None else prompts
        self._remove_unprompted_objects(prompts)
        now, before = prompts.get(frame, {}), self._sent.get(frame, {})
        for obj_id in sorted(set(before) - set(now)):
            if obj_id in self.tracker.object_ids:
                self.tracker.clear_frame(frame, obj_id)  # its labels stay: what it produced stays tracked
        results = [self._send(frame, obj_id, p) for obj_id, p in sorted(now.items()) if before.get(obj_id) != p]
        self._sent[frame] = now
        self._resume = None  # new prompts: a stopped propagation's undo is not extended
        if results:
            labels, image = self.store.read_frame(frame), outline_image(self.tracker, frame)
            for result in results:
                labels = result.paint_onto(labels, image, self._outlined_by_user(frame))
            self.store.write_frame(frame, labels)

    def _outlined_by_user(self, frame: int) -> set[int]:
        """The objects whose labels on a frame are written as the model gives them, not grown to the
        cell's outline (clicked_outlines.py): a mask drawn there, or a click saying "not here"."""
        sent = self._sent.get(frame, {})
        return written_as_given([(obj_id, label == 1) for obj_id, p in sent.items() for label in p.labels],
                                [obj_id for obj_id, p in sent.items() if p.polygons])

    def _send(self, frame: int, obj_id: int, prompts: ObjectPrompts):
        """A mask first (it becomes the frame's output), then clicks and box, which refine it."""
        result = None
        if prompts.polygons:
            result = self.tracker.add_mask(frame, obj_id, prompts.mask(self.layout.frame_hw))
        if prompts.points or prompts.box is not None:
            points = np.asarray(prompts.points) if prompts.points else None
            labels = np.asarray(prompts.labels) if prompts.points else None
            result = self.tracker.add_points(frame, obj_id, points=points, labels=labels, box=prompts.box)
            warn_about_mask(result, obj_id)  # an empty or implausibly large mask: say what to do
        return result

    def _remove_unprompted_objects(self, prompts) -> None:
        """An object whose last prompt was deleted is forgotten, and its labels erased."""
        prompted = {obj_id for objects in prompts.values() for obj_id in objects}
        for obj_id in sorted(set(self.tracker.object_ids) - prompted):
            self.tracker.remove_object(obj_id)
            self.store.erase_label(obj_id)

    # ---- propagation -----------------------------------------------------------------------

    def propagate(self, direction: str = "forward", start: int | None = None) -> "Propagation":
        """Apply the prompts, then track over the tracker's plan (VideoTracker.plan: each object
        from its own prompts, or every object from `start`), painting each frame's tracked objects
        onto the store. Returns the Propagation: its `plan` says which frames it covers;
        iterating it tracks them and yields each frame once written. Stopping between frames
        keeps what is written, and propagating the same way again goes on from there."""
        self.sync_prompts()
        if not self.tracker.object_ids:
            raise ValueError(
                f"there is nothing to track yet: click a cell in the layer {self.points_layer.name!r} (or draw a "
                f"box or polygon in {self.shapes_layer.name!r}), then propagate"
            )
        continuing = start is None and self._resume == direction
        plan = self.tracker.plan(direction, start)
        return Propagation(plan, self._run(plan, continuing))

    def _run(self, plan: PropagationPlan, continuing: bool) -> Iterator[int]:
        if not plan.runs:
            return
        self._resume = None
        if not continuing:
            self.store.begin_undoable()  # a continued run adds to the undo of the run it continues
        self.prefetcher.enabled = False  # the propagation computes the features it needs
        written = 0
        depth = ClickedDepth(self.tracker) if self.store.axes[self.store.frame_axis] == "z" else None
        try:
            for result in self.tracker.run(plan):
                labels = result.paint_onto(self.store.read_frame(result.frame), outline_image(self.tracker, result.frame),
                                           self._outlined_by_user(result.frame))
                self.store.write_frame_undoable(result.frame, labels)
                self._resume = plan.direction  # stopped after this frame: the next run extends its undo
                written += 1
                if depth is not None:
                    depth.record(result, labels)
                yield result.frame
            if written == plan.num_frames:  # not stopped by tracker.request_stop
                self._resume = None
                if depth is not None:  # a z-stack: each nucleus tracked ends where it fades (depth_extent.py)
                    for frame, labels in depth.cleared(self.store.read_frame):
                        self.store.write_frame_undoable(frame, labels)
                        yield frame
        finally:
            self.prefetcher.enabled = True

    def undo_propagation(self) -> list[int]:
        """Put back the labels the last propagation overwrote (one level; a prompt edit since then
        makes it final). The tracker forgets what it tracked, keeping every prompt."""
        frames = self.store.undo()
        if not frames:
            raise ValueError("there is no propagation to undo: undo takes back the last propagation, "
                             "before any prompt is edited")
        self.tracker.forget_tracked()
        self._resume = None
        self.labels_layer.refresh()
        return frames


class Propagation:
    """One propagation of a session: `plan` says which frames it covers (plan.describe(), e.g.
    "frames 30 -> 0"); iterating it tracks them, yielding each frame once written; close() stops."""

    def __init__(self, plan: PropagationPlan, frames: Iterator[int]):
        self.plan, self._frames = plan, frames

    def __iter__(self) -> "Propagation":
        return self

    def __next__(self) -> int:
        return next(self._frames)

    def close(self) -> None:
        self._frames.close()
