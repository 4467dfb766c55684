"""Cells partly outside the frame, found by their rim (cell_candidates.edge_cells), on held-out
simulated frames where the stage drifts: whole cells are given as tracked, and the rule must find
the cells cut by the frame's edge and nothing else (35 of 56 found here, none wrong)."""
import numpy as np

from napari_sam2.engine.cell_candidates import edge_cells
from napari_sam2.engine.frame_edge import edge_ids
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

DRIFTING = SimulationConfig(num_frames=24, division_probability=0.0, enter_rate=0.1, global_drift=(0.0, 1.0))


def test_cells_cut_by_the_edge_are_found_and_nothing_else():
    found = cut = wrong = 0
    for seed in range(EVALUATION_SEEDS + 900, EVALUATION_SEEDS + 903):
        sim = simulate_timelapse(DRIFTING, seed)
        for image, truth in zip(sim.frames, sim.labels):
            on_edge = edge_ids(truth)
            tracked = np.where(np.isin(truth, list(on_edge)), 0, truth)  # the whole cells are tracked
            pieces = edge_cells(image, tracked, min_contrast=0.2)
            assert not (pieces & (tracked != 0)).any()
            cut += len(on_edge)
            for piece in np.unique(pieces[pieces != 0]):
                mask = pieces == piece
                ids, counts = np.unique(truth[mask], return_counts=True)
                best = ids[np.argmax(counts)]
                covers_half = best in on_edge and counts.max() > 0.5 * (truth == best).sum()
                found += covers_half
                wrong += not covers_half
    assert cut >= 20
    assert found >= 0.5 * cut and wrong <= 0.05 * cut, (found, wrong, cut)


def test_the_rim_of_a_tracked_cell_and_noise_are_no_cells():
    rng = np.random.default_rng(0)
    image = rng.normal(100, 5, (96, 96)).astype(np.float32)
    yy, xx = np.mgrid[:96, :96]
    cell = (yy - 40) ** 2 + xx**2 < 12**2  # a whole-frame-edge cell, centred on the left edge
    image[cell] += 300
    tracked = np.zeros((96, 96), np.int32)
    tracked[((yy - 40) ** 2 + xx**2 < 10**2)] = 1  # its mask a little smaller than the cell: its rim is left
    assert not edge_cells(image, tracked, min_contrast=0.2).any()
    assert not edge_cells(image, np.zeros_like(tracked), min_contrast=0.2).any()  # nothing tracked: no measure
    image[90:, 60:66] += 150  # a cell's rim on the bottom edge, half the tracked cell's contrast
    pieces = edge_cells(image, tracked, min_contrast=0.2)
    assert len(np.unique(pieces[pieces != 0])) == 1 and pieces[90:, 60:66].all() and (pieces != 0).sum() <= 40
