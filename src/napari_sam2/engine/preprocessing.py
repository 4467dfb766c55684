"""From a microscopy image to the model's input: intensities to [0, 1], channels to RGB,
resize to the model's square input, ImageNet normalisation.

The rule, decided once (see README, "Image normalisation"):
- uint8 images are divided by 255, exactly like the reference `sam2` does for photographs;
- every other dtype (uint16, int, float) is stretched per channel between its 0.5th and
  99.5th percentiles and clipped to [0, 1], so 16-bit data keeps its contrast whatever the
  camera's range;
- 1 channel is repeated into R, G and B; 2 channels become R and G (B = 0); 3 are RGB; more
  than 3 need `channels=` to pick three (by default the first three).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .indices import axis_index

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_CHANNELS = 16  # a longer last axis is a stack or channels-first, not channels


@dataclass(frozen=True)
class Normalization:
    """How intensities are brought to [0, 1] for dtypes other than uint8."""

    low_percentile: float = 0.5
    high_percentile: float = 99.5


def as_channels_last(image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """2-D (H, W) or 3-D with a channel axis -> (H, W, C); checks what the user gave us."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image[..., None]
    if image.ndim != 3:
        raise ValueError(
            f"expected a 2-D image (H, W) or a 3-D image with channels (H, W, C), got shape {image.shape}; "
            "for a time-lapse or z-stack pass one frame, or use the video tracker"
        )
    if channel_axis is None and image.shape[-1] > MAX_CHANNELS:
        raise ValueError(
            f"the last axis of shape {image.shape} has {image.shape[-1]} entries, too many for channels; "
            "if the channels come first pass channel_axis=0, and for a stack of frames pass one frame"
        )
    axis = -1 if channel_axis is None else axis_index(channel_axis, image.ndim, "channel_axis")
    return np.moveaxis(image, axis, -1)


def check_finite(image: np.ndarray) -> None:
    """Refuse NaN or infinite pixels (left by registration, deconvolution or a division by zero):
    they would spread through the model and every mask would fail."""
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        bad = int((~np.isfinite(image)).sum())
        raise ValueError(
            f"the image has {bad:,} pixels that hold no number (NaN) or an infinite value, and the model "
            "cannot read them; replace them by 0 or the background (Fiji: Process > Math > Remove NaNs; "
            "Python: numpy.nan_to_num) and open the image again"
        )


def check_values(image: np.ndarray) -> None:
    """Refuse images the model cannot see anything in, with the reason."""
    if image.size == 0 or min(image.shape[:2]) < 2:
        raise ValueError(f"the image is too small to segment: shape {image.shape}")
    if image.dtype.kind not in "uif b":
        raise ValueError(f"unsupported pixel type {image.dtype}; use an integer or float image")
    check_finite(image)
    lo, hi = image.min(), image.max()
    if lo == hi:
        raise ValueError(f"the image is constant (every pixel is {lo}); there is nothing to segment")


def select_rgb(image: np.ndarray, channels: tuple[int, ...] | None) -> np.ndarray:
    """(H, W, C) -> (H, W, 3) by the channel rule in the module docstring."""
    num = image.shape[-1]
    if channels is not None:
        if not 1 <= len(channels) <= 3 or any(not -num <= c < num for c in channels):
            raise ValueError(f"channels={channels} must name 1 to 3 of the image's {num} channels")
        image = image[..., list(channels)]
        num = image.shape[-1]
    if num == 1:
        return np.repeat(image, 3, axis=-1)
    if num == 2:
        return np.concatenate([image, np.zeros_like(image[..., :1])], axis=-1)
    return image[..., :3]


def to_unit_range(rgb: np.ndarray, norm: Normalization) -> np.ndarray:
    """(H, W, 3) any dtype -> float32 in [0, 1]."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    out = np.empty(rgb.shape, dtype=np.float32)
    for c in range(rgb.shape[-1]):
        channel = rgb[..., c].astype(np.float32)
        lo, hi = np.percentile(channel, [norm.low_percentile, norm.high_percentile])
        if hi <= lo:  # a flat channel (e.g. the empty blue of a 2-channel image)
            lo, hi = channel.min(), channel.max()
        out[..., c] = np.clip((channel - lo) / (hi - lo), 0, 1) if hi > lo else 0.0
    return out


def to_model_input(unit_rgb: np.ndarray, size: int) -> torch.Tensor:
    """(H, W, 3) float in [0, 1] -> (1, 3, size, size) resized (bilinear, antialiased) and
    normalised with the ImageNet mean and standard deviation."""
    x = torch.from_numpy(np.ascontiguousarray(unit_rgb.transpose(2, 0, 1))).unsqueeze(0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return imagenet_normalize(x)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """(1, 3, h, w) float in [0, 1] -> the same normalised with the ImageNet mean and std."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def preprocess(
    image: np.ndarray,
    size: int,
    channel_axis: int | None = None,
    channels: tuple[int, ...] | None = None,
    norm: Normalization = Normalization(),
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Any supported image -> ((1, 3, size, size) float32 model input, the image's (H, W))."""
    hwc = as_channels_last(image, channel_axis)
    check_values(hwc)
    tensor = to_model_input(to_unit_range(select_rgb(hwc, channels), norm), size)
    return tensor, (hwc.shape[0], hwc.shape[1])
