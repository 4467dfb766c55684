"""Cell Tracking Challenge scores (traccuracy) of tracking results against simulated ground truth:
the truth scores 1.0, and each kind of damage lowers the metric that should see it."""
import numpy as np
import pytest

from napari_sam2.engine.cell_lineage import Lineage, split_at_gaps
from napari_sam2.evaluation.tracking_metrics import (
    points_in_one_track,
    segmentation_score,
    tracking_scores,
)
from napari_sam2.simulation import SimulationConfig, simulate_timelapse


@pytest.fixture(scope="module")
def truth():
    """(labels, lineage) of a simulated time-lapse with at least two divisions."""
    config = SimulationConfig(num_frames=24, division_probability=0.03, enter_rate=0.05)
    for seed in range(20):
        sim = simulate_timelapse(config, seed=seed)
        if len(set(sim.lineage.values())) >= 2:
            return sim.labels, Lineage.from_labels(sim.labels, sim.lineage)
    raise AssertionError("no simulated sequence with two divisions in 20 seeds")


def bystander(lineage: Lineage) -> int:
    """The longest track that takes no part in a division."""
    involved = set(lineage.parents()) | set(lineage.parents().values())
    free = [t for t in lineage.tracks.values() if t.track_id not in involved]
    return max(free, key=lambda t: t.end - t.start).track_id


def test_the_truth_scores_perfectly(truth):
    labels, lineage = truth
    scores = tracking_scores(labels, lineage, labels, lineage)
    assert (scores.tra, scores.det, scores.lnk, scores.seg) == (1.0, 1.0, 1.0, 1.0)
    assert not any(scores.errors.values())
    assert scores.divisions.true == len(lineage.divisions()) >= 2
    assert scores.divisions.f1 == scores.divisions.f1_exact == 1.0


def test_a_track_cut_in_two_costs_linking_only(truth):
    labels, lineage = truth
    cut = bystander(lineage)
    track = lineage.tracks[cut]
    middle = (track.start + track.end + 1) // 2
    damaged = labels.copy()
    damaged[middle:][damaged[middle:] == cut] = lineage.next_id()
    scores = tracking_scores(damaged, Lineage.from_labels(damaged, lineage.parents()), labels, lineage)
    assert scores.tra < 1.0 and scores.lnk < 1.0 and scores.errors["fn_edges"] == 1
    assert scores.det == 1.0 and scores.seg == 1.0 and scores.divisions.f1 == 1.0


def test_a_missed_division_costs_division_recall(truth):
    labels, lineage = truth
    parents = lineage.parents()
    del parents[next(iter(parents))]  # one daughter loses its parent: that division has one daughter left
    scores = tracking_scores(labels, Lineage.from_labels(labels, parents), labels, lineage)
    assert scores.divisions.recall == (scores.divisions.true - 1) / scores.divisions.true
    assert scores.divisions.precision == 1.0 and scores.divisions.f1 < 1.0
    assert scores.det == 1.0 and scores.seg == 1.0 and scores.tra < 1.0


def test_a_deleted_cell_costs_detection_and_segmentation(truth):
    labels, lineage = truth
    gone = bystander(lineage)
    damaged = np.where(labels == gone, 0, labels)
    scores = tracking_scores(damaged, Lineage.from_labels(damaged, lineage.parents()), labels, lineage)
    assert scores.det < 1.0 and scores.seg < 1.0 and scores.tra < 1.0
    track = lineage.tracks[gone]
    assert scores.errors["fn_nodes"] == track.end - track.start + 1 and scores.errors["fp_nodes"] == 0
    assert scores.divisions.f1 == 1.0


def test_an_empty_result_scores_nothing(truth):
    labels, lineage = truth
    scores = tracking_scores(np.zeros_like(labels), Lineage(), labels, lineage)
    assert (scores.tra, scores.det, scores.seg) == (0.0, 0.0, 0.0)
    assert scores.divisions.f1 == 0.0 and scores.divisions.recall == 0.0
    with pytest.raises(ValueError, match="shape"):
        tracking_scores(labels[:-1], lineage, labels, lineage)


def test_seg_is_the_iou_of_the_covering_cell():
    truth = np.zeros((1, 10, 10), np.int32)
    truth[0, :, :4] = 1  # 40 px
    truth[0, :, 6:] = 2  # 40 px
    predicted = np.zeros_like(truth)
    predicted[0, :, :5] = 7  # covers cell 1 (IoU 40 / 50) and nothing of cell 2
    predicted[0, :, 9:] = 8  # 10 px of cell 2: a quarter, so it does not count
    assert segmentation_score(predicted, truth) == pytest.approx((0.8 + 0.0) / 2)


def test_gaps_are_closed_by_a_new_track_with_a_parent(truth):
    labels, lineage = truth
    track = lineage.tracks[bystander(lineage)]
    gapped = labels.copy()
    hole = track.start + 2
    gapped[hole][gapped[hole] == track.track_id] = 0
    closed, split = split_at_gaps(gapped, Lineage.from_labels(gapped, lineage.parents()))
    assert split.check(closed) == []
    after = split.tracks[int(closed[hole + 1][labels[hole + 1] == track.track_id][0])]
    assert after.track_id != track.track_id and after.parent == track.track_id
    assert (after.start, split.tracks[track.track_id].end) == (hole + 1, hole - 1)
    two_daughters = {p: d for p, d in split.divisions().items() if len(d) == 2}
    assert two_daughters == lineage.divisions()  # the gap link is no division; the divisions stay
    scores = tracking_scores(gapped, Lineage.from_labels(gapped, lineage.parents()), labels, lineage)
    assert 0.9 < scores.det < 1.0


def test_points_in_one_track_counts_the_points_of_the_best_predicted_track(truth):
    labels, lineage = truth
    cell = bystander(lineage)
    track = lineage.tracks[cell]
    points = []
    for t in range(track.start, track.end + 1):
        ys, xs = np.nonzero(labels[t] == cell)
        points.append((7, t, ys[len(ys) // 2], xs[len(xs) // 2]))
    points = np.asarray(points + [(7, 0, -5.0, 3.0)], float)  # and one point outside the frame
    assert points_in_one_track(labels, points) == {7: (len(points) - 1, len(points))}
    relabelled = labels.copy()
    late = track.start + 3
    relabelled[late:][relabelled[late:] == cell] = lineage.next_id()  # the track changes id on frame `late`
    kept = max(3, track.end + 1 - late)
    assert points_in_one_track(relabelled, points) == {7: (kept, len(points))}
    assert points_in_one_track(np.zeros_like(labels), points) == {7: (0, len(points))}
