"""The peer pipelines of the tracking benchmark (classical segmentation + laptrack / trackpy) give
label stacks and lineages with Cell Tracking Challenge semantics, which the scores accept."""
import numpy as np
import pytest

from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.evaluation.tracking_metrics import tracking_scores
from napari_sam2.simulation import SimulationConfig, simulate_timelapse
from napari_sam2.testing.peer_trackers import laptrack_cells, trackpy_cells


def disks(centres_per_frame, size=64, radius=6):
    """(T, size, size) uint16 frames of bright disks on a noisy background."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    frames = []
    for centres in centres_per_frame:
        signal = sum(((yy - y) ** 2 + (xx - x) ** 2 <= radius ** 2).astype(float) for y, x in centres)
        frames.append(100 + 800 * signal + rng.normal(0, 10, (size, size)))
    return np.clip(frames, 0, 65535).astype(np.uint16)


def test_laptrack_records_a_division_as_a_parent_and_two_new_tracks():
    # one disk for 5 frames, then two disks 10 px either side of it (the daughters), and a bystander
    frames = disks([[(32, 32), (10, 10)]] * 5 + [[(32, 22), (32, 42), (10, 10)]] * 5)
    labels, lineage = laptrack_cells(frames)
    assert lineage.check(labels) == []
    parent = int(labels[4, 32, 32])
    daughters = sorted({int(labels[5, 32, 22]), int(labels[5, 32, 42])})
    assert lineage.divisions() == {parent: daughters}
    assert lineage.tracks[parent].end == 4 and all(lineage.tracks[d].start == 5 for d in daughters)
    assert len({int(labels[t, 10, 10]) for t in range(10)}) == 1  # the bystander keeps one id

    _, pals = trackpy_cells(frames)
    assert pals.divisions() == {}  # trackpy links without divisions


@pytest.mark.parametrize("tracker", [laptrack_cells, trackpy_cells])
def test_peers_track_a_simulated_time_lapse(tracker):
    sim = simulate_timelapse(SimulationConfig(num_frames=12, num_cells=(4, 6), enter_rate=0.0), seed=3)
    labels, lineage = tracker(sim.frames)
    assert labels.shape == sim.labels.shape and lineage.check(labels) == []
    scores = tracking_scores(labels, lineage, sim.labels, Lineage.from_labels(sim.labels, sim.lineage))
    assert scores.det > 0.6 and scores.tra > 0.6  # measured 0.8-0.9 on such sequences


def test_peers_on_frames_without_cells():
    frames = np.full((3, 32, 32), 100, np.uint16)
    for tracker in (laptrack_cells, trackpy_cells):
        labels, lineage = tracker(frames)
        assert not labels.any() and len(lineage) == 0
