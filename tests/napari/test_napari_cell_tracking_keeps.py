""""Track all cells" keeps what the store holds: cells clicked and propagated before the run keep
their ids and masks, a cell painted by hand on a later frame keeps its pixels, the model adds the
other cells, undo puts the clicked state back; a cell the run missed, clicked and propagated
afterwards, becomes a track without touching the others; a clicked cell comes before the seed under it."""
import numpy as np
import pytest
from scipy import ndimage
from test_napari_cell_lineage import TIMEOUT_MS, small_sequence_viewer, stack_of

from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.engine.loading import embedded_model_path, load_model
from napari_sam2.evaluation.detection import detection_counts

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")


@pytest.fixture(scope="module")
def embedded_model():
    return load_model(None, device="cpu")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def click_cell(widget, qtbot, truth_mask: np.ndarray, frame: int = 0) -> int:
    """A new object clicked at the deepest point of a true cell's mask; returns its id."""
    depth = ndimage.distance_transform_edt(truth_mask)
    row, col = np.unravel_index(np.argmax(depth), depth.shape)
    obj_id = widget.new_object()
    widget.session.points_layer.add([frame, row, col])
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    return obj_id


def paint(store, frame: int, mask: np.ndarray, label: int) -> None:
    """`label` painted by hand onto the store's `frame` over `mask`."""
    labels = store.read_frame(frame)
    labels[mask] = label
    store.write_frame(frame, labels)


def propagate_forward(widget, qtbot) -> None:
    widget.forward_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)


def start(widget, tmp_path):
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    assert widget.cells is not None
    return widget.session.store


def test_cells_clicked_and_propagated_keep_their_ids_and_masks(make_napari_viewer, qtbot, embedded_model, tmp_path,
                                                                notifications):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 6, 613)
    widget = TrackingWidget(viewer, model=embedded_model)
    store = start(widget, tmp_path)
    cells = np.unique(sim.labels[0])[1:]
    clicked = [click_cell(widget, qtbot, sim.labels[0] == cell) for cell in cells[-2:]]  # not ids 1, 2 of the truth
    propagate_forward(widget, qtbot)
    painted = sim.labels[3] == cells[0]  # a cell not clicked, painted by hand on frame 3 only
    paint(store, 3, painted, 50)
    before = stack_of(store)
    assert all((before == obj_id).any(axis=(1, 2)).all() for obj_id in clicked)  # on every frame

    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    after, lineage = stack_of(store), store.load_lineage()
    for obj_id in clicked:
        assert iou(before[0] == obj_id, after[0] == obj_id) >= 0.9, obj_id
        assert lineage.tracks[obj_id].start == 0
    assert lineage.check(after) == []
    assert (after[3][painted] == 50).all() and (lineage.tracks[50].start, lineage.tracks[50].end) == (3, 3)
    found = detection_counts(after[0].astype(np.int32), sim.labels[0])
    assert len(np.unique(after[0])) - 1 > len(clicked) and found.recall >= 0.6, found  # the others found too
    assert min(lineage.tracks) > 0 and set(lineage.tracks) - set(clicked)  # new ids for the cells the run found
    assert all(i > max(clicked) for i in set(lineage.tracks) - set(clicked) if lineage.tracks[i].start == 0)
    assert notifications["error"] == []

    widget.cell_panel.undo_button.click()  # the run taken back: the clicked state again
    np.testing.assert_array_equal(stack_of(store), before)
    assert store.load_lineage() is None


def test_a_missed_cell_clicked_and_propagated_after_the_run_keeps_the_other_tracks(
        make_napari_viewer, qtbot, embedded_model, tmp_path, notifications):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 6, 614)
    widget = TrackingWidget(viewer, model=embedded_model)
    store = start(widget, tmp_path)
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    lineage = store.load_lineage()
    missed = next(i for i, t in lineage.tracks.items() if t.start == 0 and t.end == store.num_frames - 1)
    truth_cell = np.bincount(sim.labels[0][stack_of(store)[0] == missed]).argmax()
    widget.cell_panel.ids_edit.setText(str(missed))
    widget.cell_panel.delete_button.click()  # as if the run had missed it
    tracked = stack_of(store)

    new_id = click_cell(widget, qtbot, sim.labels[0] == truth_cell)
    propagate_forward(widget, qtbot)
    after, lineage = stack_of(store), store.load_lineage()
    assert lineage.check(after) == []
    assert (lineage.tracks[new_id].start, lineage.tracks[new_id].end) == (0, store.num_frames - 1)
    others = (tracked != 0) & (after != new_id)  # every other track keeps its pixels where the new cell is not
    np.testing.assert_array_equal(after[others], tracked[others])
    assert (after[tracked != 0] == new_id).mean() < 0.02  # the new cell takes hardly any of theirs
    assert set(lineage.tracks) == set(np.unique(tracked)[1:]) | {new_id}

    widget.cell_panel.track_button.click()  # tracking all cells again keeps every cell of frame 0 as it is
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    again, lineage = stack_of(store), store.load_lineage()
    assert lineage.check(again) == []
    assert all(iou(after[0] == i, again[0] == i) >= 0.9 for i in np.unique(after[0])[1:])
    assert notifications["error"] == []


def test_a_clicked_cell_comes_before_the_seed_under_it(make_napari_viewer, qtbot, embedded_model, tmp_path,
                                                       notifications):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 3, 616)
    viewer.add_labels(sim.labels[0], name="cellpose")
    widget = TrackingWidget(viewer, model=embedded_model)
    store = start(widget, tmp_path)
    cells = np.unique(sim.labels[0])[1:]
    clicked = click_cell(widget, qtbot, sim.labels[0] == cells[-1])
    propagate_forward(widget, qtbot)
    before = store.read_frame(0) == clicked
    widget.cell_panel.seeds_combo.setCurrentText("cellpose")
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    after, lineage = stack_of(store), store.load_lineage()
    assert iou(before, after[0] == clicked) >= 0.9 and lineage.check(after) == []
    # the seeds the click covers little of (the tracker's max_covered, 0.3) are one track each; the
    # one under the click is none
    seeded = [c for c in cells if (before & (sim.labels[0] == c)).sum() <= 0.3 * (sim.labels[0] == c).sum()]
    tracks = {int(np.bincount(after[0][sim.labels[0] == c]).argmax()) for c in seeded}
    assert len(tracks) == len(seeded) and not tracks & {0, clicked}
    # any other track of frame 0 is the rest of a seed the click's mask spilled over (more than
    # max_covered of it), found by the run's own detection: never on the clicked cell or its pixels
    for other in set(np.unique(after[0])[1:].tolist()) - tracks - {clicked}:
        under = np.unique(sim.labels[0][after[0] == other]).tolist()
        assert cells[-1] not in under and 0 < (before & np.isin(sim.labels[0], under)).sum(), (other, under)
    assert notifications["error"] == []


def test_a_run_refused_for_an_object_larger_than_a_tile_leaves_the_last_propagation_undoable(
        make_napari_viewer, qtbot, embedded_model, tmp_path, notifications):
    """Undo has one level: a run that cannot start (a painted region larger than a tile at the
    chosen cell diameter) must not take the place of the propagation before it."""
    sim, viewer = small_sequence_viewer(make_napari_viewer, 4, 619)
    widget = TrackingWidget(viewer, model=embedded_model)
    widget.diameter_spin.setValue(8.0)  # cells of 8 px: tiles hold 72 px of these 96 px frames
    store = start(widget, tmp_path)
    before = stack_of(store)
    click_cell(widget, qtbot, sim.labels[0] == np.unique(sim.labels[0])[1])
    propagate_forward(widget, qtbot)
    propagated = stack_of(store)
    assert (propagated[1:] != before[1:]).any()
    paint(store, 0, np.pad(np.ones((80, 80), bool), 8), 9)  # a region of 80 px on the first frame: no tile holds it
    painted = stack_of(store)
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert any("larger than one tile" in message for message in notifications["error"]), notifications
    np.testing.assert_array_equal(stack_of(store), painted)  # nothing written
    widget.cell_panel.undo_button.click()  # takes back the propagation, as before the refused run
    np.testing.assert_array_equal(stack_of(store)[1:], before[1:])  # the frames as they were before it


def test_a_cell_first_labelled_on_a_later_frame_is_tracked_from_there_on_and_back(
        make_napari_viewer, qtbot, embedded_model, tmp_path, notifications):
    """A cell the seeds miss on every frame, painted (or clicked) in the store on frame 3 only: the
    run tracks it under its label from frame 3 on and back to frame 0 (new cells tracked back)."""
    sim, viewer = small_sequence_viewer(make_napari_viewer, 6, 601)
    first = sim.labels[0]
    apart = {c: ndimage.distance_transform_edt(first != c)[(first != 0) & (first != c)].min() for c in np.unique(first)[1:]}
    cell = max(apart, key=apart.get)  # the cell farthest from the others
    viewer.add_labels(np.where(sim.labels == cell, 0, sim.labels), name="cellpose")  # misses it everywhere
    widget = TrackingWidget(viewer, model=embedded_model)
    store = start(widget, tmp_path)
    paint(store, 3, sim.labels[3] == cell, 50)
    widget.cell_panel.seeds_combo.setCurrentText("cellpose")
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    after, lineage = stack_of(store), store.load_lineage()
    assert lineage.check(after) == []
    assert (lineage.tracks[50].start, lineage.tracks[50].end) == (0, 5)
    assert all(iou(after[t] == 50, sim.labels[t] == cell) >= 0.7 for t in range(6))
    shown = widget.cells.tracks.layer.data  # (track id, t, y, x) rows
    assert set(shown[shown[:, 0] == 50, 1].astype(int)) == set(range(6))
    assert notifications["error"] == []
