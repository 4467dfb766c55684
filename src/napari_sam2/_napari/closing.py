"""Noticing that napari's main window has closed, to end background work before Qt is torn
down (a worker thread still running then aborts the whole process)."""
from __future__ import annotations

from typing import Callable

from qtpy.QtCore import QEvent, QObject


class ClosingWatcher(QObject):
    """Calls `on_closed()` once the watched window hides for good. The close event itself is
    too early: napari may still ask the user to confirm and keep the window open; minimising
    hides the window too, but it stays "visible"."""

    def __init__(self, window, on_closed: Callable[[], None]):
        super().__init__(window)
        self.on_closed = on_closed
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Hide and not watched.isVisible():
            self.on_closed()
        return False  # the window handles its events as always
