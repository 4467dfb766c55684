"""Running a propagation in a napari thread worker, with a progress bar and a stop."""
from __future__ import annotations

from typing import Callable, Iterator

from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error


class TrackingError(Exception):
    """An error raised while tracking in the worker thread."""


@thread_worker(ignore_errors=True)  # errors are shown as notifications by the runner
def _frames_in_thread(frames: Iterator[int]):
    """Each step of `frames` (tracking and writing one frame) runs in the worker's thread."""
    try:
        yield from frames
    except RuntimeError as error:
        # The worker takes a RuntimeError for its own deletion and ends without `finished`;
        # torch reports most failures (e.g. out of memory) as RuntimeError.
        raise TrackingError(str(error)) from error


class PropagationRunner:
    """Runs one propagation at a time. `on_frame(frame)` and `on_done()` are called in the main
    thread: after each written frame, and once the run ends (finished, stopped or failed)."""

    def __init__(self, on_frame: Callable[[int], None], on_done: Callable[[], None]):
        self.on_frame, self.on_done = on_frame, on_done
        self.worker = None
        self._progress = None
        self.frames_done: list[int] = []

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, frames: Iterator[int], total: int, description: str = "Tracking") -> None:
        if self.running:
            raise RuntimeError("a propagation is already running: wait for it or stop it first")
        self.frames_done = []
        self._progress = progress(total=total, desc=description)
        self.worker = _frames_in_thread(frames)
        self.worker.yielded.connect(self._on_yielded)
        self.worker.errored.connect(self._on_errored)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def stop(self) -> None:
        """Ask the worker to stop after the frame it is tracking (that frame is still written)."""
        if self.worker is not None:
            self.worker.quit()

    def _on_yielded(self, frame: int) -> None:
        self.frames_done.append(frame)
        if self._progress is not None:
            self._progress.update(1)
        self.on_frame(frame)

    def _on_errored(self, error: Exception) -> None:
        show_error(f"tracking stopped with an error: {error}. Frames already tracked are kept in the store")

    def _on_finished(self) -> None:
        if self._progress is not None:
            self._progress.close()
        self._progress, self.worker = None, None
        self.on_done()
