"""A click's mask spread over neighbouring nuclei is asked again with them as negative clicks
(MaskCleanup.exclude_neighbours, engine/neighbour_clicks.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2 import MaskCleanup, TiledImagePredictor, TiledVideoTracker, load_model
from napari_sam2.engine.neighbour_clicks import neighbour_clicks, with_neighbour_clicks
from napari_sam2.engine.preprocessing import Normalization, preprocess
from napari_sam2.engine.prompts import check_prompt
from napari_sam2.evaluation import central_click, region_similarity
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

DIAMETER = 20.0


def two_touching_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """(image (64, 96) float, labels (64, 96)): two nuclei of 20 px side by side, touching, each
    brightest at its centre (as stained nuclei are), over a dim background."""
    rows, cols = np.mgrid[:64, :96]
    labels = np.zeros((64, 96), np.int32)
    image = np.full((64, 96), 0.05)
    for label, centre_col in ((1, 38), (2, 58)):
        radius = np.hypot(rows - 32, cols - centre_col)
        labels[(radius <= 10) & (labels == 0)] = label
        image = np.maximum(image, np.where(radius <= 10, 0.6 + 0.4 * (1 - radius / 10), 0))
    return image, labels


def test_a_mask_over_two_nuclei_gets_a_negative_click_on_the_other_one_only():
    image, labels = two_touching_nuclei()
    both = labels > 0
    found = neighbour_clicks(both, np.array([[38.0, 32.0]]), image, DIAMETER)
    assert found.shape == (1, 2)
    assert np.hypot(*(found[0] - [58, 32])) <= 3  # on the other nucleus' centre
    # a mask of about one cell is left as it is, and so is a cluster with no other nucleus in it
    assert len(neighbour_clicks(labels == 1, np.array([[38.0, 32.0]]), image, DIAMETER)) == 0
    assert len(neighbour_clicks(both, np.array([[38.0, 32.0], [58.0, 32.0]]), image, DIAMETER)) == 0


def test_the_users_own_prompt_stands_and_no_diameter_means_no_rule():
    image, labels = two_touching_nuclei()
    model_input, _ = preprocess(image, 256, norm=Normalization())
    both = labels > 0
    click = check_prompt((64, 96), points=[[38, 32]], labels=[1])
    again = with_neighbour_clicks(click, both, model_input, DIAMETER)
    assert again is not None and again.labels.tolist() == [1, 0]
    assert np.hypot(*(again.points[1] - [58, 32])) <= 3
    for prompt in (check_prompt((64, 96), points=[[38, 32], [70, 32]], labels=[1, 0]),  # a negative click of the user's
                   check_prompt((64, 96), points=[[38, 32]], labels=[1], box=[26, 20, 50, 44]),
                   check_prompt((64, 96), mask=both)):
        assert with_neighbour_clicks(prompt, both, model_input, DIAMETER) is None
    assert with_neighbour_clicks(click, both, model_input, None) is None


SPILLING_SEED = EVALUATION_SEEDS + 510  # a held-out frame where one click on a clustered nucleus took its neighbours
SPILLING_CELL = 3


@pytest.fixture(scope="module")
def embedded_model():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def clustered_frame():
    sim = simulate_timelapse(SimulationConfig(num_frames=1, cluster_fraction=0.8), seed=SPILLING_SEED)
    truth = sim.labels[0]
    _, areas = np.unique(truth[truth > 0], return_counts=True)
    return sim.frames[0], truth, float(np.median(2 * np.sqrt(areas / np.pi)))


@pytest.mark.parametrize("kind", ["image predictor", "video tracker"])
def test_a_click_on_a_clustered_nucleus_keeps_to_it(embedded_model, clustered_frame, kind):
    """The model's mask for one click holds the clicked nucleus and its neighbours (more than twice
    its area, IoU under 0.5); asked again with the neighbours as negative clicks it is the nucleus,
    in the single-image predictor (segment) and in the tracker the plugin clicks in."""
    torch.manual_seed(0)
    frame, truth, diameter = clustered_frame
    cell = truth == SPILLING_CELL
    (x, y), _ = central_click(cell)

    def clicked_mask(cleanup: MaskCleanup) -> np.ndarray:
        if kind == "image predictor":
            predictor = TiledImagePredictor(embedded_model, cell_diameter=diameter, cleanup=cleanup)
            predictor.set_image(frame)
            prediction = predictor.predict(points=[[x, y]], labels=[1])
            assert prediction.masks.shape[0] == 3  # asked again or not, one click keeps its three candidates
            return prediction.masks[prediction.best]
        tracker = TiledVideoTracker(embedded_model, frame[None], cell_diameter=diameter, cleanup=cleanup)
        return tracker.add_points(0, 1, points=[[x, y]], labels=[1]).masks[1]

    spilled, kept = clicked_mask(MaskCleanup(exclude_neighbours=False)), clicked_mask(MaskCleanup())
    assert spilled.sum() > 2 * cell.sum() and region_similarity(spilled, cell) < 0.5
    assert region_similarity(kept, cell) > 0.6
    others = (truth > 0) & ~cell
    assert (kept & others).sum() < 0.5 * (spilled & others).sum()  # most of what it took of the neighbours given back
