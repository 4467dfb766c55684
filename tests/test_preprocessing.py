import numpy as np
import pytest
import torch

from napari_sam2.engine.preprocessing import REFERENCE, Normalization, preprocess, to_unit_rgb
from napari_sam2.testing.synthetic import nuclei_image, rgb_uint8


def test_uint8_rgb_equals_the_reference_transforms():
    from sam2.utils.transforms import SAM2Transforms

    image = rgb_uint8(seed=3, height=300, width=500)
    reference = SAM2Transforms(resolution=1024, mask_threshold=0.0)(image)[None]
    ours, hw = preprocess(image, 1024, norm=REFERENCE)
    assert hw == (300, 500)
    assert ours.shape == reference.shape == (1, 3, 1024, 1024)
    assert torch.allclose(ours, reference, atol=1e-6, rtol=0)


def test_uint16_keeps_its_contrast():
    image, labels = nuclei_image(200, 260, num=5, seed=1, dtype=np.uint16)
    assert image.max() < 4096  # a 12-bit camera in a 16-bit container: /65535 would be nearly black
    unit = to_unit_rgb(image[..., None], Normalization())
    assert unit.min() == 0.0 and unit.max() == 1.0
    assert unit[labels > 0].mean() > 3 * unit[labels == 0].mean()


def test_grayscale_is_repeated_into_rgb_and_float_works():
    image, _ = nuclei_image(64, 80, num=2, seed=2, dtype=np.float32)
    tensor, hw = preprocess(image, 128)
    assert hw == (64, 80)
    assert torch.equal(tensor[0, 0] * 0.229 + 0.485, tensor[0, 0] * 0.229 + 0.485)
    unnormalised = (tensor[0] * torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
                    + torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1))
    assert torch.allclose(unnormalised[0], unnormalised[1], atol=1e-5)
    assert torch.allclose(unnormalised[0], unnormalised[2], atol=1e-5)


def test_photograph_mode_makes_two_channels_red_and_green():
    a, _ = nuclei_image(64, 64, num=2, seed=4)
    b, _ = nuclei_image(64, 64, num=2, seed=5)
    tensor, _ = preprocess(np.stack([a, b], -1), 64, norm=REFERENCE)
    blue = tensor[0, 2] * 0.225 + 0.406
    assert torch.allclose(blue, torch.zeros_like(blue), atol=1e-5)


def test_microscopy_mode_merges_channels_into_the_brightest_as_grey():
    a, _ = nuclei_image(64, 64, num=2, seed=4)
    b, _ = nuclei_image(64, 64, num=2, seed=5)
    unit = to_unit_rgb(np.stack([a, b // 3], -1), Normalization())
    expected = np.maximum(to_unit_rgb(a[..., None], Normalization()), to_unit_rgb(b[..., None] // 3, Normalization()))
    np.testing.assert_allclose(unit, expected, atol=1e-6)
    assert np.array_equal(unit[..., 0], unit[..., 2])  # grey: the same in R, G and B


def test_more_channels_pick_three_and_channels_first():
    channels = np.stack([nuclei_image(64, 64, 2, seed=s)[0] for s in range(5)])  # (C, H, W)
    picked, hw = preprocess(channels, 64, channel_axis=0, channels=(4, 1, 0))
    reference, _ = preprocess(np.stack([channels[4], channels[1], channels[0]], -1), 64)
    assert hw == (64, 64)
    assert torch.equal(picked, reference)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.full((50, 60), 7, np.uint16), "constant"),
        (np.where(np.eye(50, 60) > 0, np.nan, 1.0), "NaN"),
        (np.zeros((2, 3, 40, 40), np.uint8), "2-D image"),
        (np.zeros((5,), np.uint8), "2-D image"),
        (np.random.default_rng(0).random((3, 40, 40)).transpose(1, 2, 0).repeat(10, -1), "too many for channels"),
    ],
)
def test_unusable_images_are_refused_with_the_reason(image, message):
    with pytest.raises(ValueError, match=message):
        preprocess(image, 64)


def test_channel_selection_out_of_range():
    image = np.random.default_rng(0).random((32, 32, 4))
    with pytest.raises(ValueError, match="channels="):
        preprocess(image, 64, channels=(0, 5))
