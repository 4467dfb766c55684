"""New cells tracked back in time (engine/backward_cells.py): a cell found after the first frame
(missed by the seeds of the first frames, or entering the field) gets its earlier frames, the
revised frames are streamed again and reach the store and the CTC folder, which agree with the
lineage; on simulated time-lapses with the embedded model."""
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from cell_sequences import QUIET
from napari_sam2.engine import load_model
from napari_sam2.engine.backward_cells import own_cells
from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.engine.cell_tracker import CellTracker, CellTrackingParams
from napari_sam2.engine.track_events import uncovered_labels
from napari_sam2.file_tracking import write_cell_tracking
from napari_sam2.simulation import EVALUATION_SEEDS, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.cells_onto_store import CellsOntoStore
from napari_sam2.storage.ctc_folder import read_ctc_folder
from napari_sam2.storage.tracking_outputs import TrackingOutputs

HIDDEN = 3  # frames the seeds miss the cell on


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def missed():
    """A quiet time-lapse and a label stack of its cells (as from cellpose) that misses one cell,
    well apart from the others, on the first HIDDEN frames; (sim, seeds, that cell)."""
    sim = simulate_timelapse(QUIET, EVALUATION_SEEDS + 601)
    cell = max(np.unique(sim.labels[0])[1:], key=lambda c: _distance_to_others(sim.labels[0], c))
    seeds = sim.labels.copy()
    seeds[:HIDDEN][seeds[:HIDDEN] == cell] = 0
    return sim, seeds, int(cell)


def _distance_to_others(labels: np.ndarray, cell: int) -> float:
    from scipy import ndimage

    return float(ndimage.distance_transform_edt(labels != cell)[(labels != 0) & (labels != cell)].min())


def _track_of(labels: np.ndarray, truth: np.ndarray) -> int:
    ids, counts = np.unique(labels[truth], return_counts=True)
    return int(ids[np.argmax(counts)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _streamed(tracker: CellTracker) -> tuple[np.ndarray, list[tuple[int, bool]]]:
    """The labels (T, H, W) as a consumer writing every CellFrame over gets them, and (frame, again)."""
    labels = np.zeros((tracker.num_frames, *tracker.video.video_hw), np.uint32)
    order = []
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
        order.append((finished.frame, finished.again))
    return labels, order


def test_the_rule_keeps_a_mask_with_few_pixels_on_other_tracks_and_its_own_pixels_only():
    hw = (40, 40)
    masks = np.zeros(hw, np.uint32)
    masks[5:15, 5:15], masks[25:35, 25:35] = 7, 8
    tracked = np.zeros(hw, np.uint32)
    tracked[5:8, 5:15] = 3  # 30% of cell 7 lies on track 3: still a new cell there
    tracked[25:33, 25:35] = 4  # 80% of cell 8: it is track 4's cell there
    kept = uncovered_labels(masks, tracked, max_covered=0.3, min_area=30)
    assert set(np.unique(kept).tolist()) == {0, 7}
    assert (kept == 7).sum() == 70 and not (kept.astype(bool) & (tracked != 0)).any()
    assert not uncovered_labels(masks, tracked, max_covered=0.3, min_area=71).any()  # too few own pixels


def test_new_cells_that_are_no_piece_of_a_track_they_touch_are_tracked_back():
    yy, xx = np.mgrid[:70, :100]
    disk = lambda row, col, radius: (yy - row) ** 2 + (xx - col) ** 2 <= radius**2  # noqa: E731
    labels = np.zeros((70, 100), np.uint32)
    labels[disk(20, 20, 9) & (xx < 24)], labels[disk(20, 20, 9) & (xx >= 24)] = 3, 7  # 7: the rest of 3's nucleus
    labels[disk(20, 60, 8)], labels[disk(20, 77, 8)] = 5, 9  # 9: a cell of its own, 1 px from track 5
    labels[disk(52, 40, 8)] = 8  # apart
    params = CellTrackingParams()
    assert own_cells(labels, (7, 8, 9), params) == (8, 9)
    assert own_cells(labels, (7, 8, 9), replace(params, max_lobes_solidity=0.75)) == (8,)  # 5 and 9 fill 0.78


def test_a_cell_the_seeds_miss_at_first_is_tracked_back_to_the_first_frame(model, missed):
    sim, seeds, cell = missed
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    labels, order = _streamed(tracker)
    track = _track_of(labels[HIDDEN], sim.labels[HIDDEN] == cell)
    assert tracker.lineage.tracks[track].start == 0, tracker.lineage.tracks[track]
    assert tracker.lineage.check(labels) == []
    for t in range(HIDDEN):
        assert _iou(labels[t] == track, sim.labels[t] == cell) >= 0.7, t
    revised = [frame for frame, again in order if again]
    assert revised == list(range(HIDDEN - 1, -1, -1))  # streamed again after frame HIDDEN, newest first
    assert order.index((HIDDEN, False)) < order.index((HIDDEN - 1, True))
    assert [frame for frame, again in order if not again] == list(range(len(sim.frames)))

    off = CellTracker(model, sim.frames, seeds=seeds, params=CellTrackingParams(track_new_cells_backward=False))
    labels_off, order_off = _streamed(off)
    assert off.lineage.tracks[_track_of(labels_off[HIDDEN], sim.labels[HIDDEN] == cell)].start == HIDDEN
    assert not any(again for _, again in order_off)


@pytest.fixture(scope="module")
def unstopped(model, missed):
    """(labels, lineage) of the run on `missed` never stopped."""
    sim, seeds, _ = missed
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    return _streamed(tracker)[0], tracker.lineage


@pytest.mark.parametrize("stop_at, how", [((HIDDEN, False), "stop"), ((HIDDEN - 1, True), "stop"),
                                          ((HIDDEN, False), "leave")])
def test_a_run_stopped_before_its_new_cells_are_tracked_back_does_it_when_resumed(model, missed, unstopped,
                                                                                 stop_at, how):
    """Stopped (request_stop) or left (the consumer goes away, as the plugin's worker does) when the
    frame the missed cell is first found on is handed out, or half-way through tracking it back:
    the run resumed gives the labels and lineage of the run never stopped."""
    sim, seeds, _ = missed
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    labels = np.zeros_like(unstopped[0])
    run = tracker.run()
    for finished in run:
        labels[finished.frame] = finished.labels
        if (finished.frame, finished.again) == stop_at:
            if how == "leave":
                break
            tracker.request_stop()
    run.close()
    assert not (labels[0] == unstopped[0][0]).all()  # cut: the cell is not on the first frame yet
    resumed = []
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
        resumed.append((finished.frame, finished.again))
    assert resumed[0] == (HIDDEN - 1, True) and (HIDDEN + 1, False) in resumed  # the cell back first, then on
    np.testing.assert_array_equal(labels, unstopped[0])
    assert tracker.lineage.tracks == unstopped[1].tracks and tracker.lineage.check(labels) == []


def test_new_cells_tracked_back_again_less_far_leave_no_pixels_where_their_tracks_do_not_reach(model, missed,
                                                                                             monkeypatch):
    """A cut job done again reaches fewer frames (here: told to stop at frame 2): the frames only the
    cut job revised are handed out again as they were before it, and the lineage follows."""
    sim, seeds, _ = missed
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    labels, first = np.zeros((len(sim.frames), *sim.frames.shape[1:]), np.uint32), {}
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
        first.setdefault(finished.frame, finished.labels)
        if (finished.frame, finished.again) == (1, True):
            tracker.request_stop()
    monkeypatch.setattr(tracker._back, "_may_go_onto", lambda job: lambda frame: frame >= 2)
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
    np.testing.assert_array_equal(labels[:2], np.stack([first[0], first[1]]))
    track = _track_of(labels[HIDDEN], sim.labels[HIDDEN] == missed[2])
    assert tracker.lineage.tracks[track].start == 2 and tracker.lineage.check(labels) == []


@pytest.mark.parametrize("outline_reach", [0, CellTrackingParams().outline_reach])
def test_a_cell_the_seeds_miss_at_first_touching_another_cell_is_tracked_back_onto_free_pixels(model, outline_reach):
    """Onto the pixels no track's mask held; with the labels grown to the cells' outlines (the
    default, cell_outlines.py), around the cell the labels are grown again (within the reach of the
    growth and the window its threshold is set on): a neighbour's label grown over the cell's
    pixels before it was tracked gives them back."""
    sim = simulate_timelapse(QUIET, EVALUATION_SEEDS + 601)
    cell, neighbour = 1, 6  # touching on frame HIDDEN, two nuclei: no piece of the neighbour's track
    seeds = sim.labels.copy()
    seeds[:HIDDEN][seeds[:HIDDEN] == cell] = 0
    tracker = CellTracker(model, sim.frames, seeds=seeds, params=replace(CellTrackingParams(), outline_reach=outline_reach))
    labels, first = np.zeros(sim.labels.shape, np.uint32), {}
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
        first.setdefault(finished.frame, finished.labels)
    track = _track_of(labels[HIDDEN], sim.labels[HIDDEN] == cell)
    assert _track_of(labels[HIDDEN], sim.labels[HIDDEN] == neighbour) not in (0, track)
    assert tracker.lineage.tracks[track].start == 0 and tracker.lineage.check(labels) == []
    reach = tracker.params.outline_reach  # px, at this time-lapse's cell size
    window = math.ceil(tracker.cell_diameter)
    for t in range(HIDDEN):
        assert _iou(labels[t] == track, sim.labels[t] == cell) >= 0.7, t
        changed = labels[t] != first[t]
        if not reach:
            assert (labels[t][changed] == track).all() and not first[t][changed].any()  # only where no track was
        else:
            around = ndimage.distance_transform_edt(labels[t] != track) <= reach + window
            assert changed.any() and around[changed].all()  # elsewhere the labels as handed out before


def test_a_cell_entering_the_field_begins_on_the_first_frame_it_is_visible_on(model):
    config = replace(QUIET, num_frames=16, enter_rate=0.4)
    sim = next(s for s in (simulate_timelapse(config, EVALUATION_SEEDS + 700 + k) for k in range(40)) if _entered(s))
    tracker = CellTracker(model, sim.frames, seeds=sim.labels[0])
    labels, _ = _streamed(tracker)
    assert tracker.lineage.check(labels) == []
    cell = _entered(sim)[0]
    track = _track_of(labels[-1], sim.labels[-1] == cell)
    areas = [(truth == cell).sum() for truth in sim.labels]
    visible = next(t for t, area in enumerate(areas) if area >= tracker.params.min_area)  # a cell's size, absent below
    arrived = next(t for t, area in enumerate(areas) if area)
    assert arrived <= tracker.lineage.tracks[track].start <= visible, (areas, tracker.lineage.tracks[track])


def _entered(sim) -> list[int]:
    """Cells that came in from a border (not daughters) and are well inside at the end."""
    last = sim.labels[-1]
    return [c for c in np.unique(last)[1:] if c not in sim.labels[0] and c not in sim.lineage and (last == c).sum() >= 150]


def test_the_store_and_the_ctc_folder_hold_the_revised_frames_and_agree_with_the_lineage(model, missed, tmp_path):
    sim, seeds, cell = missed
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    outputs = TrackingOutputs(ctc=tmp_path / "01_RES")
    write_cell_tracking(tracker, sim.frames, tmp_path / "cells.zarr", outputs, {"axes": "tyx"}, progress=False)
    store = LabelsStore.open(tmp_path / "cells.zarr", mode="r")
    track = _track_of(store.read_frame(HIDDEN), sim.labels[HIDDEN] == cell)
    assert store.load_lineage().tracks == tracker.lineage.tracks and tracker.lineage.tracks[track].start == 0
    assert tracker.lineage.check(store.array[:]) == []
    labels, lineage = read_ctc_folder(outputs.ctc)
    np.testing.assert_array_equal(labels, store.array[:])
    assert lineage.tracks[track].start == 0 and lineage.check(labels) == []


def test_a_run_onto_a_store_writes_the_revised_frames_over(model, missed, tmp_path):
    sim, seeds, cell = missed
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    onto = CellsOntoStore(store, tracker)
    store.begin_undoable()
    lineage = Lineage()
    for finished in tracker.run():
        lineage = onto.write(finished)
    frames = np.stack([store.read_frame(t) for t in range(len(sim.frames))])
    track = _track_of(frames[HIDDEN], sim.labels[HIDDEN] == cell)
    assert lineage.tracks == tracker.lineage.tracks and lineage.tracks[track].start == 0
    assert lineage.check(frames) == []


def test_labels_on_disk_survive_revised_frames_and_undo_brings_back_the_store_before_the_run(model, missed, tmp_path):
    """A hand-painted label the run does not track keeps its pixels on every frame, revised ones
    included (a revised frame is written over the stored frame by the one writing rule, not as a
    whole frame), and undo restores each frame as it was before the run, not as first written."""
    sim, seeds, cell = missed
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    painted = np.zeros(sim.labels.shape[1:], np.uint32)
    painted[:4, :4] = 90  # a speck in a corner, smaller than a cell: never a track of the run
    for t in range(len(sim.frames)):
        store.write_frame(t, painted)
    before = np.stack([store.read_frame(t) for t in range(len(sim.frames))])
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    onto = CellsOntoStore(store, tracker)
    store.begin_undoable()
    order = []
    for finished in tracker.run():
        onto.write(finished)
        order.append((finished.frame, finished.again))
    assert any(again for _, again in order)
    after = np.stack([store.read_frame(t) for t in range(len(sim.frames))])
    assert (after[:, :4, :4] == 90).all()
    store.undo()
    assert np.array_equal(np.stack([store.read_frame(t) for t in range(len(sim.frames))]), before)


def test_a_cell_first_labelled_in_the_store_on_a_later_frame_is_a_track_from_there_on_and_back(model, missed,
                                                                                                   tmp_path):
    sim, seeds, cell = missed
    seeds = seeds.copy()
    seeds[seeds == cell] = 0  # the seeds never have it: only the store's label on frame HIDDEN does
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    store.write_frame(HIDDEN, np.where(sim.labels[HIDDEN] == cell, 50, 0))  # painted (or clicked) there only
    tracker = CellTracker(model, sim.frames, seeds=seeds)
    onto = CellsOntoStore(store, tracker)
    store.begin_undoable()
    for finished in tracker.run():
        lineage = onto.write(finished)
    frames = np.stack([store.read_frame(t) for t in range(len(sim.frames))])
    assert lineage.check(frames) == [] and onto.given == ()
    assert (lineage.tracks[50].start, lineage.tracks[50].end) == (0, len(sim.frames) - 1)
    for t in range(len(sim.frames)):
        assert _iou(frames[t] == 50, sim.labels[t] == cell) >= 0.7, t


def test_cells_given_for_a_frame_the_run_has_passed_or_twice_are_refused(model, missed):
    sim, _, cell = missed
    tracker = CellTracker(model, sim.frames[:3])
    given = np.where(sim.labels[2] == cell, 50, 0)
    tracker.give_cells(2, given)
    with pytest.raises(ValueError, match="cell 50 was given on another frame already"):
        tracker.give_cells(1, given)
    with pytest.raises(ValueError, match="come before the run's next frame 0"):
        tracker.give_cells(0, given)
