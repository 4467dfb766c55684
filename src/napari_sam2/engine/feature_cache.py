"""A bounded least-recently-used cache of per-frame image features, safe to share between threads."""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Callable, Protocol

from ..model import ImageEmbedding


class FeatureStore(Protocol):
    """A second-level store (for example on disk, see napari_sam2.storage). Its keys name the
    model, preprocessing and frame content (see VideoTracker), so nothing stale can match."""

    def get(self, key: str) -> ImageEmbedding | None: ...

    def put(self, key: str, features: ImageEmbedding) -> None: ...


class FeatureCache:
    """Frame index -> features, holding at most `capacity` frames in memory; behind it an
    optional store asked with `store_key(frame)` before computing.

    Each frame is encoded once however many threads ask for it at the same time (a GUI's
    prefetch worker, a click, a propagation): the first computes, the others wait for its result.
    Two passes of the image encoder at once would only share the cores and both finish late."""

    def __init__(
        self,
        compute: Callable[[int], ImageEmbedding],
        capacity: int = 4,
        store: FeatureStore | None = None,
        store_key: Callable[[int], str] | None = None,
    ):
        if capacity < 1:
            raise ValueError(f"the feature cache needs room for at least one frame, got capacity={capacity}")
        if store is not None and store_key is None:
            raise ValueError("a feature store needs a store_key function")
        self.compute = compute
        self.capacity = capacity
        self.store = store
        self.store_key = store_key
        self._entries: OrderedDict[int, ImageEmbedding] = OrderedDict()
        self._in_flight: dict[int, Future] = {}  # frames being computed, by whichever thread asked first
        self._lock = threading.Lock()
        self.computed = 0  # how many times the image encoder ran (for tests and benchmarks)

    def __contains__(self, frame: int) -> bool:
        return frame in self._entries

    def __call__(self, frame: int) -> ImageEmbedding:
        with self._lock:
            if frame in self._entries:
                self._entries.move_to_end(frame)
                return self._entries[frame]
            pending = self._in_flight.get(frame)
            if pending is None:
                pending = self._in_flight[frame] = Future()
                ours = True
            else:
                ours = False
        if not ours:
            return pending.result()  # computed by another thread; its error, if any, is raised here too
        try:
            features = self._load_or_compute(frame)
        except BaseException as error:
            with self._lock:
                del self._in_flight[frame]
            pending.set_exception(error)
            raise
        with self._lock:
            self._entries[frame] = features
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            del self._in_flight[frame]
        pending.set_result(features)
        return features

    def _load_or_compute(self, frame: int) -> ImageEmbedding:
        key = self.store_key(frame) if self.store is not None else None
        features = self.store.get(key) if key is not None else None
        if features is None:
            features = self.compute(frame)
            with self._lock:
                self.computed += 1
            if key is not None:
                self.store.put(key, features)
        return features

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
