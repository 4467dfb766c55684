"""The microscopy simulator: reproducibility, imaging model, dynamics and ground truth."""
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_sam2.simulation import (
    Simulation,
    SimulationConfig,
    descendants,
    ground_truth_masks,
    realistic_config,
    simulate_timelapse,
    simulate_zstack,
)

SMALL = SimulationConfig(height=64, width=80, num_frames=12, num_cells=(3, 5))


def _inside_mean(sim: Simulation, t: int) -> float:
    return float(sim.frames[t][sim.labels[t] > 0].mean()) - sim.config.camera_offset


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_same_seed_same_arrays_other_seed_differs():
    a, b = simulate_timelapse(SMALL, seed=7), simulate_timelapse(SMALL, seed=7)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.lineage == b.lineage and a.seed == 7 and a.config == SMALL
    c = simulate_timelapse(SMALL, seed=8)
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.labels, c.labels)
    z1, z2 = simulate_zstack(SMALL, seed=3), simulate_zstack(SMALL, seed=3)
    np.testing.assert_array_equal(z1.frames, z2.frames)
    np.testing.assert_array_equal(z1.labels, z2.labels)
    assert not np.array_equal(z1.frames, simulate_zstack(SMALL, seed=4).frames)


@pytest.mark.parametrize("simulate", [simulate_timelapse, simulate_zstack])
def test_dtype_shapes_and_contrast(simulate):
    sim = simulate(SMALL, seed=1)
    assert sim.frames.dtype == np.uint16 and sim.labels.dtype == np.int32
    assert sim.frames.shape == sim.labels.shape == (12, 64, 80)
    assert sim.axes == ("TYX" if simulate is simulate_timelapse else "ZYX")
    assert sim.labels.min() == 0 and sim.labels.max() >= 1
    # far from every cell: background; inside cells: clearly brighter (camera offset subtracted)
    far = ~ndi.binary_dilation(sim.labels > 0, iterations=6, structure=np.ones((1, 3, 3), bool))
    bg = float(sim.frames[far].mean()) - sim.config.camera_offset
    fg = float(sim.frames[sim.labels > 0].mean()) - sim.config.camera_offset
    assert fg > 2 * max(bg, 1.0)
    assert 50 < sim.frames.max() < 60000  # neither blank nor saturated


def test_photobleaching_only_with_a_rate():
    still = dict(division_probability=0.0, enter_rate=0.0, speed_range=(0.0, 0.2), num_frames=24)
    bleached = simulate_timelapse(replace(SMALL, **still, bleach_rate=0.03), seed=2)
    steady = simulate_timelapse(replace(SMALL, **still, bleach_rate=0.0), seed=2)
    for sim, lo, hi in ((bleached, 0.0, 0.75), (steady, 0.93, 1.07)):
        first = np.mean([_inside_mean(sim, t) for t in range(3)])
        last = np.mean([_inside_mean(sim, t) for t in range(-3, 0)])
        assert lo < last / first < hi


def test_divisions_lineage_and_ground_truth():
    cfg = SimulationConfig(height=96, width=96, num_frames=24, num_cells=(4, 6), division_probability=0.15,
                           division_min_age=2, enter_rate=0.0)
    sim = simulate_timelapse(cfg, seed=5)
    assert sim.lineage, "no division with a high division probability"
    n0 = int(sim.labels[0].max())
    present = [set(np.unique(sim.labels[t]).tolist()) for t in range(cfg.num_frames)]
    for daughter, parent in sim.lineage.items():
        assert daughter > n0 and daughter not in present[0] and daughter != parent
        born = sim.birth_frames[daughter]
        assert all(daughter not in present[t] for t in range(born))
        assert all(parent not in present[t] for t in range(born, cfg.num_frames))
    sisters = {}
    for d, p in sim.lineage.items():
        sisters.setdefault(p, []).append(d)
    assert all(len(v) == 2 for v in sisters.values())
    # each daughter is about half its parent (at birth vs just before)
    d, p = next(iter(sim.lineage.items()))
    t = sim.birth_frames[d]
    if not _touches_border(sim.labels[t - 1] == p):
        ratio = (sim.labels[t] == d).sum() / (sim.labels[t - 1] == p).sum()
        assert 0.3 < ratio < 0.75
    # ground truth: the union of a frame-0 cell and all its descendants
    root = next(i for i in range(1, n0 + 1) if descendants(sim.lineage, i))
    family = descendants(sim.lineage, root)
    assert family and root not in family
    gt = ground_truth_masks(sim)
    assert set(gt) == set(np.unique(sim.labels[0]).tolist()) - {0}
    np.testing.assert_array_equal(gt[root], np.isin(sim.labels, sorted(family | {root})))
    assert gt[root].shape == sim.labels.shape and gt[root].dtype == bool
    assert gt[root][-1].any()
    assert list(ground_truth_masks(sim, [root])) == [root]


def test_descendants_of_a_tree():
    lineage = {3: 1, 4: 1, 5: 3, 6: 3, 7: 2}
    assert descendants(lineage, 1) == {3, 4, 5, 6}
    assert descendants(lineage, 2) == {7}
    assert descendants(lineage, 4) == set()


def test_motion_is_smooth_and_bounded():
    cfg = SimulationConfig(height=96, width=96, num_frames=16, division_probability=0.0, enter_rate=0.0)
    sim = simulate_timelapse(cfg, seed=11)
    bound = 3 * (cfg.speed_range[1] + cfg.jitter_sigma)
    moved = []
    for t in range(cfg.num_frames - 1):
        for i in np.unique(sim.labels[t])[1:]:
            a, b = sim.labels[t] == i, sim.labels[t + 1] == i
            if not b.any() or _touches_border(a) or _touches_border(b):
                continue
            if not 0.8 < b.sum() / a.sum() < 1.25:  # occluded by another cell: centroid unreliable
                continue
            moved.append(np.hypot(*np.subtract(ndi.center_of_mass(a), ndi.center_of_mass(b))))
    assert len(moved) > 20
    assert max(moved) < bound
    assert np.mean(moved) > 0.1


def test_cells_leave_and_enter_with_a_strong_drift():
    cfg = SimulationConfig(height=64, width=64, num_frames=20, num_cells=(4, 4), global_drift=(0.0, 3.0),
                           division_probability=0.0, enter_rate=0.5)
    sim = simulate_timelapse(cfg, seed=4)
    first = set(np.unique(sim.labels[0]).tolist()) - {0}
    last = set(np.unique(sim.labels[-1]).tolist()) - {0}
    assert first - last, "no cell left the field of view"
    assert any(_touches_border(sim.labels[t] == i) for t in range(cfg.num_frames) for i in first)
    assert last - first, "no cell entered"


def test_zstack_cells_grow_then_shrink():
    cfg = SimulationConfig(height=64, width=64, num_frames=20, num_cells=(4, 6))
    sim = simulate_zstack(cfg, seed=0)
    assert sim.lineage == {}
    checked = 0
    for i in np.unique(sim.labels)[1:]:
        area = (sim.labels == i).sum(axis=(1, 2))
        z = np.flatnonzero(area)
        if z[0] == 0 or z[-1] == cfg.num_frames - 1 or len(z) < 5:
            continue  # cut by the top or bottom of the stack
        peak = int(np.argmax(area))
        assert z[0] < peak < z[-1]
        assert area[z[0]] < 0.6 * area[peak] and area[z[-1]] < 0.6 * area[peak]
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("seed", range(4))
def test_every_cell_in_frame_zero_is_clickable(seed):
    sim = simulate_timelapse(SimulationConfig(num_frames=1), seed=seed)
    ids, counts = np.unique(sim.labels[0], return_counts=True)
    assert len(ids) - 1 >= 5
    assert counts[1:].min() >= 30


def test_invalid_configs_are_rejected():
    with pytest.raises(ValueError):
        SimulationConfig(num_cells=(5, 2))
    with pytest.raises(ValueError):
        SimulationConfig(dtype="int8")
    with pytest.raises(ValueError):
        SimulationConfig(brightness_sigma=-0.1)
    with pytest.raises(ValueError, match="empty_end_slices"):
        simulate_zstack(SimulationConfig(num_frames=8, empty_end_slices=4), seed=0)


# ---- what real images show (issue 19): each feature changes the image as intended, and is off by default

STILL = replace(SMALL, num_frames=1, height=96, width=96, num_cells=(5, 6), texture_strength=0.0, blur_sigma=0.0,
                photons_per_unit=(1e7, 1e7), read_noise_sigma=0.0, dtype="float32")  # nearly noiseless


def _signal(config, seed=3):
    sim = simulate_timelapse(config, seed)
    return sim.frames[0].astype(float) - config.camera_offset, sim.labels[0]


def test_features_off_by_default_leave_the_image_as_it_was():
    default = SimulationConfig()
    assert realistic_config().texture_strength != default.texture_strength
    off = replace(SMALL, nucleoli_per_cell=(0, 0), speckles_per_cell=(0, 0), brightness_sigma=0.0, halo_intensity=0.0,
                  background_variation=0.0, empty_end_slices=0, defocus_haze=0.0)
    np.testing.assert_array_equal(simulate_timelapse(off, 4).frames, simulate_timelapse(SMALL, 4).frames)
    np.testing.assert_array_equal(simulate_zstack(off, 4).frames, simulate_zstack(SMALL, 4).frames)


def test_nucleoli_darken_and_speckles_brighten_spots_inside_nuclei():
    plain, labels = _signal(STILL)
    for field, sign in (("nucleoli_per_cell", -1), ("speckles_per_cell", 1)):
        featured, same_labels = _signal(replace(STILL, **{field: (3, 3)}))
        np.testing.assert_array_equal(labels, same_labels)
        change = (featured - plain)[labels > 0] * sign
        assert np.percentile(change, 99) > 0.2 * plain[labels > 0].mean()  # strong spots ...
        assert (change > -0.02 * plain.max()).all()  # ... of one sign only
        assert np.abs(featured - plain)[labels == 0].max() < 0.05 * plain.max()  # the background untouched


def test_brightness_varies_between_nuclei():
    def spread(config):
        signal, labels = _signal(config)
        means = [signal[labels == i].mean() for i in np.unique(labels)[1:]]
        return max(means) / min(means)

    narrow = replace(STILL, intensity_range=(0.8, 0.8))
    assert spread(narrow) < 1.3
    assert spread(replace(narrow, brightness_sigma=0.8)) > 2.0


def test_halo_lights_the_background_around_nuclei_only():
    plain, labels = _signal(STILL)
    halo, _ = _signal(replace(STILL, halo_intensity=0.2))
    near = ndi.binary_dilation(labels > 0, iterations=3) & (labels == 0) & ~ndi.binary_dilation(labels > 0, iterations=1)
    far = ~ndi.binary_dilation(labels > 0, iterations=15)
    assert (halo - plain)[near].mean() > 0.05 * plain[labels > 0].mean()
    assert np.abs(halo - plain)[far].max() < 0.02 * plain.max()  # Poisson noise only
    np.testing.assert_allclose(halo[labels > 0], plain[labels > 0], rtol=1e-3, atol=1)


def test_uneven_background_varies_smoothly_across_the_frame():
    config = replace(STILL, num_cells=(0, 0), illumination_falloff=0.0)
    flat, _ = _signal(config)
    uneven, _ = _signal(replace(config, background_variation=0.1))
    assert flat.std() < 0.01 * flat.mean()
    blocks = uneven.reshape(6, 16, 6, 16).mean(axis=(1, 3))
    assert blocks.max() > 1.5 * blocks.min()


def test_zstack_ends_are_empty_but_hazy():
    config = replace(SMALL, num_frames=20, height=64, width=64, num_cells=(5, 6), empty_end_slices=4)
    sim = simulate_zstack(config, seed=2)
    assert not sim.labels[:4].any() and not sim.labels[-4:].any() and sim.labels[4:-4].any()
    hazy = simulate_zstack(replace(config, defocus_haze=0.5), seed=2)
    np.testing.assert_array_equal(hazy.labels, sim.labels)
    ends = np.r_[0:4, 16:20]
    assert hazy.frames[ends].astype(float).mean() > sim.frames[ends].astype(float).mean() + 5  # light, no nucleus


def test_8_bit_camera():
    sim = simulate_timelapse(replace(SMALL, dtype="uint8", gain=0.2, camera_offset=5.0), seed=1)
    assert sim.frames.dtype == np.uint8 and sim.frames.max() > 50
    assert sim.frames[sim.labels > 0].mean() > 2 * sim.frames[sim.labels == 0].mean()
