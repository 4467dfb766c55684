"""Tracking every cell onto a store that holds objects already (storage/cells_onto_store.py): those
on the first frame are cells of the run with their ids, labels on later frames keep their pixels,
the run's new tracks get new ids, the lineage agrees with the store; on a simulated time-lapse with
the embedded model."""
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from napari_sam2.engine import load_model
from napari_sam2.engine.cell_tracker import CellTracker
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.cells_onto_store import CellsOntoStore

QUIET = SimulationConfig(height=96, width=96, num_frames=5, division_probability=0.0, enter_rate=0.0)


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def paint_stroke(store, cells: np.ndarray, label: int) -> np.ndarray:
    """A 3 x 3 square of `label` on frame 0, as far from every cell of `cells` (H, W) as can be."""
    depth = ndimage.distance_transform_edt(cells == 0)
    row, col = np.unravel_index(np.argmax(depth), depth.shape)
    stroke = np.zeros(cells.shape, bool)
    stroke[row - 1 : row + 2, col - 1 : col + 2] = True
    labels = store.read_frame(0)
    labels[stroke] = label
    store.write_frame(0, labels)
    return stroke


def test_objects_in_the_store_are_kept_and_the_model_adds_the_others(model, tmp_path):
    sim = simulate_timelapse(QUIET, EVALUATION_SEEDS + 615)
    cells = np.unique(sim.labels[0])[1:]
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    clicked, painted = int(cells[0]), int(cells[1])
    for t in range(len(sim.frames)):  # a cell clicked and propagated as id 9; another painted on frame 2 as 40
        store.write_frame(t, np.where(sim.labels[t] == clicked, 9, 0) + np.where(
            (sim.labels[t] == painted) & (t == 2), 40, 0))
    stroke = paint_stroke(store, sim.labels[0], 30)  # a stroke smaller than a cell, in the background
    before = np.stack([store.read_frame(t) for t in range(store.num_frames)])
    tracker = CellTracker(model, sim.frames)
    onto = CellsOntoStore(store, tracker)
    store.begin_undoable()
    for cell_frame in tracker.run():
        lineage = onto.write(cell_frame)
    after = np.stack([store.read_frame(t) for t in range(store.num_frames)])

    assert onto.given == (9,)  # not the stroke
    first = after[0] == 9
    assert (first & (before[0] == 9)).sum() / (first | (before[0] == 9)).sum() >= 0.9
    assert (after[2][before[2] == 40] == 40).all()  # the painted cell keeps every pixel
    assert (after[0][stroke] == 30).all()  # so does the stroke: no cell, not tracked, kept
    assert lineage.check(after) == [] and store.load_lineage().tracks == lineage.tracks
    assert (lineage.tracks[9].start, lineage.tracks[9].end) == (0, 4) and lineage.tracks[40].start == 2
    new = set(lineage.tracks) - {9, 30, 40}
    assert len(new) >= len(cells) - 2 and min(new) > 40  # the other cells, under ids the store did not have
    assert store.undo() == list(range(5))
    np.testing.assert_array_equal(np.stack([store.read_frame(t) for t in range(5)]), before)


def test_an_empty_store_gets_the_tracker_s_own_labels(model, tmp_path):
    sim = simulate_timelapse(replace(QUIET, num_frames=3), EVALUATION_SEEDS + 616)
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    tracker = CellTracker(model, sim.frames)
    onto = CellsOntoStore(store, tracker)
    store.begin_undoable()
    finished = [(f.labels, onto.write(f)) for f in tracker.run()]
    for t, (labels, _) in enumerate(finished):
        np.testing.assert_array_equal(store.read_frame(t), labels)
    assert finished[-1][1].tracks == tracker.lineage.tracks and onto.given == ()


def test_an_object_of_the_store_larger_than_a_tile_stops_the_run_before_anything_is_written(model, tmp_path):
    sim = simulate_timelapse(SimulationConfig(height=512, width=512, num_frames=2, num_cells=(30, 30),
                                              division_probability=0.0, enter_rate=0.0), EVALUATION_SEEDS + 617)
    store = LabelsStore.create(tmp_path / "cells.zarr", sim.labels.shape)
    for t in range(2):
        store.write_frame(t, np.where(sim.labels[t] > 0, 5, 0))  # cells painted as one object of 512 px
    store.write_frame(0, np.where(sim.labels[0] == sim.labels[0][sim.labels[0] > 0][0], 6, store.read_frame(0)))
    before = np.stack([store.read_frame(t) for t in range(2)])
    tracker = CellTracker(model, sim.frames, cell_diameter=8.0)
    store.begin_undoable()  # as the plugin begins a run
    stored = sorted(p.name for p in (tmp_path / "cells.zarr").rglob("*"))
    with pytest.raises(ValueError, match=r"^stored object 5 \(\d+ x \d+ px\) on frame 0 is larger than one tile "
                                         r"holds \(72 x 72 px .*--cell-diameter\) of \d+ px or more"):
        CellsOntoStore(store, tracker)
    assert tracker.video.object_ids == ()  # not half seeded
    np.testing.assert_array_equal(np.stack([store.read_frame(t) for t in range(2)]), before)
    assert sorted(p.name for p in (tmp_path / "cells.zarr").rglob("*")) == stored and store.load_lineage() is None
