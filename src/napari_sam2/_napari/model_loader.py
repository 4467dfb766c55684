"""Loading the chosen model in a worker thread: an official model may be downloaded first
(hundreds of MB), and a large checkpoint takes seconds to read; the GUI stays responsive and
napari's progress bar shows the bytes received."""
from __future__ import annotations

from typing import Callable

from napari.qt.threading import create_worker
from napari.utils import progress
from qtpy.QtCore import QTimer

from .model_choice import load_chosen_model

POLL_MS = 100


class ModelLoader:
    """One load at a time. `on_loaded(model)` or `on_failed(error)` run in the main thread."""

    def __init__(self, on_loaded: Callable[[object], None], on_failed: Callable[[Exception], None]):
        self.on_loaded, self.on_failed = on_loaded, on_failed
        self.worker = None
        self._received = (0, 0)  # (bytes so far, total bytes), written by the worker thread
        self._bar = None
        self._outcome = None  # (callback, model or error), delivered once the worker has finished
        self._timer = QTimer()
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._show_progress)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, choice: str, checkpoint: str = "") -> None:
        if self.running:
            raise RuntimeError("a model is already loading: wait for it")
        self._received = (0, 0)
        self._bar = progress(total=0, desc=f"Loading {choice}")
        self.worker = create_worker(load_chosen_model, choice, checkpoint, progress=self._record,
                                    _start_thread=False, _ignore_errors=True)
        self._outcome = None
        self.worker.returned.connect(lambda model: setattr(self, "_outcome", (self.on_loaded, model)))
        self.worker.errored.connect(lambda error: setattr(self, "_outcome", (self.on_failed, error)))
        self.worker.finished.connect(self._finish)
        self._timer.start()
        self.worker.start()

    def _record(self, done: int, total: int) -> None:
        self._received = (done, total)  # a tuple swap: safe to read from the main thread

    def _show_progress(self) -> None:
        done, total = self._received
        if self._bar is not None and total:
            if self._bar.total != total:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def _finish(self) -> None:
        self._timer.stop()
        if self._bar is not None:
            self._bar.close()
        self._bar, self.worker = None, None
        if self._outcome is not None:  # after the worker is gone, so the widget sees it idle
            callback, value = self._outcome
            self._outcome = None
            callback(value)
