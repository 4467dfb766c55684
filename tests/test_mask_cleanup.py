"""The masks' optional clean-up (issue 19): the piece under the click (or the largest), holes
filled; on by default in the image predictor and the video tracker, off on request."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_sam2 import ArrayFrames, ImagePredictor, MaskCleanup, VideoTracker, load_model
from napari_sam2.evaluation import central_click
from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_timelapse

EIGHT = np.ones((3, 3), bool)


def two_pieces_with_a_hole() -> torch.Tensor:
    """(1, 1, 40, 40) logits: a large ring piece (a hole in the middle) and a small square."""
    logits = torch.full((1, 1, 40, 40), -5.0)
    logits[0, 0, 5:25, 5:25] = 5.0
    logits[0, 0, 12:16, 12:16] = -5.0  # the hole
    logits[0, 0, 30:35, 30:35] = 5.0  # the small piece
    return logits


def pieces(mask: np.ndarray) -> int:
    return ndimage.label(mask, structure=EIGHT)[1]


def holes(mask: np.ndarray) -> int:
    return int((ndimage.binary_fill_holes(mask) & ~mask).sum())


def test_the_piece_under_the_click_is_kept_and_its_holes_filled():
    logits = two_pieces_with_a_hole()
    on_small = MaskCleanup().apply(logits, np.array([[32.5, 32.5]]))[0, 0] > 0
    assert on_small[30:35, 30:35].all() and on_small.sum() == 25
    on_large = MaskCleanup().apply(logits, np.array([[6.5, 6.5]]))[0, 0] > 0
    assert on_large[5:25, 5:25].all() and on_large.sum() == 400
    largest = MaskCleanup().apply(logits)[0, 0] > 0  # a box, a mask or a tracked frame
    assert torch.equal(largest, on_large)
    assert torch.equal(MaskCleanup.off().apply(logits), logits)
    only_holes = MaskCleanup(keep_one_piece=False).apply(logits)[0, 0] > 0
    assert only_holes.sum() == 425
    assert torch.equal(logits, two_pieces_with_a_hole())  # the input is left as it was


def test_a_click_off_the_mask_keeps_the_largest_piece():
    kept = MaskCleanup().apply(two_pieces_with_a_hole(), np.array([[2.0, 38.0]]))[0, 0] > 0
    assert kept.sum() == 400


@pytest.fixture(scope="module")
def embedded():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def realistic_frames():
    """Held-out frames with nucleoli, speckles and halos: the model's masks there have holes and
    stray pieces."""
    sim = simulate_timelapse(realistic_config(num_frames=6, height=128, width=128), EVALUATION_SEEDS + 7)
    return sim.frames, sim.labels


def test_image_predictor_masks_are_one_piece_without_holes_by_default(embedded, realistic_frames):
    frames, labels = realistic_frames
    raw, cleaned = ImagePredictor(embedded, cleanup=MaskCleanup.off()), ImagePredictor(embedded)
    for predictor in (raw, cleaned):
        predictor.set_image(frames[0])
    untidy = 0
    for cell in (int(c) for c in np.unique(labels[0]) if c):
        (x, y), _ = central_click(labels[0] == cell)
        for mask in cleaned.predict(points=[[x, y]], labels=[1]).masks:
            assert pieces(mask) <= 1 and holes(mask) == 0
            assert not mask.any() or mask[int(y), int(x)] or pieces(mask) == 1
        untidy += sum(pieces(m) > 1 or holes(m) > 0 for m in raw.predict(points=[[x, y]], labels=[1]).masks)
    assert untidy > 0, "the raw masks were all tidy: this test shows nothing"


def test_the_tracker_cleans_prompted_frames_and_leaves_tracked_ones_to_the_model(embedded, realistic_frames):
    """At the model's mask resolution, which goes into memory. Tracked frames: no click says
    which piece is the cell, so they keep the model's masks (as with the clean-up off)."""
    frames, labels = realistic_frames
    clean, raw = VideoTracker(embedded, ArrayFrames(frames)), VideoTracker(embedded, ArrayFrames(frames[:1]),
                                                                           cleanup=MaskCleanup.off())
    untidy = 0
    for cell in (int(c) for c in np.unique(labels[0]) if c):
        (x, y), _ = central_click(labels[0] == cell)
        mask = (clean.add_points(0, cell, [[x, y]], [1]).low_res_logits[-1, 0] > 0).numpy()
        assert pieces(mask) <= 1 and holes(mask) == 0
        raw_mask = (raw.add_points(0, cell, [[x, y]], [1]).low_res_logits[-1, 0] > 0).numpy()
        untidy += pieces(raw_mask) > 1 or holes(raw_mask) > 0
    assert untidy > 0, "the raw masks were all tidy: this test shows nothing"


@pytest.mark.parametrize("cleanup", [MaskCleanup(), MaskCleanup.off()])
def test_the_tiled_tracker_gives_its_tiles_the_cleanup_choice(micro_model, cleanup):
    from napari_sam2 import TiledVideoTracker

    sim = simulate_timelapse(realistic_config(num_frames=2, height=96, width=96), EVALUATION_SEEDS + 3)
    tracker = TiledVideoTracker(micro_model, ArrayFrames(sim.frames), cell_diameter=20, cleanup=cleanup)
    (x, y), _ = central_click(sim.labels[0] == 1)
    tracker.add_points(0, 1, [[x, y]], [1])
    assert tracker._tiles and all(tile.cleanup == cleanup for tile in tracker._tiles.values())
