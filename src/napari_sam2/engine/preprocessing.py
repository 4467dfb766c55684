"""From a microscopy image to the model's input: intensities to [0, 1], channels to RGB,
resize to the model's square input, ImageNet normalisation.

The rule, decided once (see README, "Image normalisation"). Two modes:
- "microscopy" (the default): every dtype, uint8 included, is stretched per channel between its
  0.5th and 99.5th percentiles (the high one raised on a sparse frame: high_rank) and clipped to
  [0, 1], so a dim 8-bit frame (maximum 60) or a
  12-bit camera in a 16-bit container keeps its contrast; several channels (an RGB export of a
  fluorescence channel in orange or green, or a merge of stains) become one grey image, the
  brightest stretched channel at each pixel, repeated into R, G and B: the colour of a
  fluorescence image is its display lookup table, not information, and an orange nucleus must
  look like the same nucleus in grey. `channels=` picks which channels are merged.
- "photograph": the reference `sam2`'s preprocessing, for photograph-like RGB (brightfield,
  histology) and for the parity tests: uint8 divided by 255 exactly; other dtypes stretched
  per channel; 1 channel repeated into R, G and B, 2 channels become R and G (B = 0), 3 are RGB,
  more need `channels=` to pick three (by default the first three).

Percentiles come from each frame by default, or (scope="video") from a sample of the video's
frames, the same levels for every frame: an empty, out-of-focus slice of a z-stack then stays
dark instead of having its noise stretched to full contrast.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage.filters import threshold_otsu

from .indices import axis_index

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MAX_CHANNELS = 16  # a longer last axis is a stack or channels-first, not channels
MICROSCOPY, PHOTOGRAPH = "microscopy", "photograph"
FRAME, VIDEO = "frame", "video"


@dataclass(frozen=True)
class Normalization:
    """How intensities are brought to [0, 1] and channels to the model's RGB (module docstring).

    mode: "microscopy" (default) or "photograph" (the reference's uint8 / 255 and colour).
    scope: "frame" (percentiles of each frame) or "video" (of a sample of the whole video's
    frames; a single image is its own video)."""

    low_percentile: float = 0.5
    high_percentile: float = 99.5
    mode: str = MICROSCOPY
    scope: str = FRAME

    def __post_init__(self) -> None:
        if self.mode not in (MICROSCOPY, PHOTOGRAPH):
            raise ValueError(f"normalization mode must be {MICROSCOPY!r} or {PHOTOGRAPH!r}, got {self.mode!r}")
        if self.scope not in (FRAME, VIDEO):
            raise ValueError(f"normalization scope must be {FRAME!r} or {VIDEO!r}, got {self.scope!r}")
        if not 0 <= self.low_percentile < self.high_percentile <= 100:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {self.low_percentile} and {self.high_percentile}"
            )


REFERENCE = Normalization(mode=PHOTOGRAPH)  # exactly the reference sam2's preprocessing of uint8 RGB


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


def is_blank(image) -> bool:
    """Whether every pixel of an image has one value: it holds no cell, and the model cannot read it
    (check_values refuses it), so a time-lapse's blank frame is left out rather than stopping a run."""
    return bool(np.ptp(np.asarray(image)) == 0)


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


def pick_channels(image: np.ndarray, channels: tuple[int, ...] | None, mode: str) -> np.ndarray:
    """(H, W, C) -> (H, W, K): the channels named by `channels` (1 to 3 of them), else every
    channel in microscopy mode (all are merged) and the first three for a photograph."""
    num = image.shape[-1]
    if channels is not None:
        if not 1 <= len(channels) <= 3 or any(not -num <= c < num for c in channels):
            raise ValueError(f"channels={channels} must name 1 to 3 of the image's {num} channels")
        return image[..., list(channels)]
    return image if mode == MICROSCOPY else image[..., :3]


def channel_levels(pixels: np.ndarray, norm: Normalization) -> np.ndarray:
    """(..., K) intensities -> (K, 2) float32 (low, high) per channel: the norm's percentiles (the
    high one raised on a sparse channel, `high_rank`), or the channel's minimum and maximum where
    they meet (a nearly flat channel)."""
    flat = pixels.reshape(-1, pixels.shape[-1]).astype(np.float32)
    levels = np.array([np.percentile(channel, [norm.low_percentile, high_rank(channel, norm)]) for channel in flat.T])
    meet = levels[:, 1] <= levels[:, 0]
    levels[meet] = np.stack([flat.min(0), flat.max(0)], 1)[meet]
    return levels.astype(np.float32)


# The sparsest frames the embedded model was trained on had nuclei on about 3 % of their pixels
# (measured on the simulator's defaults at the training frame sides: 2.8 % to 23 %, median 6.5 %),
# so its high level, the 99.5th percentile, lay inside the nuclei and clipped at most about a
# sixth of their pixels (0.5 / 3).
SPARSEST_TRAINED_FOREGROUND = 0.03
HISTOGRAM_TOP = 99.99  # percentile: a few hot pixels above it do not squeeze Otsu's histogram


def high_rank(channel: np.ndarray, norm: Normalization) -> float:
    """The percentile a (N,) channel's high level is taken at: the norm's, unless the bright objects
    (Otsu's foreground) cover less than SPARSEST_TRAINED_FOREGROUND of the pixels; then it is
    raised so that it clips no more of the objects than on the sparsest training frames. Else, on
    a sparse frame (20 nuclei in 2048 x 2048 px: 0.2 % of the pixels), the high level lies in the
    background: its noise is stretched over the whole range and the nuclei are a flat white
    (measured: one-click IoU 0.32, masks spilling over the noise)."""
    clipped = 100.0 - norm.high_percentile
    if clipped == 0:
        return norm.high_percentile
    low, top = np.percentile(channel, [norm.low_percentile, max(HISTOGRAM_TOP, norm.high_percentile)])
    if top <= low:
        return norm.high_percentile
    counts, edges = np.histogram(channel, bins=256, range=(low, top))
    threshold = threshold_otsu(hist=(counts, (edges[:-1] + edges[1:]) / 2))
    foreground = np.count_nonzero(channel > threshold) / channel.size
    return 100.0 - clipped * min(1.0, foreground / SPARSEST_TRAINED_FOREGROUND)


def stretch(image: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """(H, W, K) -> float32 in [0, 1], channel k mapped from levels[k] = (low, high); a flat
    channel (low == high, e.g. the empty blue of a green image) becomes 0."""
    out = np.zeros(image.shape, dtype=np.float32)
    for c, (lo, hi) in enumerate(levels):
        if hi > lo:
            out[..., c] = np.clip((image[..., c].astype(np.float32) - lo) / (hi - lo), 0, 1)
    return out


def as_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, K) with K = 1, 2 or 3 -> (H, W, 3): 1 repeated, 2 with an empty blue, 3 as is."""
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    if image.shape[-1] == 2:
        return np.concatenate([image, np.zeros_like(image[..., :1])], axis=-1)
    return image


def to_unit_rgb(picked: np.ndarray, norm: Normalization, levels: np.ndarray | None = None) -> np.ndarray:
    """(H, W, K) picked channels -> (H, W, 3) float32 in [0, 1] by the norm's mode; `levels`
    (K, 2) are fixed ones (a video's), else the image's own percentiles."""
    if norm.mode == PHOTOGRAPH and picked.dtype == np.uint8:
        return as_rgb(picked).astype(np.float32) / 255.0
    unit = stretch(picked, channel_levels(picked, norm) if levels is None else levels)
    if norm.mode == MICROSCOPY:
        return np.repeat(unit.max(axis=-1, keepdims=True), 3, axis=-1)  # the brightest channel, as grey
    return as_rgb(unit)


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


def input_unit(model_input: torch.Tensor, hw: tuple[int, int] | None = None) -> torch.Tensor:
    """(1, 3, S, S) model input -> (S, S) the frame as the model reads it, its channels' mean in
    [0, 1] (imagenet_normalize undone), resized to hw (bilinear) if given."""
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    unit = (model_input[0].float().cpu() * std + mean).mean(0)
    if hw is None or tuple(hw) == tuple(unit.shape):
        return unit
    return F.interpolate(unit[None, None], size=tuple(hw), mode="bilinear", align_corners=False)[0, 0]


def preprocess(
    image: np.ndarray,
    size: int,
    channel_axis: int | None = None,
    channels: tuple[int, ...] | None = None,
    norm: Normalization = Normalization(),
    levels: np.ndarray | None = None,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Any supported image -> ((1, 3, size, size) float32 model input, the image's (H, W)).
    levels: fixed (low, high) per picked channel (see video_levels), else the image's own."""
    hwc = as_channels_last(image, channel_axis)
    check_values(hwc)
    picked = pick_channels(hwc, channels, norm.mode)
    tensor = to_model_input(to_unit_rgb(picked, norm, levels), size)
    return tensor, (hwc.shape[0], hwc.shape[1])
