"""Seeding without clicks (automatic detection with the embedded model) and seeds from a label image."""
from dataclasses import replace

import numpy as np
import pytest

from napari_sam2.engine import load_model
from napari_sam2.engine.cell_detection import DetectionParams, detect_cells, grid_points
from napari_sam2.engine.instance_masks import (
    label_image,
    mask_overlap_matrices,
    suppress_overlaps,
)
from napari_sam2.engine.label_seeds import label_ids, masks_from_labels
from napari_sam2.evaluation.detection import detection_counts
from napari_sam2.simulation import (
    EVALUATION_SEEDS,
    SimulationConfig,
    simulate_timelapse,
)

# bench_cell_detection.py measured recall 0.83 on 10 held-out frames (seeds EVALUATION_SEEDS + 0..9, where the
# defaults were chosen) and 0.77 on 20 others (EVALUATION_SEEDS + 1000..1019); this test's frame is yet another
# held-out seed, and the floor leaves room for one frame's spread (5 to 9 cells).
RECALL_FLOOR = 0.5
TEST_SEED = EVALUATION_SEEDS + 500


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def test_detection_finds_most_cells_of_a_held_out_frame(model):
    sim = simulate_timelapse(replace(SimulationConfig(), num_frames=11), TEST_SEED)
    found = detect_cells(model, sim.frames[10])
    counts = detection_counts(found.labels, sim.labels[10])
    assert counts.recall >= RECALL_FLOOR, counts
    assert found.labels.max() == len(found.scores)


def test_clicks_at_probable_centres_find_most_cells_of_a_held_out_frame(model):
    sim = simulate_timelapse(replace(SimulationConfig(), num_frames=11), TEST_SEED)
    found = detect_cells(model, sim.frames[10], DetectionParams(prompts="centres", multimask=False))
    assert detection_counts(found.labels, sim.labels[10]).recall >= RECALL_FLOOR
    with pytest.raises(ValueError, match="prompts must be one of grid, centres"):
        DetectionParams(prompts="random")


def test_empty_frame_has_no_cells(model):
    found = detect_cells(model, np.full((64, 64), 100, np.uint16), DetectionParams(points_per_side=8))
    assert found.labels.shape == (64, 64)
    assert found.labels.max() == 0 and len(found.scores) == 0


def test_frame_of_background_noise_has_no_cells(model):
    config = replace(SimulationConfig(), num_frames=1, num_cells=(0, 0), enter_rate=0.0)
    frame = simulate_timelapse(config, TEST_SEED).frames[0]
    assert detect_cells(model, frame).labels.max() == 0


def test_grid_points_cover_the_frame_inside_it():
    points = grid_points((40, 100), 4)  # (x, y)
    assert points.shape == (16, 2)
    assert points[:, 0].min() > 0 and points[:, 0].max() < 99
    assert points[:, 1].min() > 0 and points[:, 1].max() < 39


def _disk(hw, centre, radius):
    yy, xx = np.mgrid[: hw[0], : hw[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_label_image_has_no_overlaps_and_the_better_mask_wins_shared_pixels():
    hw = (40, 60)
    masks = np.stack([_disk(hw, (20, 20), 10), _disk(hw, (20, 34), 10), _disk(hw, (5, 55), 1)])
    labels, scores = label_image(masks, np.array([0.6, 0.9, 0.99]), min_area=10)
    shared = masks[0] & masks[1]
    assert shared.any()
    assert (labels[shared] == 1).all()  # label 1 is the best kept mask (0.9): the tiny one went
    assert set(np.unique(labels)) == {0, 1, 2}
    np.testing.assert_allclose(scores, [0.9, 0.6])


def test_overlap_suppression_drops_a_worse_duplicate_and_a_part_inside_a_cell():
    hw = (40, 60)
    cell, other = _disk(hw, (20, 15), 8), _disk(hw, (20, 45), 8)
    part = cell & (np.mgrid[:40, :60][1] < 15)  # the left half of the cell
    masks = np.stack([cell, cell, part, other])
    iou, contained = mask_overlap_matrices(masks)
    kept = suppress_overlaps((iou > 0.5) | (contained > 0.5), np.array([0.8, 0.7, 0.9, 0.5]))
    assert sorted(kept.tolist()) == [2, 3]  # the better-scored part stands for the cell, once


def test_label_seeds_give_one_mask_per_label():
    labels = np.zeros((10, 12), np.int32)
    labels[1:3, 1:3], labels[5:9, 6:10] = 3, 7
    masks = masks_from_labels(labels, (10, 12))
    assert sorted(masks) == [3, 7]
    assert masks[7].sum() == 16 and (masks[3] == (labels == 3)).all()


def test_label_seeds_of_another_shape_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(10, 12\).*\(12, 10\)"):
        masks_from_labels(np.ones((10, 12), np.int32), (12, 10))


def test_labels_saved_as_floats_of_whole_numbers_are_their_ids_and_anything_else_is_refused():
    labels = np.zeros((10, 12), np.int32)
    labels[1:3, 1:3], labels[5:9, 6:10] = 3, 70000  # above uint16: a large segmentation's ids
    ids = label_ids(labels.astype(np.float32))  # Fiji's 32-bit label images
    assert np.issubdtype(ids.dtype, np.integer) and (ids == labels).all()
    assert label_ids(labels) is labels or (label_ids(labels) == labels).all()
    for bad, said in ((labels.astype(np.float32) / 2, "no label ids"), (np.where(labels > 0, np.nan, 0.0), "no label ids"),
                      (labels > 0, "a mask"), (-labels, "negative ids"), (labels.astype(str), "hold <U")):
        with pytest.raises(ValueError, match=said):
            label_ids(bad)


def test_empty_label_seeds_say_so():
    with pytest.raises(ValueError, match="empty"):
        masks_from_labels(np.zeros((10, 12), np.int32), (10, 12))


def test_detection_counts_match_at_iou_one_half():
    truth = np.zeros((20, 20), np.int32)
    truth[2:8, 2:8], truth[12:18, 12:18] = 1, 2
    predicted = np.zeros_like(truth)
    predicted[2:8, 2:7] = 5  # IoU 30/36 with cell 1
    predicted[0:2, 0:2] = 9  # a false positive
    counts = detection_counts(predicted, truth)
    assert (counts.true_positives, counts.predicted, counts.truth) == (1, 2, 2)
    assert counts.f1 == pytest.approx(0.5) and counts.mean_matched_iou == pytest.approx(30 / 36)
