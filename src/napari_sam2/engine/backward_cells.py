"""New cells tracked back: a cell first found on frame t after the run's first frame (a cell
entering the field, or one detection missed before) is tracked from its mask on t back towards
the run's first frame, the new cells of a frame together, by a video tracker that holds only them
(the live tracker's memories stay as they are). On each earlier frame a cell is kept while its
mask there would be a new cell by the rule new cells are found by (track_events.uncovered_cells:
at most max_covered of it on other tracks' pixels, min_area pixels of its own, min_area_at_edge on
the frame's edge: a cell entering shows a sliver first); on the first frame
where it is not (absent, or another track's cell) it is tracked no further back, so its track has
no gap. Its pixels go onto the frame's labels handed out before by the one writing rule
(frame_result.paint_winners), only where no track is: a revised frame changes only where it had
no cell. A new cell touching a track (within touch_distance) is tracked back only when the two
read as two cells: together they fill at most max_lobes_solidity of their convex hull (pinched
where they meet); a new cell that makes one convex shape with the track is most often a piece of
that track's cell (single simulated nuclei fill more than 0.9 of their hull), whose earlier
frames would be pieces too. Measured against tracking back only new cells apart from every
track (benchmarks/bench_cell_tracking.py, embedded model): 20 held-out sequences TRA 0.9029 ->
0.9037, DET 0.9120 -> 0.9127, SEG 0.7691 -> 0.7697, cells missed 512 -> 505, extra 413 -> 429;
10 others (from seed 1073743824) TRA 0.8950 -> 0.8963, DET 0.9067 -> 0.9079, SEG 0.7529 ->
0.7544; the real crop 340 -> 341 of 403 points; divisions unchanged. Tracking back every touching
new cell found the same cells with more extra ones (429 -> 443, 307 -> 341).

The tracker hands each finished frame to BackwardCells (finished), which keeps its labels (to
revise them later) and plans the job of tracking its new cells back; revise() does the job, after
the frame is handed out and before the next one is tracked. A job cut short (a stop, or its
consumer gone) is done again from its beginning by the next revise(), when the run goes on: the
frames it revised are first taken as they were before it, and those the job does not revise again
are handed out again as they were. So a run stopped and resumed gives the labels and lineage of
a run never stopped, and never keeps pixels of a cell on frames its track does not reach."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .cell_frame import CellFrame
from .cell_lineage import Lineage, Track
from .cell_tracking_params import CellTrackingParams
from .frame_result import paint_winners
from .label_history import LabelHistory
from .preprocessing import is_blank
from .tiled_tracker import TiledFrameResult, TiledVideoTracker
from .track_events import solidity, touching_labels, uncovered_labels


def track_back(video: TiledVideoTracker, labels: np.ndarray, frame: int, cells: tuple[int, ...],
               handed_out: Callable[[int], np.ndarray], params: CellTrackingParams,
               go_on: Callable[[int], bool]) -> Iterator[tuple[int, np.ndarray, tuple[int, ...]]]:
    """Tracks the cells `cells` (ids of the (H, W) track labels `labels` of `frame`) back with `video`
    (holding no object); yields (earlier frame, its labels handed_out(earlier) with the cells
    painted on, the cells on it), frame - 1 first, until no cell is left or go_on(earlier frame)
    is False (the run's first frame is passed, a blank frame, a stop; the frames yielded stand).
    `video` holds nothing afterwards."""
    for track_id in cells:
        video.add_mask(frame, track_id, labels == track_id)
    try:
        for earlier in range(frame - 1, -1, -1):
            result = _tracked_onto(video, earlier) if go_on(earlier) else None
            if result is None:
                return
            before = handed_out(earlier)
            kept = uncovered_labels(result.label_image(np.uint32), before, params.max_covered, params.min_area,
                                    params.min_area_at_edge)
            for gone in set(video.object_ids) - set(np.unique(kept).tolist()):
                video.remove_object(gone)  # absent, or another track's cell: no further back
            if not video.object_ids:
                return
            yield earlier, paint_winners(before, kept, video.object_ids), video.object_ids
    finally:
        video.reset()  # its tiles' features go too: memory for the live tracker's frames only


@dataclass
class _Job:
    """The new cells of one finished frame, to be tracked back."""

    frame: int
    labels: np.ndarray  # (H, W) track labels of `frame`
    cells: tuple[int, ...]  # the new cells' ids
    first_frame: int  # the run's first frame: none further back
    tracks: dict[int, Track]  # the cells' tracks before the job (put back when it is done again)
    revised: dict[int, np.ndarray] = field(default_factory=dict)  # earlier frame -> (H, W) labels before the job


class BackwardCells:
    """Step 5 of cell_tracker.py: the new cells of each finished frame tracked back with `video`
    (a tracker of their own, holding no object between jobs) over the labels handed out before."""

    def __init__(self, video: TiledVideoTracker, frames, params: CellTrackingParams, stop: threading.Event):
        self.video, self.frames, self.params = video, frames, params
        self._stop = stop  # the cell tracker's: a stop cuts the job, which waits to be done again
        self._handed_out = LabelHistory(video.video_hw)  # every frame's labels, to revise them
        self._job: _Job | None = None

    def finished(self, finished: CellFrame, new_cells: list[int], lineage: Lineage, first_frame: int) -> None:
        """A frame the tracker finished (after the run's `first_frame`), with the tracks begun as new
        cells on it: its labels are kept and those of its new cells that are cells of their own
        (own_cells) are to be tracked back by the next revise()."""
        if not self.params.track_new_cells_backward:
            return
        self._handed_out.put(finished.frame, finished.labels)
        cells = tuple(i for i in new_cells if i in finished.started)
        if finished.frame > first_frame:
            cells = own_cells(finished.labels, cells, self.params)
            if cells:
                self._job = _Job(finished.frame, finished.labels, cells, first_frame,
                                 {i: lineage.tracks[i] for i in cells})

    def revise(self, lineage: Lineage) -> Iterator[CellFrame]:
        """Does the job waiting, if any: yields the earlier frames its cells were tracked back onto,
        revised (CellFrame.again), their tracks extended in `lineage`. A job cut short waits to be
        done again (module docstring)."""
        job = self._job
        if job is None:
            return
        for earlier, labels in job.revised.items():
            self._handed_out.put(earlier, labels)  # as before the job: its cells are new cells there
        lineage.tracks.update(job.tracks)
        now = set()  # the frames revised this time
        for earlier, labels, painted in track_back(self.video, job.labels, job.frame, job.cells, self._handed_out.get,
                                                   self.params, self._may_go_onto(job)):
            job.revised.setdefault(earlier, self._handed_out.get(earlier))
            self._handed_out.put(earlier, labels)
            now.add(earlier)
            for track_id in painted:
                lineage.extend(track_id, earlier)
            yield CellFrame(earlier, labels, painted, (), again=True)
        if self._stop.is_set():
            return  # cut short: done again by the next revise()
        for earlier in sorted(set(job.revised) - now):  # revised when the job was cut, not now: as before
            yield CellFrame(earlier, job.revised[earlier], (), (), again=True)
        self._job = None

    def request_stop(self) -> None:
        """Thread-safe: the tracker's model call under way returns early (the stop itself is the
        cell tracker's event, shared)."""
        self.video.request_stop()

    def _may_go_onto(self, job: _Job) -> Callable[[int], bool]:
        """Whether the job's cells may be tracked back onto an earlier frame: one of the run, not
        blank, no stop asked for."""
        return lambda frame: frame >= job.first_frame and not self._stop.is_set() and not is_blank(self.frames[frame])


def own_cells(labels: np.ndarray, cells: tuple[int, ...], params: CellTrackingParams) -> tuple[int, ...]:
    """The new cells (ids of the (H, W) track labels) that are no piece of a track's cell: with
    each other label within touch_distance px (none: a cell apart) they fill at most
    max_lobes_solidity of their convex hull (module docstring)."""
    def own(cell: int) -> bool:
        mask = labels == cell
        near = set(touching_labels(mask, labels, params.touch_distance)[0].tolist()) - {0, cell}
        return all(solidity(mask | (labels == other)) <= params.max_lobes_solidity for other in near)

    return tuple(i for i in cells if own(i))


def _tracked_onto(video: TiledVideoTracker, frame: int) -> TiledFrameResult | None:
    """The video's objects tracked one frame back onto `frame`, or None if stopped."""
    for result in video.propagate("backward", start=frame, max_frames=1):
        return result
    return None
