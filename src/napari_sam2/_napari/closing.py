"""Noticing that napari's main window has closed, to end background work before Qt is torn
down (a worker thread still running then aborts the whole process)."""
from __future__ import annotations

import inspect
import weakref
from typing import Callable

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QMainWindow, QWidget

CLOSE_WAIT_MS = 60_000  # how long closing napari waits for a frame being tracked or computed


def ancestors_of(widget: QWidget) -> list[QWidget]:
    """`widget` and its parents up to the top (a floating dock widget keeps the main window
    as its parent)."""
    chain = []
    while widget is not None:
        chain.append(widget)
        widget = widget.parentWidget()
    return chain


class ClosingWatcher(QObject):
    """Calls `on_closed()` once the main window holding `widget` hides for good.

    napari has no public "closing" event, and the viewer a plugin receives refuses private
    attributes such as its Qt window. The window is found through the widget's parents instead;
    a dock widget is put together bit by bit (our widget into a dock, the dock into the window),
    so every ancestor is watched for a new parent. The close event itself is too early: napari
    may still ask the user to confirm and keep the window open; minimising hides the window
    too, but it stays "visible"."""

    def __init__(self, widget: QWidget, on_closed: Callable[[], None]):
        super().__init__(widget)
        # Everything held weakly: the widget (through Qt) owns this watcher, and a strong
        # reference to the window or to a session (which holds the viewer) would keep a closed
        # viewer alive.
        self._on_closed = weakref.WeakMethod(on_closed) if inspect.ismethod(on_closed) else (lambda: on_closed)
        self._watched: list[weakref.ref] = []
        self._watch_ancestors()

    @property
    def watched(self) -> list[QWidget]:
        return [w for w in (ref() for ref in self._watched) if w is not None]

    @property
    def window(self) -> QMainWindow | None:
        main_windows = [w for w in self.watched if isinstance(w, QMainWindow)]
        return main_windows[-1] if main_windows else None

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ParentChange:
            self._watch_ancestors()
        elif kind == QEvent.Type.Hide and watched is self.window and not watched.isVisible():
            on_closed = self._on_closed()
            if on_closed is not None:
                on_closed()
        return False  # the widgets handle their events as always

    def _watch_ancestors(self) -> None:
        for widget in self.watched:
            widget.removeEventFilter(self)
        self._watched = [weakref.ref(w) for w in ancestors_of(self.parent())]
        for widget in self.watched:
            widget.installEventFilter(self)
