"""Track every cell of a time-lapse (or every nucleus along a z-stack) with no clicks: the cells of
the first frame come from the model's own detection (cell_detection.py) or from an existing
segmentation (one mask prompt per label), the video tracker follows each as an object of its own,
and on each frame the events of track_events.py happen in this order:

1. every live track is tracked onto the frame (one step of the video tracker);
2. two cells in one mask: a division (unless divisions=False): the track ends, and each daughter
   starts a track with a new id, its parent recorded, prompted with its own mask; or a mask that
   grew over a neighbour: the track is prompted again with its own piece, the other piece starts a
   track of its own;
3. new cells: the cells given for this frame (give_cells) and the detections of the frame that
   no track covers start tracks (cells entering the field, cells missed before), except a new cell
   (detected) near where a track the model lost on this frame was: the track's cell found again,
   the track goes on from its mask under its id, its memory (which lost the cell) dropped; one that
   makes one convex cell with a track's mask: the rest of that track's cell, prompted again with
   both; one beside a track that lost about half its area: the track's second daughter (unless
   divisions=False), the track ends and its mask and the new cell start tracks as its daughters.
   Then a second look (second_look=True, single-channel frames, no seeds stack): the classical
   cells of the frame (Otsu + distance watershed, cell_candidates.py) that no track covers are new
   cells the same way (dim or crowded cells the model's detection missed), and so are the cells on
   the frame's edge (edge_cells=True, the same frames): the bright pieces at the edge no track is
   next to (a cell entering or leaving shows a sliver of its rim below the Otsu threshold,
   cell_candidates.edge_cells), of min_area_at_edge pixels or more. A cell found by any of these
   looks (not the user's seeds) starts a track only if it is brighter than the background around
   it by contrast.MIN_START_CONTRAST, twice what keeps a tracked mask (MaskCleanup.drop_dim; off
   with it): haze and noise (a z-stack's out-of-focus ends) are no cells;
4. ends: a track with no pixels of its own (fewer than min_area; min_area_at_edge for a mask on the
   frame's edge, a cell entering or leaving) on end_after frames in a row ends
   and its memory is dropped, so the cost of a frame follows the cells present, not all cells seen.
   A cell back after fewer absent frames goes on under a new track id whose parent is its track
   before the gap (the Cell Tracking Challenge's way: a track's frames have no gap; a parent with one
   daughter is a gap, with two a division). A blank frame (one value: a dropped frame) has no cell and
   no memory, and is not counted as absent: the tracks go on after it as after a gap.
5. back in time (track_new_cells_backward=True): the new cells of step 3 that began on this frame
   (not daughters, nor tracks found again or continued after a gap), on a frame after the run's
   first, that are no piece of a track they touch (backward_cells.own_cells), are tracked back
   from their masks here towards the run's first frame, as long as each is a new cell there too
   (backward_cells.py); each earlier frame they reach is handed out again, revised, after this
   one (CellFrame.again), and their tracks begin there. A run stopped while doing so (or right
   after the frame) does it again first when it goes on: resumed, it gives what it would have
   given unstopped.

Frames of any size: cells are found and tracked on the frames resampled to the cell size the model
prefers, in tiles with a halo (scale.py, tiled_detection.py, TiledVideoTracker), at cell_diameter
(px of the frames; None: estimated, TiledVideoTracker). The events are decided on the label
images at the frames' own size, with CellTrackingParams' sizes scaled to the cells' diameter
(CellTrackingParams.for_cells).

Each tracked object of the video tracker has an object id of its own, and a track id (the label it
has) that changes only across a gap. Ids are never reused. The lineage (cell_lineage.Lineage) grows
as frames finish and always agrees with the label images handed out (Lineage.check)."""
from __future__ import annotations

import math
import threading
from typing import Iterator

import numpy as np
from scipy import ndimage

from ..model import SAM2Model
from .backward_cells import BackwardCells
from .cell_frame import CellFrame
from .cell_lineage import Lineage
from .cell_outlines import outlined
from .cell_seeding import cells_at_edge, check_seeds_fit, checked_seeds, second_look
from .cell_tracking_params import CellTrackingParams
from .contrast import MIN_START_CONTRAST, dim_mask
from .depth_extent import DepthExtent
from .frame_edge import edge_ids
from .frame_result import FrameResult
from .label_seeds import label_ids, masks_from_labels
from .preprocessing import Normalization
from .prompts import check_frame_index
from .tiled_detection import detect_cells_in_tiles
from .tiled_tracker import TiledVideoTracker
from .track_book import TrackBook
from .track_events import (
    Split,
    areas_of,
    grown,
    in_frame,
    lost_centres,
    lost_track_of,
    mother_of,
    present,
    rest_of_cell_of,
    split_of,
    uncovered_cells,
    uncovered_labels,
)


class _Stopped(Exception):
    """request_stop() was called: the frame in progress is dropped."""


class CellTracker:
    """Tracks every cell of frames (T, H, W) (an array or a FrameSource) forward from a first frame.

    seeds: None (the model finds the cells of the first frame), an (H, W) label image of the first
    frame (its ids become the tracks' ids), or a (T, H, W) label stack (e.g. cellpose output: its
    first frame seeds the tracks, every later frame gives the detections new cells come from).
    z_stack=True: the frames are the slices of a z-stack (3-D labels along z: no divisions, and once the
    run is through the stack each nucleus is cleared from the slices beyond its ends, depth_extent.py);
    divisions=False: none in a time-lapse either.
    cell_diameter: a typical cell's width in pixels of the frames; None estimates it (TiledVideoTracker)
    (`cell_diameter`, `cell_diameter_estimated` tell what is used). `params` holds the thresholds
    in use: those given, their sizes scaled to the cells' diameter (CellTrackingParams.for_cells)."""

    def __init__(self, model: SAM2Model, frames, params: CellTrackingParams = CellTrackingParams(), seeds=None,
                 normalization: Normalization | None = None, precision: str = "auto", divisions: bool = True,
                 channels: tuple[int, ...] | None = None, cell_diameter: float | None = None, z_stack: bool = False):
        self.normalization = normalization or Normalization()
        self.video = TiledVideoTracker(model, frames, cell_diameter, self.normalization, channels, precision=precision)
        self.frames = frames
        self.channels = channels
        self.params = params.for_cells(self.video.cell_diameter)  # sizes in the frames' pixels
        self._stop = threading.Event()
        # new cells are tracked back by a tracker of their own: the live tracks' memories stay as they are
        self._back = BackwardCells(TiledVideoTracker(model, frames, self.video.cell_diameter, self.normalization,
                                                     channels, precision=precision, features_of=self.video),
                                   frames, self.params, self._stop)
        self.divisions = divisions and not z_stack  # a nucleus never divides along z
        self._depth = DepthExtent.of(self.video) if z_stack else None
        self.seeds = checked_seeds(seeds, self.video.num_frames, self.video.video_hw)
        check_seeds_fit(self.seeds, self.video.tile_plan, self.cell_diameter)
        self._book = TrackBook(self.params.area_history)  # objects' tracks, ids
        self.lineage: Lineage = self._book.lineage  # live: grows as frames finish
        self._next_frame: int | None = None  # the frame run() goes on at (None before the first run)
        self._first_frame = 0  # the frame the first run began at
        self._previous = np.zeros(self.video.video_hw, np.uint32)  # object ids on the last finished frame
        self._new_cells: list[int] = []  # tracks begun as new cells on the frame in progress (step 3)
        self._given: dict[int, np.ndarray] = {}  # later frame -> (H, W) labels of cells given there (give_cells)
        self._as_given: dict[int, set[int]] = {}  # frame -> tracks whose masks the user gave there (masks, seeds)
        self._unit: tuple[int, np.ndarray] | None = None  # (frame, the frame stretched): _stretched's last

    @property
    def num_frames(self) -> int:
        return self.video.num_frames

    @property
    def cell_diameter(self) -> float:
        return self.video.cell_diameter

    @property
    def cell_diameter_estimated(self) -> bool:
        return self.video.cell_diameter_estimated

    @property
    def next_frame(self) -> int:
        """The frame the next run() begins at when not told otherwise."""
        return 0 if self._next_frame is None else self._next_frame

    def add_cell(self, points=None, labels=None, box=None, mask=None, track_id: int | None = None) -> int:
        """A cell clicked (points (x, y) with labels 1/0, a box XYXY, or a mask (H, W)) on the frame
        the next run() begins at; it is tracked from there like every other cell. Returns its id:
        `track_id` if given (e.g. an object labelled before the run), else a new one. A mask given
        is written as given on that frame (not grown to the cell's outline, cell_outlines.py)."""
        track_id = self._book.new_id() if track_id is None else self._book.given_id(track_id, self.video.object_ids)
        if mask is not None:
            self.video.add_mask(self.next_frame, track_id, mask)
            self._as_given.setdefault(self.next_frame, set()).add(track_id)
        else:
            self.video.add_points(self.next_frame, track_id, points, labels, box)
        return self._book.start(track_id)

    def give_cells(self, frame: int, labels: np.ndarray) -> None:
        """Cells known on a frame after the one the next run() begins at ((H, W) labels, e.g. objects
        labelled in a store before the run, first on that frame), their ids kept: when the run
        reaches the frame, each that no track covers there (the new-cell rule) starts a track with
        its id and is tracked on and back like a new cell; one a track covers is left out."""
        frame = check_frame_index(frame, self.num_frames)
        if frame <= self.next_frame:
            raise ValueError(f"cells given for frame {frame} come before the run's next frame {self.next_frame}: "
                             "add them with add_cell on the frame the run begins at")
        labels = label_ids(labels, "the cells given").astype(np.uint32)  # ids >= 0 checked before the cast
        masks_from_labels(labels, self.video.video_hw)  # of this frame's size, not empty
        for track_id in np.unique(labels[labels != 0]).tolist():
            if any((earlier == track_id).any() for earlier in self._given.values()):
                raise ValueError(f"cell {track_id} was given on another frame already: a cell is given on one frame")
            self._book.given_id(track_id, self.video.object_ids)
        self._given[frame] = labels

    def run(self, start: int | None = None) -> Iterator[CellFrame]:
        """Track forward frame by frame, yielding each finished frame, and after it the earlier
        frames its new cells were tracked back onto, revised (CellFrame.again: write them over);
        along a z-stack, once through it, the slices nuclei were cleared from (depth_extent.py); labels
        grown to the cells' outlines (cell_outlines.py). start=None goes on after the last finished
        frame (frame 0 at first), first tracking back the new cells a stop kept; a first run may start anywhere."""
        for cell_frame in self._frames_from(self._start_frame(start)):
            cell_frame = outlined(cell_frame, self.video, self.params.outline_reach, self._as_given.get(cell_frame.frame, ()))
            if self._depth is not None:
                self._depth.record(cell_frame.frame, cell_frame.labels)
            yield cell_frame
        if self._depth is not None and self.next_frame == self.num_frames and not self._stop.is_set():
            yield from self._depth.revised(self.lineage)

    def _frames_from(self, frame: int) -> Iterator[CellFrame]:
        self._stop.clear()
        yield from self._back.revise(self.lineage)
        while frame < self.num_frames and not self._stop.is_set():
            try:
                finished = self._step(frame)
            except _Stopped:
                return
            self._next_frame = frame = frame + 1
            self._back.finished(finished, self._new_cells, self.lineage, self._first_frame)
            yield finished
            yield from self._back.revise(self.lineage)

    def request_stop(self) -> None:
        """Thread-safe: run() returns after the frame in progress (which is dropped if the model is
        still working on it); the next run() goes on from there."""
        self._stop.set()
        self.video.request_stop()
        self._back.request_stop()

    # ---- one frame ---------------------------------------------------------------------------

    def _step(self, frame: int) -> CellFrame:
        first = self._next_frame is None
        self._new_cells = []
        if self.video.object_ids:
            self._track_onto(frame)
        ended: list[int] = []
        if first and self.seeds is not None:
            self._seed(frame)
        detections = self._detections(frame, first)
        if not first:
            ended += self._split(frame, detections)
        if frame in self._given:
            self._start_given(frame)
        if detections is not None:
            ended += self._add_new_cells(frame, detections)
            missed = self._second_look(frame)
            if missed is not None:
                ended += self._add_new_cells(frame, missed)
            at_edge = self._cells_at_edge(frame)
            if at_edge is not None:
                ended += self._add_new_cells(frame, at_edge)
        objects, blank = self._labels(frame), self.video.inputs.blank(frame)
        ended += self._end_absent(objects, blank)
        if not blank:  # the cells lost on the next frame are looked for where they were last seen
            self._previous = objects
        labels = self._book.as_tracks(objects)
        started = self._book.record(frame, labels)
        return CellFrame(frame, labels, tuple(started), tuple(i for i in ended if i in self.lineage))

    def _track_onto(self, frame: int) -> FrameResult:
        for result in self.video.propagate("forward", start=frame, max_frames=1):
            if self._stop.is_set():
                raise _Stopped
            return result
        raise _Stopped  # the video tracker stopped inside the frame

    def _seed(self, frame: int) -> None:
        """The seeds' labels of the first frame become tracks with their own ids, but for those the
        cells added before (add_cell) cover: those cells come first, as new cells do."""
        first_labels = self.seeds if self.seeds.ndim == 2 else self.seeds[frame]
        if self.seeds.ndim == 3 and not first_labels.any():
            return  # a stack may start with an empty frame; its later frames bring the cells
        added = self._labels(frame)
        for seed_id, seed in masks_from_labels(first_labels, self.video.video_hw).items():
            for mask in uncovered_cells(seed.astype(np.uint8), added, self.params.max_covered, min_area=1):
                track = self._start(frame, self._book.seed_id(seed_id, self.video.object_ids), mask)
                self._as_given.setdefault(frame, set()).add(track)

    def _start_given(self, frame: int) -> None:
        """The cells given for this frame (give_cells) that no track covers start tracks with their ids."""
        given, p = self._given.pop(frame), self.params
        uncovered = uncovered_labels(given, self._labels(frame), p.max_covered, p.min_area)
        for track_id in np.unique(uncovered[uncovered != 0]).tolist():
            self._new_cells.append(self._start(frame, track_id, given == track_id))
            self._as_given.setdefault(frame, set()).add(track_id)

    def _detections(self, frame: int, first: bool) -> np.ndarray | None:
        """(H, W) labels of the cells found on frame, or None on a frame not looked at."""
        if first and self.seeds is not None:
            return None  # the seeds are this frame's cells
        if self.seeds is not None and self.seeds.ndim == 3:
            return self.seeds[frame]
        if not first and (frame - self._first_frame) % self.params.detect_every:
            return None
        if self.video.inputs.blank(frame):
            return None  # not looked at
        return detect_cells_in_tiles(self.video, frame, self.params.detection).labels

    def _second_look(self, frame: int) -> np.ndarray | None:
        """The frame's classical cells, or None (cell_seeding.second_look): on the one channel the model sees."""
        return second_look(self.video.inputs.seen(frame), self.params, self.seeds is not None, self.video.tile_plan)

    def _cells_at_edge(self, frame: int) -> np.ndarray | None:
        """The frame's cells partly outside it that no track is next to, or None (cell_seeding.cells_at_edge)."""
        return cells_at_edge(self.video.inputs.seen(frame), self._labels(frame), self.params, self.seeds is not None,
                             self.video.tile_plan)

    def _split(self, frame: int, detections: np.ndarray | None) -> list[int]:
        """Handles each mask that holds two cells (module docstring, step 2); returns the parents
        that divided."""
        objects, p = self._labels(frame), self.params  # the stretched frame is read only for would-be daughters
        margin = math.ceil(self.cell_diameter)  # detections overlapping a mask lie within a cell of it
        boxes, parents = ndimage.find_objects(objects), []
        for obj_id in self.video.object_ids:
            if obj_id > len(boxes) or boxes[obj_id - 1] is None:
                continue  # no pixels here: nothing to split
            window = grown(boxes[obj_id - 1], margin)  # the cell's neighbourhood: not the whole frame's cost
            mask = objects[window] == obj_id
            area = int(mask.sum())
            split = split_of(mask, None if detections is None else detections[window], self._book.areas.get(obj_id, area),
                             self._book.frames_before(obj_id, frame), p, self._book.growth_reference(obj_id, area),
                             lambda window=window: None if self._stretched(frame) is None else self._stretched(frame)[window])
            if split is None:
                continue
            split = split._replace(first=in_frame(split.first, window, objects.shape),
                                   second=in_frame(split.second, window, objects.shape))
            if split.division and self.divisions:
                parents.append(self._divide(frame, obj_id, split.first, split.second))
            else:
                self._separate(frame, obj_id, split)
        return parents

    def _separate(self, frame: int, obj_id: int, split: Split) -> None:
        """The object keeps the piece it overlapped most on the frame before; the other is a new cell."""
        before = self._previous == obj_id
        own, other = ((split.first, split.second) if (before & split.first).sum() >= (before & split.second).sum()
                      else (split.second, split.first))
        self._prompt_again(frame, obj_id, own)
        self._start(frame, self._book.new_id(), other)

    def _prompt_again(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        """The object is prompted with the (H, W) bool mask on frame, its older prompts cleared."""
        self.video.add_mask(frame, obj_id, mask)
        for old in self.video.conditioning_frames(obj_id):
            if old != frame:  # the newest prompt stands for the object: its memory stays bounded
                self.video.clear_frame(old, obj_id)

    def _divide(self, frame: int, obj_id: int, first: np.ndarray, second: np.ndarray) -> int:
        """The object's track ends; each (H, W) bool daughter mask starts a track, its parent recorded.
        Returns the parent."""
        parent = self._drop(obj_id)
        for daughter in (first, second):
            self._book.parents[self._start(frame, self._book.new_id(), daughter)] = parent
        return parent

    def _add_new_cells(self, frame: int, detections: np.ndarray) -> list[int]:
        """Starts the new cells of the frame (module docstring, step 3); returns the parents that
        divided (a new cell that is a track's second daughter)."""
        p, objects, parents = self.params, self._labels(frame), []
        lost = lost_centres(self._previous, self._present(objects))
        ages = {obj_id: self._book.frames_before(obj_id, frame) for obj_id in self.video.object_ids}
        references = {obj_id: self._book.growth_reference(obj_id, 0) for obj_id in self._book.areas}
        cells = objects != 0  # the tracked cells, left out of a found cell's ring (its own pixels are no track's)
        for mask in uncovered_cells(detections, objects, p.max_covered, p.min_area, p.min_area_at_edge):
            unit = self._stretched(frame)
            if unit is not None and dim_mask(unit, mask, self.video.tile_plan.length_factor, MIN_START_CONTRAST, cells):
                continue  # hardly brighter than the background around it: haze or noise, not a cell
            track = lost_track_of(mask, lost, p.found_again_distance)
            if track is not None:
                self._found_again(frame, track, mask)
                del lost[track]
            elif self.seeds is None and (track := rest_of_cell_of(mask, objects, ages, p)) is not None:
                self._prompt_again(frame, track, (objects == track) | mask)  # the rest of its cell: both
            if track is not None:  # a live track's cell
                objects[mask] = track
                continue
            mother = mother_of(mask, objects, self._book.areas, ages, p, references, unit) if self.divisions else None
            if mother is None:
                self._new_cells.append(self._start(frame, self._book.new_id(), mask))
                continue
            sister = objects == mother
            parents.append(self._divide(frame, mother, sister, mask))
            objects[sister] = 0  # the mother is gone: no second new cell is its daughter
        return parents

    def _stretched(self, frame: int) -> np.ndarray | None:
        """(H, W) the frame in [0, 1] as the model sees it, to judge found cells by their contrast (contrast.py)
        and daughters by their brightness (track_events.alike), or None where they are not judged: the user's
        own segmentation gives them (a seeds stack), the tracker keeps dim masks (drop_dim off), or the frame is blank."""
        if self.seeds is not None or not self.video.cleanup.drop_dim or self.video.inputs.blank(frame):
            return None
        if self._unit is None or self._unit[0] != frame:  # once a frame, for its three looks
            self._unit = (frame, self.video.inputs.unit_rgb(frame).max(-1))
        return self._unit[1]

    def _found_again(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        """The object goes on from the (H, W) bool mask of its cell found again; its memory, which lost it, goes."""
        self.video.remove_object(obj_id)
        self.video.add_mask(frame, obj_id, mask)

    def _labels(self, frame: int) -> np.ndarray:
        """(H, W) uint32 object ids: each pixel to the live object with the highest positive logit there."""
        if not self.video.object_ids:
            return np.zeros(self.video.video_hw, np.uint32)
        return self.video.frame_result(frame).label_image(np.uint32)

    def _present(self, objects: np.ndarray, areas: dict[int, int] | None = None) -> dict[int, bool]:
        """Each live object -> whether it is present on the frame of (H, W) ids `objects`
        (track_events.present)."""
        areas = areas_of(objects, self.video.object_ids) if areas is None else areas
        return present(areas, edge_ids(objects), self.params)

    def _end_absent(self, objects: np.ndarray, blank: bool) -> list[int]:
        """Clears the pixels of objects absent on this frame (in place), ends the tracks of those
        absent end_after frames in a row (a blank frame shows nothing, so it does not count) and
        moves those back after a gap onto a new track; returns the tracks ended."""
        ended, book = [], self._book
        areas = areas_of(objects, self.video.object_ids)
        for obj_id, seen in self._present(objects, areas).items():
            if seen:
                ended.append(book.seen(obj_id, areas[obj_id]))
                continue
            objects[objects == obj_id] = 0
            if book.missed(obj_id, blank) >= self.params.end_after:
                ended.append(self._drop(obj_id))
        return [i for i in ended if i is not None]

    # ---- bookkeeping -------------------------------------------------------------------------

    def _start(self, frame: int, track_id: int, mask: np.ndarray) -> int:
        """A new object prompted with mask on frame, its track id for object id."""
        self.video.add_mask(frame, track_id, mask)
        return self._book.start(track_id, int(mask.sum()))

    def _drop(self, obj_id: int) -> int:
        """The object's track ends and its memory goes (a frame's cost follows the live cells only);
        returns the track."""
        self.video.remove_object(obj_id)
        return self._book.drop(obj_id)

    def reserve_ids(self, ids) -> None:
        """New tracks get ids above every one of `ids` (labels already in the store the tracks are
        written onto, which must keep their ids); add_cell may still give them."""
        self._book.reserve(ids)

    def _start_frame(self, start: int | None) -> int:
        if start is None:
            return self.next_frame
        start = check_frame_index(start, self.num_frames)
        if self._next_frame is not None and start != self._next_frame:
            raise ValueError(f"this tracker has finished frames up to {self._next_frame - 1}; it can only go on at "
                             f"frame {self._next_frame} (start=None), not at {start}: make a new CellTracker "
                             "to track again from another frame")
        prompted = {f for i in self.video.object_ids for f in self.video.conditioning_frames(i)}
        if self._next_frame is None and prompted - {start}:
            raise ValueError(f"cells were added on frame {sorted(prompted)[0]} but the run would begin at {start}; "
                             "add cells on the frame tracking begins at")
        if self._next_frame is None:
            self._first_frame = start
        return start
