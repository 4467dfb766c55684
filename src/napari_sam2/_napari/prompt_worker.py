"""Prompt edits sent to the tracker in a worker thread, so that napari stays responsive while a
click, box or mask is decoded (and its frame encoded first, when its features are not ready:
with an official model on a laptop that takes seconds)."""
from __future__ import annotations

from typing import Callable

from napari.qt.threading import create_worker


def _send(session, prompts):
    """In the worker thread. An exception is returned, not raised: the worker would take a
    RuntimeError (torch's usual error) for its own deletion and report nothing."""
    try:
        return session.send_prompts(prompts), None
    except Exception as error:  # noqa: BLE001 - handed to the main thread, which reports it
        return None, error


class PromptWorker:
    """Applies a session's prompt edits in one worker thread, one batch at a time.

    The prompts are read from the layers in the main thread; the worker sends the frames where
    they differ from what the tracker has (TrackingSession.send_prompts). Edits made while a
    batch is computed are coalesced: once it is in, the layers are read again, and the difference
    holds every edit made meanwhile, so none is lost and none is applied out of order.

    Callbacks, all in the main thread: `on_started(edits)` with {frame: object ids} as a batch
    starts, `on_applied(session, frames)` once its labels are written, `on_failed(error)`, and
    `on_idle()` when no batch is running or waiting. After a failed batch, the actions waiting
    for it (see `then`) are dropped."""

    def __init__(self, on_started: Callable, on_applied: Callable, on_failed: Callable, on_idle: Callable):
        self.on_started, self.on_applied, self.on_failed, self.on_idle = on_started, on_applied, on_failed, on_idle
        self.worker = None
        self._sending = None  # the session whose edits the worker sends
        self._waiting = None  # the session whose edits came while a batch ran
        self._then: list[Callable[[], None]] = []  # what to do once idle (e.g. a propagation)
        self.closed = False  # for good: napari is closing

    @property
    def running(self) -> bool:
        return self.worker is not None

    def request(self, session) -> None:
        """The session's prompts changed: send them now, or after the batch being computed."""
        if self.closed:
            return
        if self.running:
            self._waiting = session
            return
        try:
            prompts = session.current_prompts()
        except ValueError as error:  # a prompt the layers cannot express (e.g. off the image)
            self.on_failed(error)
            self._finish()
            return
        edits = session.edits(prompts)
        if not edits:
            self._finish()
            return
        self.on_started(edits)
        self._sending = session
        self.worker = create_worker(_send, session, prompts, _start_thread=False)
        self.worker.returned.connect(self._on_returned)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def then(self, action: Callable[[], None]) -> None:
        """Do `action` once every edit made so far is applied (now, if none is in flight)."""
        if self.running:
            self._then.append(action)
        else:
            action()

    @property
    def waiting_actions(self) -> int:
        return len(self._then)

    def cancel_waiting_actions(self) -> None:
        self._then = []

    def close(self) -> None:
        """No new batch from now on (the caller waits for a running one to end)."""
        self.closed, self._waiting, self._then = True, None, []

    def _on_returned(self, result) -> None:
        frames, error = result
        if error is not None:
            self._then = []  # e.g. no propagation from prompts that could not be applied
            self.on_failed(error)
        else:
            self.on_applied(self._sending, frames)

    def _on_finished(self) -> None:
        self.worker, self._sending = None, None
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self.request(waiting)  # the edits made meanwhile
        elif not self.closed:
            self._finish()

    def _finish(self) -> None:
        """Nothing in flight: the actions waiting for the edits run, in order."""
        self.on_idle()
        actions, self._then = self._then, []
        for action in actions:
            action()
