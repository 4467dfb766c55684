"""Test helpers that slow the tracker down, to catch background work in the act."""
import time


def slow_prefetch(tracker, seconds: float = 0.5) -> tuple[list[int], list[int]]:
    """Make the tracker's background feature computation take `seconds` longer; returns the
    lists of frames whose computation started and ended, filled in as it runs."""
    started, computed = [], []
    prefetch = tracker.prefetch

    def slowly(frame):
        started.append(frame)
        time.sleep(seconds)
        prefetch(frame)
        computed.append(frame)

    tracker.prefetch = slowly
    return started, computed
