"""Noticing that napari's main window has closed, to end background work before Qt is torn
down (a worker thread still running then aborts the whole process)."""
from __future__ import annotations

from typing import Callable

from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QMainWindow, QWidget


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
        self.on_closed = on_closed
        self.widget = widget
        self.watched: list[QWidget] = []
        self._watch_ancestors()

    @property
    def window(self) -> QMainWindow | None:
        main_windows = [w for w in self.watched if isinstance(w, QMainWindow)]
        return main_windows[-1] if main_windows else None

    def eventFilter(self, watched, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.ParentChange:
            self._watch_ancestors()
        elif kind == QEvent.Type.Hide and watched is self.window and not watched.isVisible():
            self.on_closed()
        return False  # the widgets handle their events as always

    def _watch_ancestors(self) -> None:
        for widget in self.watched:
            widget.removeEventFilter(self)
        self.watched = ancestors_of(self.widget)
        for widget in self.watched:
            widget.installEventFilter(self)
