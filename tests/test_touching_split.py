"""Touching tracked objects given back their own cells (engine/touching_split.py,
MaskCleanup.split_touching)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.engine.loading import load_model
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.engine.touching_split import split_touching, touching_groups
from napari_sam2.evaluation import j_and_f, track_sequence
from napari_sam2.evaluation.spill import spill_pixels
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, ground_truth_masks, simulate_timelapse

SIZE = 64


@pytest.fixture(scope="module")
def embedded_model():
    return load_model(device="cpu")


def disc(cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def as_logits(*masks: np.ndarray) -> torch.Tensor:
    """(B, 1, SIZE, SIZE) logits of the masks, +5 inside and -5 outside, as the model's are."""
    return torch.from_numpy(np.stack(masks)[:, None].astype(np.float32) * 10 - 5)


def test_a_band_spilled_over_a_touching_cell_goes_back_to_that_cell():
    left, right = disc(32, 22, 9), disc(32, 40, 9)  # touching discs, the neck at x = 31
    band = right & (np.mgrid[:SIZE, :SIZE][1] >= 32) & (np.mgrid[:SIZE, :SIZE][1] <= 35)  # 4 columns past the neck
    out = (split_touching(as_logits(left | band, right & ~band))[:, 0] > 0).numpy()
    assert not (out[0] & band).any()
    assert out[1][band].all()
    for got, cell in zip(out, (left, right)):
        assert (got & cell).sum() / (got | cell).sum() > 0.97
    assert ((out[0] | out[1]) == (left | right)).all()  # pixels change hands, none is added or lost


def test_an_objects_own_two_lobes_stay_its_own():
    mother = disc(20, 24, 7) | disc(20, 37, 7)  # a dividing cell, two lobes, one object
    neighbour = disc(37, 30, 8) & ~mother  # touching both lobes from below
    logits = as_logits(mother, neighbour)
    out = (split_touching(logits)[:, 0] > 0).numpy()
    assert (out[0] == mother).all() and (out[1] == neighbour).all()


def test_masks_that_touch_nothing_are_left_as_they_are():
    logits = as_logits(disc(15, 15, 6), disc(45, 45, 6), np.zeros((SIZE, SIZE), bool))
    assert touching_groups(logits[:, 0] > 0) == []
    assert split_touching(logits) is logits
    assert MaskCleanup(split_touching=False).touching_split(as_logits(disc(32, 22, 9), disc(32, 38, 9))).equal(
        as_logits(disc(32, 22, 9), disc(32, 38, 9)))


def test_touching_groups_join_chains_of_contacts():
    a, b, c, d = disc(10, 10, 5), disc(10, 21, 5), disc(10, 32, 5), disc(50, 50, 5)
    assert touching_groups(torch.from_numpy(np.stack([a, d, b, c]))) == [[0, 2, 3]]


def test_tracked_masks_spill_less_over_touching_neighbours(embedded_model):
    """Six held-out time-lapses (simulator defaults, touching clusters), every cell of frame 0
    prompted with its mask and tracked 16 frames: with the rule (the default) fewer pixels on
    touching neighbours and a higher J&F than without."""
    config, found, seed = SimulationConfig(num_frames=16), 0, EVALUATION_SEEDS
    on_neighbours, scores = {True: 0, False: 0}, {True: [], False: []}
    while found < 6:
        sim = simulate_timelapse(config, seed)
        seed += 1
        ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0]
        if len(ids) < 5:
            continue
        found += 1
        truths = ground_truth_masks(sim, ids)
        for split, cleanup in ((True, MaskCleanup()), (False, MaskCleanup(split_touching=False))):
            predicted = track_sequence(embedded_model, sim.frames, truths, "mask", cleanup=cleanup)
            on_neighbours[split] += int(spill_pixels(predicted, truths, sim.labels > 0)["on a neighbour"].sum())
            scores[split] += [j_and_f(predicted[i], truths[i]) for i in ids]
    assert on_neighbours[True] < 0.6 * on_neighbours[False], on_neighbours
    assert np.mean(scores[True]) > np.mean(scores[False]) + 0.005, {k: np.mean(v) for k, v in scores.items()}


def test_the_command_line_turns_it_off():
    import argparse

    from napari_sam2.engine.postprocess import add_cleanup_flag

    parser = argparse.ArgumentParser()
    add_cleanup_flag(parser)
    assert parser.parse_args([]).cleanup.split_touching
    assert parser.parse_args(["--keep-touching-masks"]).cleanup == MaskCleanup(split_touching=False)
    assert not MaskCleanup.off().split_touching


def test_a_small_object_with_no_segment_of_its_own_keeps_its_mask():
    large = disc(32, 28, 12)
    small = disc(32, 41, 2.5) & ~large  # a speck on the large one's edge: no neck, no distance peak of its own
    out = (split_touching(as_logits(large, small))[:, 0] > 0).numpy()
    assert (out[0] == large).all() and (out[1] == small).all()


def test_the_split_alone_counts_as_a_clean_up_that_is_on():
    alone = MaskCleanup(keep_one_piece=False, fill_holes=False, drop_dim=False, box_centre_click=False, inside_box=False)
    assert alone.active and not MaskCleanup.off().active
