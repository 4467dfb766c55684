"""Box prompts (issue 19): the embedded model given a box alone segments nucleus-like texture in
and around it; the engine gives it the box with a click at its centre and keeps the mask inside
the box (MaskCleanup.box_centre_click, .inside_box), unless the clean-up is off."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from held_out_cells import held_out_first_frames
from napari_sam2 import ImagePredictor, MaskCleanup, load_model
from napari_sam2.engine.postprocess import overlapping_box, prompt_in_logits
from napari_sam2.engine.prompts import check_prompt, model_points, with_box_centre_click
from napari_sam2.evaluation import central_click, region_similarity
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


def test_a_box_without_a_positive_click_gets_one_at_its_centre():
    boxed = with_box_centre_click(check_prompt((50, 60), box=[10, 4, 30, 20]))
    assert boxed.points.tolist() == [[20.0, 12.0]] and boxed.labels.tolist() == [1]
    negative = with_box_centre_click(check_prompt((50, 60), [[12, 6]], [0], box=[10, 4, 30, 20]))
    assert negative.points.tolist() == [[12.0, 6.0], [20.0, 12.0]] and negative.labels.tolist() == [0, 1]
    clicked = check_prompt((50, 60), [[25, 15]], [1], box=[10, 4, 30, 20])
    assert with_box_centre_click(clicked) is clicked
    click_only = check_prompt((50, 60), [[25, 15]], [1])
    assert with_box_centre_click(click_only) is click_only
    coords, labels = model_points(boxed, (50, 60), 120)  # corners first, labels 2 and 3, then the click
    assert labels.tolist() == [[2, 3, 1]] and np.allclose(coords[0, 2], [40.0, 28.8])


def test_pixels_overlapping_a_box_and_the_box_among_prompt_points():
    inside = overlapping_box(np.array([2.5, 1.0, 5.5, 3.0]), (6, 8))  # pixel j spans [j, j + 1)
    assert np.flatnonzero(inside.any(0)).tolist() == [2, 3, 4, 5]
    assert np.flatnonzero(inside.any(1)).tolist() == [1, 2]



def test_the_clean_up_reads_box_and_clicks_in_the_pixels_of_any_logits_map():
    """One derivation for the image predictor (full-size logits) and the tracker (the model's
    low-resolution square logits). Pixel j spans [j, j + 1) there: the box's corners on pixel
    centres (2, 1) and (5, 3) lie at (2.5, 1.5) and (5.5, 3.5)."""
    prompt = check_prompt((40, 80), [[6, 5]], [1], box=[2, 1, 5, 3])
    points = model_points(prompt, (40, 80), 256)
    anchors, box = prompt_in_logits(points, (40, 80), 256, (40, 80))
    assert np.allclose(box, [2.5, 1.5, 5.5, 3.5]) and np.allclose(anchors, [[6.5, 5.5]])
    anchors, box = prompt_in_logits(points, (40, 80), 256, (64, 64))  # x 0.8, y 1.6
    assert np.allclose(box, [2.0, 2.4, 4.4, 5.6]) and np.allclose(anchors, [[5.2, 8.8]])
    negative_only = model_points(check_prompt((40, 80), [[6, 5]], [0]), (40, 80), 256)
    assert prompt_in_logits(negative_only, (40, 80), 256, (40, 80)) == (None, None)
    assert prompt_in_logits(None, (40, 80), 256, (40, 80)) == (None, None)


def test_the_clean_up_removes_what_lies_outside_a_box_before_choosing_the_piece():
    """The larger piece lies outside the box: clipped away, the piece in the box is kept."""
    logits = torch.full((1, 1, 40, 40), -5.0)
    logits[0, 0, 2:20, 2:20] = 5.0  # 324 px, mostly outside the box
    logits[0, 0, 25:35, 25:35] = 5.0  # 100 px, in the box
    box = np.array([18.0, 18.0, 36.0, 36.0])
    kept = MaskCleanup().apply(logits, None, box)[0, 0] > 0
    assert kept[25:35, 25:35].all() and kept.sum() == 100
    corner = MaskCleanup(keep_one_piece=False).apply(logits, None, box)[0, 0] > 0
    assert corner.sum() == 100 + 4 and corner[18:20, 18:20].all()  # only the clip: 2 x 2 of the other piece
    assert (MaskCleanup(inside_box=False).apply(logits, None, box)[0, 0] > 0).sum() == 324
    assert torch.equal(MaskCleanup.off().apply(logits, None, box), logits)


@pytest.fixture(scope="module")
def embedded():
    return load_model(device="cpu")


def frame_ious(model, cleanup: MaskCleanup, sequences: int = 4) -> tuple[list[float], list[float], int]:
    """Frame 0 of held-out simulated time-lapses (simulator defaults): per cell the IoU of one
    click at its centre (the best of 3 masks) and of its tight box; and the masks' pixels outside
    their boxes."""
    clicks, boxes, outside = [], [], 0
    for frame, cells in held_out_first_frames(sequences):
        predictor = ImagePredictor(model, cleanup=cleanup)
        predictor.set_image(frame)
        for truth, click_xy in cells:
            click = predictor.predict(points=[click_xy], labels=[1])
            clicks.append(region_similarity(click.masks[click.best], truth))
            ys, xs = np.nonzero(truth)
            box = predictor.predict(box=[xs.min(), ys.min(), xs.max(), ys.max()], multimask=False).masks[0]
            boxes.append(region_similarity(box, truth))
            outside += int((box & ~overlapping_box(np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]),
                                                   truth.shape)).sum())
    return clicks, boxes, outside


def test_a_box_segments_a_nucleus_as_well_as_a_click(embedded):
    """Measured on frame 0 of the 20 held-out sequences (132 cells): a box alone 0.67 against 0.83
    for a click, with the rule 0.89."""
    clicks, boxes, outside = frame_ious(embedded, MaskCleanup())
    assert np.mean(boxes) >= np.mean(clicks) - 0.05 and np.mean(boxes) > 0.8
    assert outside == 0
    _, plain, plain_outside = frame_ious(embedded, MaskCleanup.off())
    assert np.mean(plain) < np.mean(boxes) - 0.05 and plain_outside > 0, "the model reads boxes well: nothing shown"


def test_the_tracker_reads_a_box_as_the_image_predictor_does(embedded):
    """The prompted frame's mask, which goes into memory: as good with a box as with a click, and
    nothing outside the box at the model's mask resolution."""
    from napari_sam2 import ArrayFrames, VideoTracker

    sim = simulate_timelapse(SimulationConfig(num_frames=2), EVALUATION_SEEDS + 1)
    clicked, boxed = (VideoTracker(embedded, ArrayFrames(sim.frames)) for _ in range(2))
    plain = VideoTracker(embedded, ArrayFrames(sim.frames), cleanup=MaskCleanup.off())
    ious = {"click": [], "box": [], "plain box": []}
    for cell in (int(c) for c in np.unique(sim.labels[0]) if c):
        truth = sim.labels[0] == cell
        (x, y), _ = central_click(truth)
        ious["click"].append(region_similarity(clicked.add_points(0, cell, [[x, y]], [1]).masks[cell], truth))
        ys, xs = np.nonzero(truth)
        box = [xs.min(), ys.min(), xs.max(), ys.max()]
        result = boxed.add_box(0, cell, box)
        ious["box"].append(region_similarity(result.masks[cell], truth))
        low = result.low_res_logits[list(result.masks).index(cell), 0]  # (4h, 4w)
        scale = low.shape[-1] / truth.shape[-1]
        inside = overlapping_box(np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]) * scale, low.shape)
        assert (low[torch.from_numpy(~inside)] <= 0).all()
        assert (low[torch.from_numpy(inside)] > 0).any()
        ious["plain box"].append(region_similarity(plain.add_box(0, cell, box).masks[cell], truth))
    means = {kind: float(np.mean(v)) for kind, v in ious.items()}
    assert means["box"] >= means["click"] - 0.05 and means["box"] > means["plain box"] + 0.05, means


def test_a_negative_click_in_the_middle_of_a_box_gets_no_centre_click_to_cancel_it(embedded):
    """A box with only a negative click on its centre meant "not here": the centre click put a
    positive click on the same spot and the mask came back empty. Now the box and the negative
    click go to the model as given. A negative click off the middle (on a neighbour spilling into
    the box) still gets the centre click."""
    at_centre = check_prompt((50, 60), [[21, 11]], [0], box=[10, 4, 30, 20])
    assert with_box_centre_click(at_centre) is at_centre
    off_middle = with_box_centre_click(check_prompt((50, 60), [[11, 5]], [0], box=[10, 4, 30, 20]))
    assert off_middle.labels.tolist() == [0, 1]
    sim = simulate_timelapse(SimulationConfig(num_frames=1), EVALUATION_SEEDS)
    predictor = ImagePredictor(embedded)
    predictor.set_image(sim.frames[0])
    truth = sim.labels[0] == int(np.unique(sim.labels[0])[1])
    ys, xs = np.nonzero(truth)
    box = [xs.min(), ys.min(), xs.max(), ys.max()]
    centre = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]
    mask = predictor.predict(points=[centre], labels=[0], box=box, multimask=False).masks[0]
    assert mask.any()


def test_a_box_to_the_frames_pixel_edges_is_the_whole_frame():
    """(0, 0, width, height), the frame's edges with pixel j over [j, j + 1), was refused as
    reaching outside the image; it is clipped to napari's pixel edges (width - 0.5). A box well
    outside is still refused."""
    from napari_sam2 import ArrayFrames, VideoTracker

    sim = simulate_timelapse(SimulationConfig(num_frames=2, height=96, width=128), EVALUATION_SEEDS)
    whole = check_prompt((96, 128), box=[0, 0, 128, 96])
    assert whole.box.tolist() == [0.0, 0.0, 127.5, 95.5]
    with pytest.raises(ValueError, match="outside the image"):
        check_prompt((96, 128), box=[0, 0, 129, 96])
    model = load_model(device="cpu")
    predictor = ImagePredictor(model)
    predictor.set_image(sim.frames[0])
    assert predictor.predict(box=[0, 0, 128, 96], multimask=False).masks.shape == (1, 96, 128)
    tracker = VideoTracker(model, ArrayFrames(sim.frames))
    assert tracker.add_box(0, 1, [0, 0, 128, 96]).masks[1].shape == (96, 128)
