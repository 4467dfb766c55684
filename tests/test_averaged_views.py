"""Averaged views (engine/averaged_views.py): the image predictor averages the model's masks over
the image, its three mirror images and these four moved by half a patch, each decoded with the
prompt moved alike."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from held_out_cells import held_out_first_frames
from napari_sam2 import ArrayFrames, ImagePredictor, VideoTracker, load_model
from napari_sam2.engine.averaged_views import (
    HALF_PATCH,
    ONE_VIEW,
    VIEWS,
    View,
    mean_of_views,
    view_inputs,
    view_points,
    views_for,
)
from napari_sam2.engine.preprocessing import preprocess
from napari_sam2.evaluation import central_click, region_similarity
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


@pytest.fixture(scope="module")
def embedded():
    return load_model(device="cpu")


def test_a_point_and_a_box_land_on_their_pixel_in_every_view():
    """On a 32 x 32 input a point on pixel (x=11, y=12) is on pixel (20, 19) flipped both ways, and
    8 px further down and right in a moved view; a box's corners stay top-left and bottom-right."""
    points = (torch.tensor([[[11.0, 12.0], [10.0, 11.0], [13.0, 14.0]]]), torch.tensor([[1, 2, 3]]))
    coords, labels, used = view_points(points, 32)
    assert coords.shape == (len(VIEWS), 3, 2) and labels.shape == (len(VIEWS), 3) and used.all()
    flips = {(v.rows_flipped, v.columns_flipped, v.shift): c.tolist() for v, c in zip(VIEWS, coords)}
    assert flips[(False, False, 0)] == points[0][0].tolist()
    assert flips[(True, True, 0)][0] == [20.0, 19.0]
    assert flips[(False, True, 0)] == [[20.0, 12.0], [18.0, 11.0], [21.0, 14.0]]  # box x0 = 31 - 13, x1 = 31 - 10
    assert flips[(True, False, HALF_PATCH)] == [[19.0, 27.0], [18.0, 25.0], [21.0, 28.0]]
    image = torch.zeros(1, 3, 32, 32)
    image[0, :, 12, 11] = 10.0
    for view, (x, y) in zip(view_inputs(image), coords[:, 0].tolist()):
        assert view[0, int(y), int(x)] == view[0].max()  # the point is on its pixel in every view


def test_a_view_that_loses_the_prompt_past_its_edge_is_left_out_and_the_mean_covers_every_cell():
    points = (torch.tensor([[[30.0, 15.0]]]), torch.tensor([[1]]))  # 8 px further right is off a 32 px input
    _, _, used = view_points(points, 32)
    assert [v.shift == 0 or v.columns_flipped for v in VIEWS] == used.tolist()
    logits = torch.arange(len(VIEWS) * 8 * 8, dtype=torch.float32).reshape(len(VIEWS), 1, 8, 8)
    one = [View(False, False, 0), View(False, False, HALF_PATCH)]
    moved = torch.zeros(2, 1, 8, 8)
    moved[0] = 1.0
    moved[1, 0, 2:, 2:] = 3.0  # the moved view sees the input's cells from (2, 2) on, moved by 2
    mean = mean_of_views(moved, torch.tensor([True, True]), one)[0, 0]
    assert (mean[:6, :6] == 2.0).all() and (mean[6:, :] == 1.0).all() and (mean[:, 6:] == 1.0).all()
    assert torch.isfinite(mean_of_views(logits, used)).all()


def test_averaged_views_give_the_mirrored_mask_of_a_mirrored_image(embedded):
    """The mean over the four mirrors (each also moved) is itself mirror-symmetric: predicting on
    the input flipped left-right, with the click and box flipped, gives the mask flipped. An
    off-by-one in the points' or the box's views breaks it. (On the model's 256 x 256 input itself:
    an image of another size is read with the reference's convention, pixel x at x * 256 / width,
    which is not mirror-symmetric by half a pixel.)"""
    sim = simulate_timelapse(SimulationConfig(num_frames=1, height=256, width=256), EVALUATION_SEEDS + 3)
    truth = sim.labels[0] == int(np.unique(sim.labels[0])[1])
    (x, y), _ = central_click(truth)
    ys, xs = np.nonzero(truth)
    predictor, flipped = ImagePredictor(embedded), ImagePredictor(embedded)
    tensor, hw = preprocess(sim.frames[0], 256)
    predictor.set_model_input(tensor, hw)
    flipped.set_model_input(tensor.flip(-1), hw)
    click = predictor.predict(points=[[x, y]], labels=[1], return_logits=True)
    mirror = flipped.predict(points=[[255 - x, y]], labels=[1], return_logits=True)
    assert np.allclose(click.masks[:, :, ::-1], mirror.masks, atol=1e-3) and np.allclose(click.scores, mirror.scores, atol=1e-5)
    box = predictor.predict(box=[xs.min(), ys.min(), xs.max(), ys.max()], multimask=False, return_logits=True)
    mirror = flipped.predict(box=[255 - xs.max(), ys.min(), 255 - xs.min(), ys.max()], multimask=False, return_logits=True)
    assert np.allclose(box.masks[:, :, ::-1], mirror.masks, atol=1e-3)


def test_one_click_on_held_out_simulated_frames_is_better_with_averaged_views(embedded):
    """Frame 0 of 6 held-out sequences, a click at each nucleus' centre, the best of 3 masks: the
    image alone gives mean IoU 0.824, its views 0.893 (132 cells of 20 sequences, J&F: README,
    "Averaged views")."""
    ious = {True: [], False: []}
    for frame, cells in held_out_first_frames(6):
        for views in ious:
            predictor = ImagePredictor(embedded, averaged_views=views)
            predictor.set_image(frame)
            for truth, click_xy in cells:
                click = predictor.predict(points=[click_xy], labels=[1])
                ious[views].append(region_similarity(click.masks[click.best], truth))
    assert np.mean(ious[True]) > np.mean(ious[False]) + 0.02, {k: np.mean(v) for k, v in ious.items()}
    assert np.mean(ious[True]) > 0.86


def test_views_are_averaged_by_default_for_the_embedded_model_only(embedded):
    """8 embeddings of an official 1024 px model would make every new image several seconds
    slower on a CPU: those get the image alone unless asked for."""
    assert ImagePredictor(embedded).views == VIEWS
    assert views_for(1024) == ONE_VIEW
    assert views_for(1024, averaged_views=True) == VIEWS
    assert ImagePredictor(embedded, averaged_views=False).views == ONE_VIEW


def test_a_tracker_decodes_a_first_click_in_the_views_and_remembers_the_better_mask(embedded):
    """A click with no memory yet goes through the same views as in ImagePredictor: on frame 0 of
    4 held-out sequences the clicked masks are better than the frame's alone, and what the
    tracker remembers (the frame's output, which later frames are tracked from) is that mask."""
    ious = {True: [], False: []}
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + 4):
        sim = simulate_timelapse(SimulationConfig(num_frames=2), seed)
        cells = [int(c) for c in np.unique(sim.labels[0]) if c]
        for views in ious:
            tracker = VideoTracker(embedded, ArrayFrames(sim.frames), averaged_views=views)
            assert len(tracker.views) == (len(VIEWS) if views else 1)
            for cell in cells:
                (x, y), _ = central_click(sim.labels[0] == cell)
                tracker.add_points(0, cell, [[x, y]], [1])
            masks = tracker.frame_result(0).masks
            ious[views] += [region_similarity(masks[cell], sim.labels[0] == cell) for cell in cells]
    assert np.mean(ious[True]) > np.mean(ious[False]) + 0.02, {k: np.mean(v) for k, v in ious.items()}
