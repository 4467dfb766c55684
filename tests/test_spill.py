"""evaluation/spill.py: the wrong and missed pixels of tracked masks, classed by what lies there,
on simulated touching nuclei with spills made by hand (so the right counts are known)."""
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from napari_sam2.evaluation.spill import SPILL_KINDS, spill_pixels
from napari_sam2.simulation import SimulationConfig, ground_truth_masks, simulate_timelapse


def touching_pair(labels: np.ndarray) -> tuple[int, int]:
    """Two labels of a (H, W) label image that touch (4-connected)."""
    for obj_id in (int(i) for i in np.unique(labels) if i > 0):
        ring = ndimage.binary_dilation(labels == obj_id) & (labels != obj_id) & (labels > 0)
        if ring.any():
            return obj_id, int(np.unique(labels[ring])[0])
    raise AssertionError("no touching cells")


@pytest.fixture(scope="module")
def crowded():
    config = replace(SimulationConfig(), num_frames=3, num_cells=(9, 9), cluster_fraction=1.0)
    sim = simulate_timelapse(config, seed=5)
    ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0]
    return sim, ids, ground_truth_masks(sim, ids)


def test_a_mask_over_its_touching_neighbour_counts_as_the_neighbours_territory(crowded):
    sim, ids, truths = crowded
    a, b = touching_pair(sim.labels[0])
    # on frame 1 a's mask takes b's pixels within 3 px of a, and b's mask gives them up
    taken = np.zeros_like(truths[a])
    taken[1] = ndimage.binary_dilation(truths[a][1], iterations=3) & truths[b][1]
    assert taken.sum() > 0
    pred = {i: truths[i].copy() for i in ids}
    pred[a] |= taken
    pred[b] &= ~taken
    counts = spill_pixels(pred, truths, sim.labels > 0)
    assert counts["on a neighbour"].tolist() == [0, int(taken.sum()), 0]
    assert counts["missed, a neighbour holds it"].tolist() == [0, int(taken.sum()), 0]
    for kind in set(SPILL_KINDS) - {"on a neighbour", "missed, a neighbour holds it"}:
        assert counts[kind].sum() == 0, kind
    assert counts["cell area"].tolist() == [int(sum(truths[i][t].sum() for i in ids)) for t in range(3)]


def test_a_mask_bleeding_into_background_and_an_untracked_cell_and_a_missed_edge(crowded):
    sim, ids, truths = crowded
    tracked = ids[:-1]  # the last cell is no object: a mask over it is on an untracked cell
    untracked = sim.labels == ids[-1]
    a = tracked[0]
    grown = np.stack([ndimage.binary_dilation(f, iterations=2) for f in truths[a]])
    far = np.zeros_like(grown)
    far[2, :2, :2] = sim.labels[2, :2, :2] == 0  # a speck in a corner, away from every cell
    pred = {i: truths[i].copy() for i in tracked}
    pred[a] = (grown & ~np.any([truths[i] for i in tracked if i != a], axis=0)) | far | untracked
    pred[tracked[1]] &= ~np.stack([ndimage.binary_erosion(f) for f in truths[tracked[1]]]) | ~truths[tracked[1]]
    counts = spill_pixels(pred, {i: truths[i] for i in tracked}, sim.labels > 0)
    near = grown & ~truths[a] & (sim.labels == 0)
    assert counts["background near"].sum() == near.sum() > 0
    assert counts["background far"].sum() == (far & ~near).sum() > 0
    assert counts["on an untracked cell"].sum() == untracked.sum() > 0
    eroded = np.stack([ndimage.binary_erosion(f) for f in truths[tracked[1]]])
    assert counts["missed, free"].sum() == eroded.sum() > 0
    assert counts["on a neighbour"].sum() == 0


def test_predictions_of_other_objects_than_the_truths_are_refused(crowded):
    sim, ids, truths = crowded
    with pytest.raises(ValueError, match="not the true objects"):
        spill_pixels({ids[0]: truths[ids[0]]}, truths, sim.labels > 0)
