"""The image predictor on microscopy-like inputs, with a small random-weight model."""
import numpy as np
import pytest

from napari_sam2.engine import ImagePredictor
from napari_sam2.engine.prompts import clip_box, inside_image
from napari_sam2.testing.synthetic import nuclei_image, rgb_uint8


@pytest.fixture()
def predictor(micro_model):
    p = ImagePredictor(micro_model)
    image, _ = nuclei_image(120, 160, num=4, seed=0)
    p.set_image(image)
    return p


@pytest.mark.parametrize(
    "image",
    [
        nuclei_image(90, 130, 3, seed=1, dtype=np.uint16)[0],
        nuclei_image(90, 130, 3, seed=1, dtype=np.float32)[0],
        nuclei_image(90, 130, 3, seed=1, dtype=np.uint8)[0],
        rgb_uint8(1, 90, 130),
        np.stack([nuclei_image(90, 130, 3, seed=s)[0] for s in range(5)], -1),
    ],
    ids=["uint16", "float32", "uint8", "rgb", "5-channel"],
)
def test_masks_come_back_at_the_original_resolution(micro_model, image):
    p = ImagePredictor(micro_model)
    p.set_image(image)
    pred = p.predict(points=[[60, 40]], labels=[1])
    assert pred.masks.shape == (3, 90, 130) and pred.masks.dtype == bool
    assert pred.scores.shape == (3,)
    assert pred.low_res_logits.shape == (3, 64, 64)
    single = p.predict(points=[[60, 40], [10, 80]], labels=[1, 0], box=[30, 20, 100, 70], multimask=False)
    assert single.masks.shape == (1, 90, 130)


def test_mask_prompts_and_refinement(predictor):
    mask = np.zeros((120, 160), bool)
    mask[40:70, 50:90] = True
    from_mask = predictor.predict(mask=mask, multimask=False)
    refined = predictor.predict(points=[[60, 50]], labels=[1], mask_logits=from_mask.low_res_logits, multimask=False)
    plain = predictor.predict(points=[[60, 50]], labels=[1], multimask=False)
    assert refined.masks.shape == (1, 120, 160)
    assert not np.allclose(refined.low_res_logits, plain.low_res_logits)  # the mask input is used


def test_predict_before_set_image(micro_model):
    with pytest.raises(RuntimeError, match="set_image"):
        ImagePredictor(micro_model).predict(points=[[1, 1]], labels=[1])


@pytest.mark.parametrize(
    "prompt, message",
    [
        (dict(points=[[160.2, 10]], labels=[1]), "outside the image"),
        (dict(points=[[10, -3]], labels=[1]), "outside the image"),
        (dict(points=[[10, 10], [20, 20]], labels=[1]), "2 points but 1 labels"),
        (dict(points=[[10, 10]]), "points and labels go together"),
        (dict(points=[[10, 10]], labels=[2]), "labels must be 1"),
        (dict(box=[50, 20, 50, 60]), "zero area"),
        (dict(box=[90, 60, 20, 10]), "reversed corners"),
        (dict(box=[10, 10, 400, 60]), "outside the image"),
        (dict(mask=np.ones((10, 10), bool)), "does not match"),
        (dict(mask=np.zeros((120, 160), bool)), "empty"),
        (dict(mask_logits=np.zeros((1, 32, 32))), "mask_logits must be"),
        (dict(), "no prompt"),
    ],
)
def test_bad_prompts_are_refused_and_change_nothing(predictor, prompt, message):
    before = predictor.predict(points=[[80, 60]], labels=[1])
    with pytest.raises(ValueError, match=message):
        predictor.predict(**prompt)
    after = predictor.predict(points=[[80, 60]], labels=[1])
    np.testing.assert_array_equal(before.low_res_logits, after.low_res_logits)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.full((50, 60), 3.0), "constant"),
        (np.full((50, 60), np.nan), "NaN"),
        (np.zeros((4, 50, 60, 2), np.uint16), "2-D image"),
    ],
)
def test_a_bad_image_is_refused_and_the_previous_one_stays(predictor, image, message):
    before = predictor.predict(points=[[80, 60]], labels=[1])
    with pytest.raises(ValueError, match=message):
        predictor.set_image(image)
    assert predictor.image_hw == (120, 160)
    after = predictor.predict(points=[[80, 60]], labels=[1])
    np.testing.assert_array_equal(before.low_res_logits, after.low_res_logits)


def test_inside_and_clipping_follow_napari_pixel_edges():
    assert inside_image(-0.5, 95.5, (96, 128)) and inside_image(127.4, 0, (96, 128))
    assert not inside_image(128.0, 10, (96, 128)) and not inside_image(10, -0.6, (96, 128))
    assert clip_box((-10, 5, 50, 200), (96, 128)) == (-0.5, 5, 50, 95.5)
    assert clip_box((130, 5, 150, 20), (96, 128)) is None
