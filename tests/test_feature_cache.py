"""The feature cache: each frame encoded once, even when several threads ask for it at once."""
import threading

import pytest

from napari_sam2.engine.feature_cache import FeatureCache


class BlockingEncoder:
    """Counts its calls; the first blocks until `release` is set, like a long image-encoder pass."""

    def __init__(self):
        self.calls: list[int] = []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, frame: int):
        self.calls.append(frame)
        if len(self.calls) == 1:
            self.started.set()
            assert self.release.wait(30)
        return f"features of frame {frame}"


def in_thread(cache, frame, results):
    thread = threading.Thread(target=lambda: results.append(cache(frame)))
    thread.start()
    return thread


def test_a_frame_asked_for_while_it_is_computed_waits_for_that_computation():
    encoder = BlockingEncoder()
    cache = FeatureCache(encoder)
    results = []
    first = in_thread(cache, 3, results)  # e.g. the prefetch worker
    assert encoder.started.wait(30)
    second = in_thread(cache, 3, results)  # e.g. a click on the same frame
    second.join(timeout=2)  # without waiting it would encode the frame itself and be done by now
    assert second.is_alive() and encoder.calls == [3]
    encoder.release.set()
    first.join(30), second.join(30)
    assert encoder.calls == [3] and cache.computed == 1
    assert results == ["features of frame 3"] * 2


def test_other_frames_are_computed_meanwhile_and_an_error_reaches_every_waiter():
    encoder = BlockingEncoder()
    cache = FeatureCache(encoder)
    results = []
    first = in_thread(cache, 3, results)
    assert encoder.started.wait(30)
    assert cache(4) == "features of frame 4"  # not held up by frame 3
    encoder.release.set()
    first.join(30)

    def broken(frame):
        raise RuntimeError("out of memory")
    cache = FeatureCache(broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        cache(1)
    cache.compute = lambda frame: "computed again"
    assert cache(1) == "computed again"  # a failed computation is not remembered: asked again, it runs again
