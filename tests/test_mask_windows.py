"""The memory encoder's mask downsampler over a window around each object (model/mask_windows.py)
gives the whole mask's output, alone and through a tracker whose memory bank turns over."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import VideoTracker, load_model
from napari_sam2.model import frame_steps
from napari_sam2.model.memory_encoder import MaskDownSampler
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

BACKGROUND = -10.0


def masks_with_objects(size: int = 256) -> torch.Tensor:
    """(7, 1, size, size) memory-encoder inputs: objects in the middle, at edges and corners, of
    several sizes, an empty one and one spanning most of the mask; background elsewhere."""
    generator = torch.Generator().manual_seed(0)
    masks = torch.full((7, 1, size, size), BACKGROUND)
    places = [(100, 120, 20), (0, 0, 12), (size - 30, size - 25, 25), (40, size - 18, 18), (5, 90, 60)]
    for k, (row, col, side) in enumerate(places):
        masks[k, 0, row : row + side, col : col + side] = torch.rand(side, side, generator=generator) * 20 - 10
    masks[6, 0, 10:240, 20:230] = 10.0  # (the whole mask is cheaper than its window)
    return masks  # masks[5]: empty


@pytest.fixture(scope="module")
def downsampler() -> MaskDownSampler:
    torch.manual_seed(0)
    return MaskDownSampler(64).eval()


def test_windows_give_the_whole_masks_output(downsampler):
    masks = masks_with_objects()
    with torch.no_grad():
        whole = downsampler(masks)
        windowed = downsampler(masks, BACKGROUND, tolerance=0.0)
    assert windowed.shape == whole.shape == (7, 64, 16, 16)
    torch.testing.assert_close(windowed, whole, atol=1e-5, rtol=1e-5)


def test_pixels_within_the_tolerance_count_as_background(downsampler):
    masks = masks_with_objects()
    faint = masks + torch.rand(masks.shape, generator=torch.Generator().manual_seed(1)) * 1e-3
    faint[masks != BACKGROUND] = masks[masks != BACKGROUND]
    with torch.no_grad():
        windowed = downsampler(faint, BACKGROUND, tolerance=1e-3)
        exact = downsampler(masks, BACKGROUND, tolerance=0.0)
        whole_faint = downsampler(faint)
    assert torch.equal(windowed[5], exact[5])  # a mask of faint pixels only is the empty mask's output
    assert (windowed[:5] - exact[:5]).abs().max() > 0  # (faint pixels within a window are taken as they are)
    assert (whole_faint - windowed).abs().max() < 1e-3  # the faint pixels outside change the output by little


def test_the_empty_output_follows_the_weights(downsampler):
    masks = masks_with_objects()
    with torch.no_grad():
        downsampler(masks, BACKGROUND, tolerance=0.0)  # the empty mask's output is kept
        changed = MaskDownSampler(64).eval()
        changed.load_state_dict(downsampler.state_dict())
        changed(masks, BACKGROUND, tolerance=0.0)
        changed.encoder[0].bias.add_(0.5)  # an in-place update, as an optimiser's
        torch.testing.assert_close(changed(masks, BACKGROUND, tolerance=0.0), changed(masks), atol=1e-5, rtol=1e-5)


def test_with_gradients_the_whole_mask_is_downsampled(downsampler):
    masks = masks_with_objects()[:2].requires_grad_()
    out = downsampler(masks, BACKGROUND, tolerance=0.0)
    out.sum().backward()
    assert masks.grad[0, 0, 250, 5] != 0  # a background pixel far from the object: the whole mask was used


def test_tracking_with_windows_gives_the_same_masks(monkeypatch):
    """The embedded model tracks 12 simulated nuclei over 12 frames (the memory bank holds 7 and
    turns over) with windows and with whole masks: the same masks, and windows were used."""
    model = load_model(device="cpu")
    config = SimulationConfig(height=128, width=128, num_frames=12, num_cells=(12, 12), division_probability=0.0,
                              enter_rate=0.0)
    sim = simulate_timelapse(config, seed=EVALUATION_SEEDS + 3)
    sizes = []
    hook = model.memory_encoder.mask_downsampler.encoder.register_forward_hook(
        lambda module, args, out: sizes.append(args[0].shape[-1]))

    def track(tolerance):
        monkeypatch.setattr(frame_steps, "MASK_WINDOW_TOLERANCE", tolerance)
        tracker = VideoTracker(model, sim.frames, precision="float32")
        for obj_id in [int(i) for i in np.unique(sim.labels[0]) if i]:
            tracker.add_mask(0, obj_id, sim.labels[0] == obj_id)
        return {r.frame: r.masks for r in tracker.propagate()}

    default = frame_steps.MASK_WINDOW_TOLERANCE
    whole = track(None)
    assert set(sizes) == {model.cfg.image_size}
    sizes.clear()
    windowed = track(default)
    hook.remove()
    assert min(sizes) < model.cfg.image_size // 2  # windows on tracked frames, not only the prompts'
    assert sorted(windowed) == sorted(whole) == list(range(12))
    for frame, masks in whole.items():
        for obj_id, mask in masks.items():
            assert np.array_equal(windowed[frame][obj_id], mask), (frame, obj_id)
