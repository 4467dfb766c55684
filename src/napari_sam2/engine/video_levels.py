"""Intensity levels of a whole video (Normalization(scope="video")), from a sample of its
frames: a lazy time-lapse or z-stack of any length is never read whole."""
from __future__ import annotations

import numpy as np

from .frames import FrameSource
from .preprocessing import Normalization, as_channels_last, channel_levels, pick_channels

SAMPLE_FRAMES = 16  # frames read, evenly spaced from the first to the last
SAMPLE_PIXELS = 2**18  # at most this many pixels kept from each (a regular grid)


def sample_indices(num_frames: int, count: int = SAMPLE_FRAMES) -> list[int]:
    """Up to `count` frame indices evenly spaced over 0 .. num_frames - 1, both ends included."""
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, min(count, num_frames))})


def grid_sample(image: np.ndarray, limit: int = SAMPLE_PIXELS) -> np.ndarray:
    """(H, W, K) -> (N, K) pixels on a regular grid, N <= about `limit`."""
    step = max(1, int(np.ceil(np.sqrt(image.shape[0] * image.shape[1] / limit))))
    return image[::step, ::step].reshape(-1, image.shape[-1])


def video_levels(frames: FrameSource, norm: Normalization, channels: tuple[int, ...] | None = None) -> np.ndarray:
    """(K, 2) float32 (low, high) per picked channel: the norm's percentiles over sampled
    frames. Non-finite pixels are left out (the frame holding them is refused when tracked)."""
    pixels = np.concatenate([
        grid_sample(pick_channels(as_channels_last(frames[i], None), channels, norm.mode))
        for i in sample_indices(len(frames))
    ]).astype(np.float32)  # (N, K)
    finite = pixels[np.isfinite(pixels).all(axis=1)]
    if len(finite) == 0:
        raise ValueError("the sampled frames of the video have no finite pixels: "
                         "replace NaN (e.g. np.nan_to_num) first")
    return channel_levels(finite, norm)
