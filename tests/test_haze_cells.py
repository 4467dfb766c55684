"""Haze is no cell (issue 18's z-stacks, issue 19): a cell found on a frame starts a track only if it
stands out from what is around it by MIN_START_CONTRAST, twice what keeps a tracked mask
(contrast.py, the one rule for both)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_sam2.engine.contrast import MIN_CONTRAST, MIN_START_CONTRAST, dim_mask


def _disc_on(background: np.ndarray, inside: float) -> tuple[np.ndarray, np.ndarray]:
    """A 64 x 64 frame: a disc of radius 10 at `inside` on `background`, and the disc's mask."""
    rows, cols = np.ogrid[:64, :64]
    disc = (rows - 32.0) ** 2 + (cols - 32.0) ** 2 <= 100
    return np.where(disc, inside, background), disc


def test_a_cell_starts_only_where_it_stands_out_twice_as_much_as_a_tracked_one_must():
    flat = np.full((64, 64), 0.3)
    nucleus, disc = _disc_on(flat, 0.8)  # (0.8 - 0.3) / 0.8 = 0.63 brighter
    faint, _ = _disc_on(flat, 0.4)  # 0.25: kept while tracked, not begun
    assert not dim_mask(nucleus, disc, 1.0, MIN_START_CONTRAST)
    assert not dim_mask(faint, disc, 1.0, MIN_CONTRAST) and dim_mask(faint, disc, 1.0, MIN_START_CONTRAST)
    rng = np.random.default_rng(0)
    noise = rng.normal(0.5, 0.05, (64, 64))
    assert dim_mask(noise, disc, 1.0, MIN_START_CONTRAST)  # a patch of noise is no cell
    assert not dim_mask(nucleus, np.zeros_like(disc), 1.0)  # nothing to judge
    assert not dim_mask(nucleus, np.ones_like(disc), 1.0)  # the whole frame: no ring


def test_a_cell_touching_a_brighter_one_is_measured_against_the_background():
    """Measured against a ring half on a brighter touching cell, a clear cell passed as dim and
    was never tracked (seen on a held-out simulated time-lapse); the tracked cells are left out of
    the ring."""
    rows, cols = np.ogrid[:64, :64]
    r2 = (rows - 32.0) ** 2 + (cols - 32.0) ** 2
    cell = r2 <= 64
    neighbours = (r2 <= 196) & ~cell & (cols > 26)  # cells around three quarters of it
    frame = np.where(cell, 0.5, np.where(neighbours, 1.0, 0.1))
    around = ndimage.binary_dilation(cell, iterations=4) & ~cell
    assert neighbours[around].mean() > 0.6
    assert dim_mask(frame, cell, 1.0, MIN_START_CONTRAST)
    assert not dim_mask(frame, cell, 1.0, MIN_START_CONTRAST, others=neighbours)
    assert not dim_mask(frame, cell, 1.0, MIN_START_CONTRAST, others=~cell)  # nothing left to compare with


def test_the_ring_is_measured_in_pixels_of_the_models_input():
    """At 4 model pixels to a frame pixel the ring is 1 frame pixel wide: a bright rim 2-4 px
    around the disc is outside it; at 1, the rim fills the ring and the disc is dim."""
    rows, cols = np.ogrid[:64, :64]
    distance = np.sqrt((rows - 32.0) ** 2 + (cols - 32.0) ** 2)
    frame = np.where(distance <= 10, 0.8, np.where((distance > 11.5) & (distance <= 14.5), 0.8, 0.1))
    disc = distance <= 10
    assert not dim_mask(frame, disc, 4.0, MIN_START_CONTRAST)
    assert dim_mask(frame, disc, 1.0, MIN_START_CONTRAST)


@pytest.mark.slow
def test_a_z_stack_with_empty_hazy_ends_gets_about_one_label_per_nucleus():
    """A held-out realistic simulated z-stack (24 x 192 x 192, 5 hazy slices with no nucleus at each
    end, 6 nuclei) tracked automatically along z: before, the haze started cells on every slice
    (32 3-D labels; its empty slices held 107 labels), now 6 (and 42)."""
    from napari_sam2.engine import load_model
    from napari_sam2.engine.cell_tracker import CellTracker
    from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_zstack

    torch.set_num_threads(1)
    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 12)), EVALUATION_SEEDS + 700)
    labels = np.zeros(sim.labels.shape, np.uint32)
    for finished in CellTracker(load_model(device="cpu"), sim.frames, divisions=False).run():
        labels[finished.frame] = finished.labels  # an earlier slice comes again when a new cell is tracked back
    nuclei = len(np.unique(sim.labels)) - 1
    empty = [z for z in range(len(labels)) if not sim.labels[z].any()]
    assert nuclei == 6 and len(empty) == 10
    assert len(np.unique(labels)) - 1 <= 2 * nuclei
    assert sum(len(np.unique(labels[z])) - 1 for z in empty) <= 60
