"""The label images a tracker handed out, kept compressed: an earlier frame can be read back and
revised (new cells tracked back onto it) without the whole label stack in memory (a frame of
labels compresses to a few hundredths of its size)."""
from __future__ import annotations

import zlib

import numpy as np


class LabelHistory:
    """Frame -> its (H, W) label image as last handed out."""

    def __init__(self, hw: tuple[int, int], dtype=np.uint32):
        self.hw, self.dtype = tuple(hw), np.dtype(dtype)
        self._frames: dict[int, bytes] = {}

    def __contains__(self, frame: int) -> bool:
        return frame in self._frames

    def put(self, frame: int, labels: np.ndarray) -> None:
        self._frames[frame] = zlib.compress(np.ascontiguousarray(labels, self.dtype).tobytes(), 1)

    def get(self, frame: int) -> np.ndarray:
        """(H, W) labels of a frame handed out (a copy)."""
        return np.frombuffer(zlib.decompress(self._frames[frame]), self.dtype).reshape(self.hw).copy()
