"""Tracking at the cell size the model prefers, whatever the frame size: each frame is resampled
so that its cells have the preferred diameter (scale.py) and cut into overlapping tiles of the
model's input (tiling.py); every tile is a VideoTracker of its own, created when an object is
first prompted in it, so features are computed only for tiles that hold objects, once per frame.

An object is tracked in one tile at a time, its home: the one whose centre is nearest the
object's mask. When the mask moves nearer another tile's centre (by more than half a halo, so
that a cell on a border is not passed to and fro), that tile takes the object over with the
pixels it wins on that frame (the label rule over every tile's objects) as a mask prompt, under
the same id: the mask is copied whole pixel for whole pixel, tiles sharing one scaled grid. A
frame is decoded in every tile before any tile encodes its memories, which are separated from
the outputs of all tiles: touching cells held by two tiles do not remember each other's pixels.
Results come back at the frame's resolution and are stitched by the one label rule
(label_rule.winning_labels, through LabelledFrame). Memory and time grow with the number of
tiles holding objects, at most linearly with the frame's area.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator, Mapping

import numpy as np
import torch

from ..model import ImageEmbedding, SAM2Model
from .device import resolve_precision
from .feature_cache import FeatureCache
from .frame_result import FrameResult, LabelledFrame
from .mask_check import MaskWarning
from .measured_frame import estimated_diameter
from .model_inputs import PreprocessedFrames
from .postprocess import MaskCleanup
from .preprocessing import Normalization
from .prompts import check_frame_index, check_obj_id, check_prompt
from .propagation_plan import PropagationPlan, Run, direction_signs, make_run
from .scale import check_cell_diameter, plan_for_cells
from .tile_frames import ScaledFrames, TileFrames
from .tile_handover import Tile, TileOutputs, hand_overs, highest_elsewhere, tile_outputs, to_tile_side
from .tiling import LocalLogits, prompt_extent, tile_logits_to_original
from .video_tracker import DecodedFrame, VideoTracker

# Prefetching (the frame on screen, for the next click) computes every tile of a frame of at most
# this many tiles, where a click will land in one; on larger frames only the tiles holding objects:
# hundreds of tiles at each move of the slider would hold the CPU for nothing.
PREFETCH_EVERY_TILE_UP_TO = 4


@dataclass(frozen=True)
class TiledPlan(PropagationPlan):
    """A PropagationPlan with, for each run, the tile each object is taken up in."""

    homes: tuple[Mapping[int, Tile], ...] = ()  # per run: obj_id -> its tile at the run's start


class TileFeatures:
    """The tiles' feature caches seen as one: a frame is in it when every tile that `prefetch`
    computes holds it."""

    def __init__(self, tracker: "TiledVideoTracker"):
        self._tracker = tracker

    def __contains__(self, frame: int) -> bool:
        tiles = self._tracker._tiles
        return all(tile in tiles and frame in tiles[tile].features for tile in self._tracker.prefetched_tiles())

    @property
    def computed(self) -> int:
        """How many times a tile's features were computed (once per tile in use and frame)."""
        return sum(tracker.features.computed for tracker in list(self._tracker._tiles.values()))


@dataclass(frozen=True)
class TiledFrameResult(LabelledFrame):
    """A frame's result stitched from its tiles: each object's logits over the original pixels
    of the tile that holds it (`tiles`)."""

    frame: int
    object_ids: tuple[int, ...]
    local: dict[int, LocalLogits]  # the objects with an output here
    video_hw: tuple[int, int]
    updated_ids: tuple[int, ...] = ()
    tiles: dict[int, Tile] = field(default_factory=dict)  # obj_id -> the tile its output comes from
    warnings: dict[int, MaskWarning] = field(default_factory=dict)

    def local_logits(self) -> dict[int, LocalLogits]:
        return self.local


class TiledVideoTracker:
    """VideoTracker's prompts and propagation on frames of any size (module docstring).

    cell_diameter: a typical cell's width in pixels of the frames; None estimates it on frame 0, or
    on the clearest of 16 frames sampled evenly when frame 0 shows only noise or haze
    (`measured_frame.estimated_diameter`: a z-stack's out-of-focus first slices; `cell_diameter`,
    `cell_diameter_estimated` tell what is used). Prompts are in the frame's pixels: points (x, y), boxes XYXY, masks (H, W); one
    object's prompts on a frame must fit in one tile (a few cells across).

    features_of: another TiledVideoTracker over the same frames, model and settings whose tiles'
    image features this one reads where they are cached, without filling their caches (a second
    tracker passing over frames the first has just read, e.g. new cells tracked back, computes
    those again neither for itself nor, having evicted them, for the first)."""

    def __init__(self, model: SAM2Model, frames, cell_diameter: float | None = None,
                 normalization: Normalization = Normalization(), channels: tuple[int, ...] | None = None,
                 fill_hole_area: int = 8, precision: str = "auto", separate_memories: bool = True,
                 cleanup: MaskCleanup = MaskCleanup(), features_of: TiledVideoTracker | None = None):
        given = None if cell_diameter is None else check_cell_diameter(cell_diameter)  # before reading a frame
        self.model = model.eval()
        self.precision = resolve_precision(precision, model)  # once, for every tile's tracker
        self.inputs = PreprocessedFrames(frames, model.cfg.image_size, normalization, channels)
        self.num_frames, self.video_hw = len(self.inputs), self.inputs.hw
        self.cell_diameter = (check_cell_diameter(given, self.video_hw) if given is not None
                              else estimated_diameter(self.inputs))
        self.cell_diameter_estimated = given is None
        self.tile_plan = plan_for_cells(self.video_hw, self.cell_diameter, model.cfg)
        self._scaled = ScaledFrames(self.inputs, self.tile_plan)
        # one frame of features per tile: a propagation reads each tile's frame once, in turn
        self._tracker_options = dict(normalization=normalization, fill_hole_area=fill_hole_area, feature_cache_size=1,
                                     precision=self.precision, separate_memories=separate_memories, cleanup=cleanup,
                                     cell_diameter=self.cell_diameter * self.tile_plan.length_factor)
        self.cleanup = cleanup
        self._features_of = features_of
        self._tiles: dict[Tile, VideoTracker] = {}
        self._tiles_lock = threading.Lock()
        self.features = TileFeatures(self)
        self._home: dict[int, Tile] = {}  # obj_id -> the tile that tracks it from here on
        self._where: dict[int, dict[int, Tile]] = {}  # obj_id -> frame -> the tile its output there is from
        self._handovers: dict[int, set[int]] = {}  # obj_id -> frames it was handed to another tile on
        self._stop = threading.Event()
        # while a frame is tracked: frame -> every object's output there, (tile, (S, S) logits), as the
        # tiles' memories see them (the tracked frame's as decoded); they do not change meanwhile
        self._tracking: dict[int, TileOutputs] | None = None

    # ---- what there is -----------------------------------------------------------------------

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(self._home)

    @property
    def tiles_in_use(self) -> list[Tile]:
        """The tiles whose features are computed: those holding objects, those a detector asked
        for (tile_features), and on a frame of a few tiles those prefetched (of the plan's `tiles`)."""
        return list(self._tiles)

    def conditioning_frames(self, obj_id: int) -> list[int]:
        """The frames the user prompted the object on (hand-over masks are not the user's)."""
        obj_id = self._known(obj_id)
        frames = set()
        for tracker in self._tiles.values():
            if obj_id in tracker.object_ids:
                frames.update(f for f in tracker.conditioning_frames(obj_id) if f not in self._handovers.get(obj_id, ()))
        return sorted(frames)

    def home_tile(self, obj_id: int) -> Tile:
        return self._home[self._known(obj_id)]

    def frame_result(self, frame: int) -> TiledFrameResult:
        """Every object's latest output on a frame, as it stands now (prompted, tracked or handed
        over), each from the tile that holds it there (VideoTracker.frame_result)."""
        frame = check_frame_index(frame, self.num_frames)
        by_tile: dict[Tile, list[int]] = {}
        for obj_id, home in self._home.items():
            by_tile.setdefault(self._where[obj_id].get(frame, home), []).append(obj_id)
        results = {tile: self._tiles[tile].frame_result(frame) for tile in by_tile}
        return self._stitch(frame, tile_outputs(results, by_tile), updated=())

    def tile_features(self, frame: int, tile: Tile) -> ImageEmbedding:
        """A tile's memory-free image features on a frame (SAM2Model.encode_image's), through the
        tile's tracker's feature cache: computed once per tile and frame, whether a detector or the
        tracker asks first."""
        return self.model.memory_free(self._tracker(tile).features(check_frame_index(frame, self.num_frames)))

    # ---- prompts -----------------------------------------------------------------------------

    def add_points(self, frame: int, obj_id: int, points=None, labels=None, box=None,
                   clear: bool = True) -> TiledFrameResult:
        """Clicks (and/or a box) for one object on one frame, in the frame's pixels, decoded in
        the tile that holds the object there (or, for a new object or a prompt outside that
        tile, the tile whose centre is nearest the prompt)."""
        frame, obj_id = check_frame_index(frame, self.num_frames), check_obj_id(obj_id)
        prompt = check_prompt(self.video_hw, points, labels, box)
        tile = self._tile_for(obj_id, frame, prompt_extent(prompt))
        tile_points, tile_labels, tile_box = self.tile_plan.prompt_in_tile(prompt, *tile)
        result = self._tracker(tile).add_points(frame, obj_id, tile_points, tile_labels, tile_box, clear)
        return self._prompted(frame, obj_id, tile, result)

    def add_box(self, frame: int, obj_id: int, box) -> TiledFrameResult:
        return self.add_points(frame, obj_id, box=box)

    def add_mask(self, frame: int, obj_id: int, mask) -> TiledFrameResult:
        """A mask prompt (H, W) for one object on one frame, taken as that frame's output."""
        frame, obj_id = check_frame_index(frame, self.num_frames), check_obj_id(obj_id)
        mask = check_prompt(self.video_hw, mask=mask).mask
        rows, cols = np.nonzero(mask)
        if not len(rows):
            raise ValueError(f"the mask for object {obj_id} on frame {frame} is empty: paint the cell, or click it")
        tile = self._tile_for(obj_id, frame, np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]]))
        result = self._tracker(tile).add_mask(frame, obj_id, self.tile_plan.mask_in_tile(mask, *tile))
        return self._prompted(frame, obj_id, tile, result)

    def clear_frame(self, frame: int, obj_id: int | None = None) -> TiledFrameResult:
        """Remove the prompts on a frame (of one object, or of all), in every tile (VideoTracker.clear_frame)."""
        frame = check_frame_index(frame, self.num_frames)
        ids = self.object_ids if obj_id is None else (self._known(obj_id),)
        for tile, tracker in self._tiles.items():
            for known in set(ids) & set(tracker.object_ids):
                tracker.clear_frame(frame, known)
                if tile != self._home[known] and not tracker.conditioning_frames(known):
                    self._leave(known, tile)
        return self._stitch(frame, {})

    def _leave(self, obj_id: int, tile: Tile) -> None:
        """A tile the object was handed over from, and where it has no prompt left, lets it go: a
        tracker cannot plan an object without a prompt (its outputs there go with it)."""
        self._tiles[tile].remove_object(obj_id)
        where = self._where[obj_id]
        for frame in [f for f, held_by in where.items() if held_by == tile]:
            del where[frame]

    def forget_tracked(self) -> None:
        """Forget every propagated output; prompts stay (VideoTracker.forget_tracked)."""
        for tracker in self._tiles.values():
            tracker.forget_tracked()

    def prefetch(self, frame: int) -> None:
        """Compute a frame's features now in the tiles a click will likely need (`prefetched_tiles`)."""
        for tile in self.prefetched_tiles():
            self._tracker(tile).prefetch(frame)

    def prefetched_tiles(self) -> list[Tile]:
        """Every tile of a frame of a few tiles, else the tiles holding objects (PREFETCH_EVERY_TILE_UP_TO)."""
        if len(self.tile_plan.tiles) <= PREFETCH_EVERY_TILE_UP_TO:
            return self.tile_plan.tiles
        return list(self._tiles)

    def remove_object(self, obj_id: int) -> None:
        obj_id = self._known(obj_id)
        for tracker in self._tiles.values():
            if obj_id in tracker.object_ids:
                tracker.remove_object(obj_id)
        del self._home[obj_id], self._where[obj_id]
        self._handovers.pop(obj_id, None)

    def reset(self) -> None:
        """Forget every object and prompt."""
        self._tiles.clear()
        self._home.clear()
        self._where.clear()
        self._handovers.clear()

    def _tile_for(self, obj_id: int, frame: int, xy: np.ndarray) -> Tile:
        """The tile that held the object on this frame if the prompt fits in it, else the nearest."""
        held = self._where.get(obj_id, {}).get(frame, self._home.get(obj_id))
        if held is not None:
            try:
                self.tile_plan.in_tile(xy, *held)
                return held
            except ValueError:
                pass  # the prompt is elsewhere: the object moves to the tile nearest it
        return self.tile_plan.tile_for(xy)

    def _prompted(self, frame: int, obj_id: int, tile: Tile, result: FrameResult) -> TiledFrameResult:
        self._home[obj_id] = tile
        self._where.setdefault(obj_id, {})[frame] = tile
        self._handovers.get(obj_id, set()).discard(frame)  # the user prompted it here
        # the frame as the tile holds it: the objects whose output there is this tile's compete for pixels
        shown = [i for i in result.object_ids if i == obj_id or self._where.get(i, {}).get(frame) == tile]
        warnings = {i: w.in_pixels_of(1 / self.tile_plan.length_factor) for i, w in result.warnings.items()}
        return self._stitch(frame, tile_outputs({tile: result}, {tile: shown}), warnings, (obj_id,))

    def _tracker(self, tile: Tile) -> VideoTracker:
        with self._tiles_lock:  # a prefetch thread and a click may create the same tile's tracker at once
            if tile not in self._tiles:
                tracker = VideoTracker(self.model, TileFrames(self._scaled, tile), **self._tracker_options)
                tracker.logits_elsewhere = partial(self._logits_elsewhere, tile)
                if self._features_of is not None:
                    tracker.features.compute = partial(_cached_or_computed, self._features_of._tracker(tile).features,
                                                       tracker.features.compute)
                self._tiles[tile] = tracker
            return self._tiles[tile]

    def _known(self, obj_id) -> int:
        obj_id = check_obj_id(obj_id)
        if obj_id not in self._home:
            raise KeyError(f"unknown object id {obj_id!r}; known ids: {list(self._home)}")
        return obj_id

    # ---- propagation -------------------------------------------------------------------------

    def plan(self, direction: str = "forward", start: int | None = None, max_frames: int | None = None) -> TiledPlan:
        """Which frames `propagate` tracks (VideoTracker.plan's rules, per object, in the tiles
        that hold it: each object is taken up in the tile whose own plan begins it first)."""
        signs = direction_signs(direction)
        if not self._home:
            raise RuntimeError("there is nothing to track: add points, a box or a mask for at least one object first")
        joins: dict[int, dict[int, tuple[int, Tile]]] = {sign: {} for sign in signs}
        for tile, tracker in self._tiles.items():
            if not tracker.object_ids:
                continue
            for run in tracker.plan(direction, start, max_frames).runs:
                for obj_id, first in run.joins.items():
                    earlier = joins[run.direction].get(obj_id)
                    # a tie (a `start` given joins every tile's copy there) goes to the object's home: the
                    # tile it was handed over from holds an old memory of it
                    if (earlier is None or (first - earlier[0]) * run.direction < 0
                            or (first == earlier[0] and tile == self._home[obj_id])):
                        joins[run.direction][obj_id] = (first, tile)
        runs, homes = [], []
        for sign in signs:
            run = make_run(sign, {i: first for i, (first, _) in joins[sign].items()}, self.num_frames, max_frames)
            if run.frames:
                runs.append(run)
                homes.append({i: tile for i, (_, tile) in joins[sign].items()})
        return TiledPlan(direction, tuple(runs), tuple(homes))

    def propagate(self, direction: str = "forward", start: int | None = None,
                  max_frames: int | None = None) -> Iterator[TiledFrameResult]:
        """Track every object frame by frame over `plan(direction, start, max_frames)`, handing
        objects from tile to tile, yielding each frame's stitched result."""
        return self.run(self.plan(direction, start, max_frames))

    def run(self, plan: TiledPlan) -> Iterator[TiledFrameResult]:
        """Track over a plan made by `plan`, yielding each frame's stitched result."""
        self._stop.clear()
        for tracker in list(self._tiles.values()):
            tracker.clear_stop()
        for run, homes in zip(plan.runs, plan.homes):
            self._home.update(homes)
            for frame in run.frames:
                if self._stop.is_set():
                    return
                result = self._track_frame(run, frame)
                if result is None:
                    return
                yield result

    def request_stop(self) -> None:
        """End the running propagation (from another thread) at its next model call."""
        self._stop.set()
        for tracker in list(self._tiles.values()):
            tracker.request_stop()

    def _track_frame(self, run: Run, frame: int) -> TiledFrameResult | None:
        """Every object of the run on `frame`, each in its home tile: first decoded in every tile,
        then every tile's memories encoded, separated from the outputs of all tiles (two touching
        cells held by two tiles would otherwise each remember, then take, the other's pixels);
        then hand-overs. None if stopped."""
        by_tile: dict[Tile, list[int]] = {}
        for obj_id in run.objects_on(frame):
            by_tile.setdefault(self._home[obj_id], []).append(obj_id)
        self._tracking = {}
        try:
            decoded: dict[Tile, DecodedFrame] = {}
            for tile, ids in by_tile.items():
                step = self._tiles[tile].decode_step(frame, run.direction, ids)
                if step is None or self._stop.is_set():
                    return None
                decoded[tile] = step
            for tile, ids in by_tile.items():
                for obj_id in ids:
                    self._where[obj_id][frame] = tile
            self._tracking[frame] = self._decoded_outputs(frame, decoded)
            results = {}
            for tile, step in decoded.items():
                result = self._tiles[tile].remember_step(step)
                if result is None or self._stop.is_set():
                    return None
                results[tile] = result
            outputs = tile_outputs(results, by_tile)
            self._hand_over(frame, run.direction, outputs, self._tracking[frame])
        finally:
            self._tracking = None
        return self._stitch(frame, outputs)

    def _outputs_on(self, frame: int, skip: frozenset[int] = frozenset()) -> TileOutputs:
        """obj_id -> (its tile, its (S, S) logits there) for every object (but `skip`) with an
        output on the frame (while a frame is tracked, `_tracking`'s)."""
        if self._tracking is not None and frame in self._tracking:
            return self._tracking[frame]
        by_tile: dict[Tile, list[int]] = {}
        for obj_id, where in self._where.items():
            if frame in where and obj_id not in skip:
                by_tile.setdefault(where[frame], []).append(obj_id)
        outputs = tile_outputs({tile: self._tiles[tile].frame_result(frame) for tile in by_tile}, by_tile)
        if self._tracking is not None and not skip:
            self._tracking[frame] = outputs
        return outputs

    def _decoded_outputs(self, frame: int, decoded: dict[Tile, DecodedFrame]) -> TileOutputs:
        """Every object's output on the frame being tracked, the tracked ones as decoded."""
        self._tracking.pop(frame, None)  # the outputs there before (a prompted frame's memories read them)
        outputs = self._outputs_on(frame, skip=frozenset(i for step in decoded.values() for i in step.decoded_ids))
        for tile, step in decoded.items():
            for k, obj_id in enumerate(step.decoded_ids):
                outputs[obj_id] = (tile, to_tile_side(step.output.low_res_logits[k:k + 1].cpu().float(), self.tile_plan.tile))
        return outputs

    def _logits_elsewhere(self, tile: Tile, frame: int, excluded: list[int]) -> torch.Tensor | None:
        """On a frame, the highest logits over `tile`'s pixels of the objects other tiles hold there
        (tile_handover.highest_elsewhere): the tile's tracker separates its memories from these
        (VideoTracker.logits_elsewhere)."""
        return highest_elsewhere(tile, self._outputs_on(frame), excluded, self.tile_plan.tile)

    def _hand_over(self, frame: int, direction: int, outputs: TileOutputs,
                   on_frame: TileOutputs) -> None:
        """Objects whose mask came nearer another tile's centre go on there, with the pixels they
        win on the frame (among `on_frame`: every object's output there) as the mask prompt."""
        for obj_id, tile, target, mask in hand_overs(self.tile_plan, outputs, on_frame):
            self._tracker(target).hand_over(frame, obj_id, mask, direction)
            self._tiles[tile].handed_off(frame, obj_id, direction)
            self._home[obj_id] = target
            self._handovers.setdefault(obj_id, set()).add(frame)
            self._where[obj_id][frame] = target  # a correction here goes to the tile it goes on in

    def _stitch(self, frame: int, outputs: TileOutputs,
                warnings: dict[int, MaskWarning] | None = None, updated: tuple[int, ...] | None = None) -> TiledFrameResult:
        """The frame's result: the objects' tile logits brought to the frame's pixels; `updated`
        (default: every object in `outputs`) are those the result is about."""
        local = {obj_id: tile_logits_to_original(logits[None], self.tile_plan, *tile)
                 for obj_id, (tile, logits) in outputs.items()}
        tiles = {obj_id: tile for obj_id, (tile, _) in outputs.items()}
        updated = tuple(outputs) if updated is None else updated
        return TiledFrameResult(frame, self.object_ids, local, self.video_hw, updated, tiles, dict(warnings or {}))


def _cached_or_computed(cache: FeatureCache, compute: Callable[[int], ImageEmbedding], frame: int) -> ImageEmbedding:
    """A frame's features from `cache` if it holds them (nothing evicted), else computed."""
    return cache(frame) if frame in cache else compute(frame)

