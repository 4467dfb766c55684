"""Labels grown to the cells' outlines in the image (engine/cell_outlines.py): on textured nuclei
drawn here, and in the cell tracker on a held-out realistic simulated time-lapse."""
from dataclasses import replace

import numpy as np
import pytest

from napari_sam2.engine import load_model
from napari_sam2.engine.cell_outlines import grown_to_outlines
from napari_sam2.engine.cell_tracker import CellTracker, CellTrackingParams
from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_timelapse


def _disk(shape, centre, radius) -> np.ndarray:
    rows, cols = np.indices(shape)
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def _textured_nuclei(seed: int = 0):
    """(image, nucleus A, nucleus B): two touching nuclei of radius 14 px with chromatin speckles,
    dark nucleoli and a dim halo around A, on a noisy background, as a confocal frame shows them."""
    rng = np.random.default_rng(seed)
    shape = (96, 120)
    a, b = _disk(shape, (48, 40), 14), _disk(shape, (48, 67), 14)
    image = 0.05 + 0.02 * rng.standard_normal(shape)
    image[_disk(shape, (48, 40), 24)] += 0.12  # the cytoplasm's halo
    for nucleus, level in ((a, 0.8), (b, 0.55)):  # nuclei of unlike brightness
        image[nucleus] = level + 0.15 * rng.standard_normal(nucleus.sum())  # chromatin texture
    image[_disk(shape, (44, 36), 3) | _disk(shape, (53, 70), 3)] = 0.15  # nucleoli
    image[_disk(shape, (48, 53), 2)] = 0.2  # the dim gap where they touch
    return image.astype(np.float32), a, b


def test_a_label_over_part_of_a_textured_nucleus_grows_to_the_nucleus_and_not_over_its_neighbour():
    image, a, b = _textured_nuclei()
    labels = np.zeros(image.shape, np.uint32)
    rows, cols = np.indices(image.shape)
    labels[a & (cols < 46) & (rows > 39)] = 3  # the model's masks: A without its top and right (5-9 px)
    labels[_disk(image.shape, (48, 67), 9)] = 9  # the middle of B
    grown = grown_to_outlines(image, labels, reach=6, window=28)
    assert set(np.unique(grown).tolist()) == {0, 3, 9}
    assert (grown[labels != 0] == labels[labels != 0]).all()  # growth only: no pixel taken off
    for label, nucleus in ((3, a), (9, b)):
        before, covered = (labels == label)[nucleus].mean(), (grown == label)[nucleus].mean()
        assert before <= 0.7 and covered >= 0.9, (label, before, covered)
        outside = ((grown == label) & ~nucleus).sum()
        assert outside <= 0.1 * nucleus.sum(), (label, outside)  # not over the halo nor the neighbour


def test_no_growth_without_reach_labels_or_contrast():
    image, a, _ = _textured_nuclei()
    labels = np.where(a & (np.indices(image.shape)[0] < 48), 5, 0).astype(np.uint16)
    for args in ((image, labels, 0, 28), (image, np.zeros_like(labels), 6, 28), (np.full(image.shape, 0.3), labels, 6, 28)):
        out = grown_to_outlines(*args)
        assert out.dtype == args[1].dtype and (out == args[1]).all()
        assert out is not args[1]  # a new array: the caller's labels are never changed in place


@pytest.fixture(scope="module")
def realistic_run():
    """A held-out realistic simulated time-lapse (textured nuclei of varied brightness, halos),
    tracked with labels grown (the default) and as the model's masks (outline_reach=0)."""
    sim = simulate_timelapse(realistic_config(height=128, width=128, num_frames=4), EVALUATION_SEEDS + 650)
    model = load_model(device="cpu")
    runs = {}
    for reach in (None, 0):
        params = CellTrackingParams() if reach is None else replace(CellTrackingParams(), outline_reach=0)
        frames = [f for f in CellTracker(model, sim.frames, params=params).run() if not f.again]
        runs[reach] = np.stack([f.labels for f in frames])
    return sim, runs


def _seg(labels: np.ndarray, truth: np.ndarray) -> float:
    """The CTC's SEG: mean IoU of each true cell with the label covering more than half of it (0 if none)."""
    scores = []
    for t in range(len(truth)):
        for cell in np.unique(truth[t])[1:]:
            mask = truth[t] == cell
            ids, counts = np.unique(labels[t][mask], return_counts=True)
            best = ids[np.argmax(counts)]
            if best and counts.max() > mask.sum() / 2:
                scores.append((mask & (labels[t] == best)).sum() / (mask | (labels[t] == best)).sum())
            else:
                scores.append(0.0)
    return float(np.mean(scores))


def test_the_cell_tracker_writes_labels_grown_from_the_models_masks_and_closer_to_the_cells(realistic_run):
    sim, runs = realistic_run
    grown, as_model = runs[None], runs[0]
    assert (grown[as_model != 0] == as_model[as_model != 0]).all()  # the same tracking, grown
    assert (grown != 0).sum() > (as_model != 0).sum()
    assert _seg(grown, sim.labels) > _seg(as_model, sim.labels)


def test_the_reach_scales_with_the_cells_and_refuses_a_negative_distance():
    assert CellTrackingParams().for_cells(40.0).outline_reach == 2 * CellTrackingParams().outline_reach
    assert replace(CellTrackingParams(), outline_reach=0).for_cells(40.0).outline_reach == 0  # off stays off
    with pytest.raises(ValueError, match="outline_reach is a distance in pixels"):
        CellTrackingParams(outline_reach=-1)


def test_masks_the_user_gave_are_written_as_given():
    image, a, b = _textured_nuclei()
    labels = np.zeros(image.shape, np.uint32)
    rows, cols = np.indices(image.shape)
    labels[a & (cols < 46) & (rows > 39)] = 3
    labels[_disk(image.shape, (48, 67), 9)] = 9
    grown = grown_to_outlines(image, labels, reach=6, window=28, as_given={3})
    assert ((grown == 3) == (labels == 3)).all()  # the user's mask, pixel for pixel
    assert (grown == 9).sum() > (labels == 9).sum()  # the model's mask beside it grows


def test_seeds_from_another_tool_are_written_as_given_on_their_frame(realistic_run):
    sim, _ = realistic_run
    seeds = sim.labels[0]
    first = next(iter(CellTracker(load_model(device="cpu"), sim.frames[:2], seeds=seeds).run()))
    assert first.frame == 0 and first.labels.any()
    assert not first.labels[seeds == 0].any()  # no seed grown beyond the pixels it was given
