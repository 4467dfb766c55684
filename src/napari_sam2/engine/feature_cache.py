"""A bounded least-recently-used cache of per-frame image features."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Protocol

from ..model import ImageEmbedding


class FeatureStore(Protocol):
    """A second-level store (for example on disk, see napari_sam2.storage) keyed by frame index.
    It is responsible for never serving features computed from other inputs."""

    def get(self, frame: int) -> ImageEmbedding | None: ...

    def put(self, frame: int, features: ImageEmbedding) -> None: ...


class FeatureCache:
    def __init__(self, compute: Callable[[int], ImageEmbedding], capacity: int = 4, store: FeatureStore | None = None):
        if capacity < 1:
            raise ValueError(f"the feature cache needs room for at least one frame, got capacity={capacity}")
        self.compute = compute
        self.capacity = capacity
        self.store = store
        self._entries: OrderedDict[int, ImageEmbedding] = OrderedDict()
        self.computed = 0  # how many times the image encoder ran (for tests and benchmarks)

    def __call__(self, frame: int) -> ImageEmbedding:
        if frame in self._entries:
            self._entries.move_to_end(frame)
            return self._entries[frame]
        features = self.store.get(frame) if self.store is not None else None
        if features is None:
            features = self.compute(frame)
            self.computed += 1
            if self.store is not None:
                self.store.put(frame, features)
        self._entries[frame] = features
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return features

    def clear(self) -> None:
        self._entries.clear()
