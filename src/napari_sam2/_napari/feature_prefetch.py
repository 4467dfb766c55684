"""Image features of the frame on screen, computed in a worker thread as the user moves through
the frames, so that a click there is answered without waiting for the image encoder."""
from __future__ import annotations

from napari.qt.threading import create_worker
from qtpy.QtCore import QThreadPool

from .closing import CLOSE_WAIT_MS


class FeaturePrefetcher:
    """At most one worker at a time; requests made while it runs are coalesced to the latest."""

    def __init__(self, tracker):
        self.tracker = tracker
        self.worker = None
        self._pending: int | None = None
        self.enabled = True  # off while a propagation uses the tracker
        self.closed = False  # for good: napari is closing

    def close(self, wait: bool = True) -> None:
        """No new worker from now on; with `wait`, wait for every worker to end (a worker still
        running, even only emitting its last signal, when Qt is torn down aborts the process)."""
        self.closed, self._pending = True, None
        if wait:
            QThreadPool.globalInstance().waitForDone(CLOSE_WAIT_MS)

    def request(self, frame: int) -> None:
        if self.closed or not self.enabled or not 0 <= frame < self.tracker.num_frames or frame in self.tracker.features:
            return
        if self.worker is not None:
            self._pending = frame
            return
        self.worker = create_worker(self.tracker.prefetch, frame, _start_thread=False, _ignore_errors=True)
        self.worker.finished.connect(self._next)
        self.worker.start()

    def _next(self) -> None:
        self.worker = None
        frame, self._pending = self._pending, None
        if frame is not None:
            self.request(frame)
