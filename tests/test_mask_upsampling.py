"""Masks and label images from each object's logits upsampled over its box only
(engine/mask_upsampling.py) are those of the whole frame's upsampling, at a fraction of the cost."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_sam2 import VideoTracker, load_model
from napari_sam2.engine.label_rule import winning_labels
from napari_sam2.engine.mask_upsampling import local_positive_logits
from napari_sam2.engine.tiling import LocalLogits
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


@pytest.mark.parametrize("frame_hw", [(64, 64), (128, 128), (283, 283), (300, 517), (50, 70), (1000, 37)])
def test_piece_values_are_f_interpolate_s_and_nothing_positive_lies_outside(frame_hw):
    generator = torch.Generator().manual_seed(frame_hw[0])
    logits = torch.randn(6, 1, 64, 64, generator=generator) * 30 - 45  # scattered positive spots
    logits[2] = -3.0  # positive nowhere
    full = F.interpolate(logits, size=frame_hw, mode="bilinear", align_corners=False)[:, 0]
    pieces = local_positive_logits(logits, tuple(range(1, 7)), frame_hw)
    ids = [obj_id for obj_id, _ in pieces]
    assert ids == sorted(ids) and 3 not in ids
    covered = torch.zeros(full.shape, dtype=torch.bool)
    for obj_id, local in pieces:
        y0, y1, x0, x1 = local.box
        torch.testing.assert_close(local.logits[0], full[obj_id - 1, y0:y1, x0:x1], rtol=1e-6, atol=1e-5)
        covered[obj_id - 1, y0:y1, x0:x1] = True
    assert not (full[~covered] > 0).any()


@pytest.fixture(scope="module")
def crowded_results():
    """Results of the embedded model tracking 30 simulated nuclei over 3 frames (held-out seed)."""
    config = SimulationConfig(height=160, width=200, num_frames=3, num_cells=(30, 30), radius_range=(6.0, 10.0),
                              division_probability=0.0, enter_rate=0.0)
    sim = simulate_timelapse(config, seed=EVALUATION_SEEDS)
    tracker = VideoTracker(load_model(device="cpu"), sim.frames, precision="float32")
    for obj_id in [int(i) for i in np.unique(sim.labels[0]) if i]:
        tracker.add_mask(0, obj_id, sim.labels[0] == obj_id)
    return list(tracker.propagate())


def test_labels_and_masks_are_those_of_the_whole_frame(crowded_results):
    for result in crowded_results:
        full = result.logits()  # (K, H, W) F.interpolate of every object over the whole frame
        whole = {obj_id: LocalLogits((0, full.shape[1], 0, full.shape[2]), full[k : k + 1])
                 for k, obj_id in enumerate(result.object_ids)}
        np.testing.assert_array_equal(result.label_image(np.uint32),
                                      winning_labels(result.video_hw, whole, dtype=np.uint32))
        masks = result.masks
        for k, obj_id in enumerate(result.object_ids):
            np.testing.assert_array_equal(masks[obj_id], (full[k] > 0).numpy())


def test_each_cell_is_upsampled_over_its_pieces_only(crowded_results):
    result = crowded_results[-1]
    height, width = result.video_hw
    pieces = result.local_pieces()
    assert len({obj_id for obj_id, _ in pieces}) >= 25  # the cells tracked (a few may be lost: not this test's concern)
    areas = [(y1 - y0) * (x1 - x0) for y0, y1, x0, x1 in (local.box for _, local in pieces)]
    assert sum(areas) < 2 * height * width  # pieces of nuclei, not objects x frame
