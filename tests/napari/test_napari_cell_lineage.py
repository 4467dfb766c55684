"""The widget's "All cells" section on a store holding the simulator's ground truth and lineage:
the Tracks layer beside the Labels layer, corrections from the buttons, a missed cell added with a
click, exports. The embedded model (small and fast) answers the click."""
import geff
import numpy as np
import pytest

from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.engine import track_all_cells
from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.engine.loading import embedded_model_path, load_model
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.ctc_folder import read_ctc_folder
from napari_sam2.storage.measurements_csv import read_measurements_csv

TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")


@pytest.fixture(scope="module")
def embedded_model():
    return load_model(None, device="cpu")


def stack_of(store: LabelsStore) -> np.ndarray:
    return np.stack([store.read_frame(t) for t in range(store.num_frames)])


def open_truth(make_napari_viewer, model, sim, tmp_path):
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    for t, labels in enumerate(sim.labels):
        store.write_frame(t, labels)
    store.save_lineage(Lineage.from_labels(sim.labels, sim.lineage))
    viewer = make_napari_viewer()
    viewer.add_image(sim.frames, name="cells")
    widget = TrackingWidget(viewer, model=model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    assert widget.cells is not None
    return viewer, widget


def small_sequence_viewer(make_napari_viewer, frames: int, seed_offset: int):
    """A viewer holding a simulated 96 x 96 time-lapse with no division and no entering cell."""
    sim = simulate_timelapse(SimulationConfig(height=96, width=96, num_frames=frames, division_probability=0.0,
                                              enter_rate=0.0), EVALUATION_SEEDS + seed_offset)
    viewer = make_napari_viewer()
    viewer.add_image(sim.frames, name="cells")
    return sim, viewer


def test_tracks_layer_corrections_and_exports(make_napari_viewer, qtbot, embedded_model, dividing_sequence, tmp_path,
                                              notifications):
    sim = dividing_sequence
    truth = Lineage.from_labels(sim.labels, sim.lineage)
    viewer, widget = open_truth(make_napari_viewer, embedded_model, sim, tmp_path)
    store, panel, layers = widget.session.store, widget.cell_panel, viewer.layers
    tracks = widget.cells.tracks.layer
    assert layers.index(tracks) == layers.index(widget.session.labels_layer) + 1
    assert tracks.graph == {d: [p] for d, p in truth.parents().items()}
    assert len(tracks.data) == sum(len(np.unique(f)) - 1 for f in sim.labels)
    parent, daughters = next(iter(truth.divisions().items()))

    panel.ids_edit.setText(str(parent))
    panel.delete_button.click()
    assert not (stack_of(store) == parent).any() and parent not in set(tracks.data[:, 0])
    assert store.load_lineage().check(stack_of(store)) == [] and all(d not in tracks.graph for d in daughters)
    panel.undo_button.click()
    np.testing.assert_array_equal(stack_of(store), sim.labels)
    assert store.load_lineage().tracks == truth.tracks and tracks.graph[daughters[0]] == [parent]

    panel.ids_edit.setText("")  # the label selected in the Labels layer
    widget.session.labels_layer.selected_label = parent
    panel.undo_division_button.click()
    assert store.load_lineage().daughters(parent) == [] and daughters[0] not in tracks.graph
    panel.ids_edit.setText(" ".join(map(str, [parent, *daughters])))
    panel.division_button.click()
    assert store.load_lineage().tracks == truth.tracks and tracks.graph[daughters[0]] == [parent]

    panel.ids_edit.setText(f"{parent} x")
    panel.join_button.click()
    panel.ids_edit.setText(str(parent))
    panel.join_button.click()
    assert notifications["error"] == ["'x' is not a track id: type label values (1, 2, ...) separated by spaces",
                                      f"join takes two ids, earlier then later; got [{parent}]: type them in the "
                                      "track ids field"]
    notifications["error"].clear()

    for kind, name in (("ctc", "01_RES"), ("geff", "cells.geff"), ("csv", "cells.csv")):
        widget.cell_panel.export(kind, tmp_path / name)
    assert read_ctc_folder(tmp_path / "01_RES")[1].tracks == truth.tracks
    graph, _ = geff.read(str(tmp_path / "cells.geff"))
    assert graph.number_of_nodes() == len(tracks.data)
    table = read_measurements_csv(tmp_path / "cells.csv")
    first = table["track_id"] == table["track_id"][0]
    assert table["mean_intensity"][first][0] == pytest.approx(
        sim.frames[table["frame"][first][0]][sim.labels[table["frame"][first][0]] == table["track_id"][0]].mean())
    widget.cell_panel.export("csv", tmp_path / "cells.csv")  # there already: refused, not replaced
    assert "choose a new place" in notifications["error"][-1]


def test_a_missed_cell_added_with_a_click_becomes_a_track(make_napari_viewer, qtbot, embedded_model, dividing_sequence,
                                                         tmp_path, notifications):
    sim = dividing_sequence
    viewer, widget = open_truth(make_napari_viewer, embedded_model, sim, tmp_path)
    store = widget.session.store
    missed = next(i for i, t in store.load_lineage().tracks.items() if t.start == 0 and not store.load_lineage().daughters(i))
    widget.session.labels_layer.selected_label = missed
    tracks = len(store.load_lineage())
    assert f"{tracks} tracks and" in widget.help_label.text() and f"track {missed} is selected" in widget.help_label.text()
    widget.cell_panel.ids_edit.setText(str(missed))
    widget.cell_panel.delete_button.click()  # as if the tracker had missed it
    rows, cols = np.nonzero(sim.labels[0] == missed)
    new_id = widget.new_object()
    assert widget.help_label.text().startswith(f"Editing object {new_id}")  # the next click makes the missed cell
    assert new_id > max(store.load_lineage().tracks)  # never the id of a track
    widget.session.points_layer.add([0, rows.mean(), cols.mean()])
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    lineage = store.load_lineage()
    assert lineage.tracks[new_id].start == 0
    assert lineage.check(stack_of(store)) == []
    assert new_id in set(widget.cells.tracks.layer.data[:, 0])
    assert notifications["error"] == []


def test_track_all_cells_in_the_worker_with_stop_and_resume(make_napari_viewer, qtbot, embedded_model, tmp_path,
                                                            notifications):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 6, 611)
    widget = TrackingWidget(viewer, model=embedded_model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    store, refresh, points = widget.session.store, widget.runner.on_frame, []

    def watch(frame):  # the Tracks layer has this frame's cells once it is written; stop after frame 2
        refresh(frame)
        points.append((frame, int((widget.cells.tracks.layer.data[:, 1] == frame).sum())))
        if frame == 2 and len(points) == 3:
            widget.stop()

    widget.runner.on_frame = watch
    widget.cell_panel.track_button.click()
    assert widget.runner.running
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert [f for f, _ in points] == [0, 1, 2] and not store.read_frame(3).any()
    widget.cell_panel.track_button.click()  # goes on after frame 2
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert [f for f, _ in points] == list(range(6))
    whole, lineage = track_all_cells(embedded_model, sim.frames)  # the same, uninterrupted
    np.testing.assert_array_equal(stack_of(store), whole)
    assert store.load_lineage().tracks == lineage.tracks
    expected = [len(np.unique(whole[f])) - 1 for f, _ in points]
    # The run's last frame can reach the widget after its end (0 cells drawn then): the end of the
    # run draws every frame again, so the layer holds every frame's cells once the run is over.
    drawn = widget.cells.tracks.layer.data
    assert [int((drawn[:, 1] == f).sum()) for f, _ in points] == expected
    assert notifications["error"] == [] and notifications["info"][-1].endswith("divisions so far")
    widget.cell_panel.undo_button.click()  # the run taken back
    assert not stack_of(store).any() and store.load_lineage() is None


def test_seeds_from_a_labels_layer_and_seeds_that_do_not_fit(make_napari_viewer, qtbot, embedded_model, tmp_path,
                                                            notifications):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 4, 612)
    viewer.add_labels(sim.labels[0, :50], name="cropped")
    viewer.add_labels(sim.labels[0], name="cellpose")
    widget = TrackingWidget(viewer, model=embedded_model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    panel = widget.cell_panel
    assert [panel.seeds_combo.itemText(i) for i in range(panel.seeds_combo.count())] == [
        "cells found by the model", "cropped", "cellpose"]  # not the session's own labels
    panel.seeds_combo.setCurrentText("cropped")
    panel.track_button.click()
    assert not widget.runner.running and "the seeds have shape (50, 96)" in notifications["error"][-1]
    panel.seeds_combo.setCurrentText("cellpose")
    panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    first = widget.session.store.read_frame(0)
    assert set(np.unique(first)[1:]) == set(np.unique(sim.labels[0])[1:])  # the seeds' ids are the tracks'


def test_a_store_with_a_lineage_opens_with_its_tracks(make_napari_viewer, dividing_sequence, tmp_path):
    sim = dividing_sequence
    store = LabelsStore.create(tmp_path / "cells.masklets.zarr", sim.labels.shape)
    for t, labels in enumerate(sim.labels):
        store.write_frame(t, labels)
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    store.save_lineage(lineage)
    viewer = make_napari_viewer()
    labels_layer, tracks_layer = viewer.open(str(tmp_path / "cells.masklets.zarr"), plugin="napari-sam2")
    assert (labels_layer.name, tracks_layer.name) == ("cells tracked labels", "cells tracked tracks")
    assert tracks_layer.graph == {d: [p] for d, p in lineage.parents().items()}
    LabelsStore.create(tmp_path / "clicked.masklets.zarr", sim.labels.shape)  # no lineage: labels only
    assert len(viewer.open(str(tmp_path / "clicked.masklets.zarr"), plugin="napari-sam2")) == 1


def test_track_all_cells_uses_the_widgets_cell_diameter(make_napari_viewer, qtbot, embedded_model, tmp_path):
    sim, viewer = small_sequence_viewer(make_napari_viewer, 2, 612)
    widget = TrackingWidget(viewer, model=embedded_model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.diameter_spin.setValue(13.0)  # px: the cells of this image, as the user gives them
    widget.start_button.click()
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    tracker = widget.cells.tracker
    assert tracker.cell_diameter == 13.0 and tracker.video.tile_plan == widget.session.tracker.tile_plan
    whole, _ = track_all_cells(embedded_model, sim.frames, cell_diameter=13.0)
    np.testing.assert_array_equal(stack_of(widget.session.store), whole)
