"""Frames turned into model inputs, one at a time."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from .frames import FrameSource
from .preprocessing import (
    VIDEO,
    Normalization,
    as_channels_last,
    check_values,
    is_blank,
    pick_channels,
    to_model_input,
    to_unit_rgb,
)
from .video_levels import video_levels


class PreprocessedFrames:
    """Reads a frame from a FrameSource and preprocesses it (see preprocessing.py) on demand.
    Every frame must have the shape of frame 0: a video whose frames change shape is refused.
    With Normalization(scope="video") every frame is stretched between the same levels,
    measured once on a sample of frames."""

    def __init__(self, frames: FrameSource, size: int, normalization: Normalization = Normalization(),
                 channels: tuple[int, ...] | None = None):
        if len(frames) == 0:
            raise ValueError("the video has no frames")
        self.frames = frames
        self.size = size
        self.normalization = normalization
        self.channels = channels
        self._last: tuple[int, np.ndarray] | None = None  # one frame, read once for digest and input
        self._last_blank: tuple[int, bool] | None = None  # its blank() answer: every tile of the frame asks
        self.frame_shape = tuple(self._read(0).shape)
        if len(self.frame_shape) not in (2, 3):
            raise ValueError(f"frames must be (H, W) or (H, W, C), got frame 0 of shape {self.frame_shape}")
        self.levels = video_levels(frames, normalization, channels) if normalization.scope == VIDEO else None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def hw(self) -> tuple[int, int]:
        return self.frame_shape[0], self.frame_shape[1]

    def _read(self, index: int) -> np.ndarray:
        if self._last is None or self._last[0] != index:
            self._last = (index, np.asarray(self.frames[index]))
        return self._last[1]

    def digest(self, index: int) -> str:
        """A hash of the frame's pixels (and of the video's levels, which change what the model
        sees), so cached features are never served for other content."""
        digest = array_digest(self._read(index))
        return digest if self.levels is None else f"{digest}-{array_digest(self.levels)[:16]}"

    def blank(self, index: int) -> bool:
        """Whether the frame's channels picked for the model hold one value only (preprocessing.is_blank):
        nothing to track on it (picked() would refuse it)."""
        if self._last_blank is None or self._last_blank[0] != index:
            hwc = as_channels_last(self._read(index), None)
            self._last_blank = (index, is_blank(pick_channels(hwc, self.channels, self.normalization.mode)))
        return self._last_blank[1]

    def __getitem__(self, index: int) -> torch.Tensor:
        """(1, 3, S, S): the frame as the model's input."""
        return to_model_input(self.unit_rgb(index), self.size)

    def unit_rgb(self, index: int) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1]: the frame's intensities and channels as the model sees
        them, at the frame's own size (the tiled tracker resamples it its own way)."""
        return to_unit_rgb(self.picked(index), self.normalization, self.levels)

    def seen(self, index: int) -> np.ndarray:
        """(H, W) the frame's one channel picked for the model (the stain whose brightness the classical
        looks read), else (H, W, K) its K channels; intensities as read."""
        picked = self.picked(index)
        return picked[..., 0] if picked.shape[-1] == 1 else picked

    def picked(self, index: int) -> np.ndarray:
        """(H, W, K): the frame's channels picked for the model, intensities as read."""
        frame = self._read(index)
        if tuple(frame.shape) != self.frame_shape:
            raise ValueError(
                f"frame {index} has shape {tuple(frame.shape)} but frame 0 has {self.frame_shape}; "
                "every frame of a video must have the same shape"
            )
        hwc = as_channels_last(frame, None)
        check_values(hwc)
        return pick_channels(hwc, self.channels, self.normalization.mode)


class TensorFrames:
    """Already preprocessed frames (N, 3, S, S) standing for a video of size hw."""

    def __init__(self, tensor: torch.Tensor, hw: tuple[int, int]):
        self.tensor = tensor
        self.hw = hw

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.tensor[index : index + 1]

    def blank(self, index: int) -> bool:
        return is_blank(self.tensor[index].cpu().numpy())

    def digest(self, index: int) -> str:
        return array_digest(self.tensor[index].cpu().numpy())


def array_digest(array: np.ndarray) -> str:
    """Content hash of an array: its dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(array.tobytes())
    return h.hexdigest()
