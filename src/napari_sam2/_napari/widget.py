"""The main dock widget: choose an image, a model and an axis, start a tracking session, add
objects, propagate in a background thread, stop. Prompt edits are decoded in a worker too
(prompt_worker.py); the tracker is used by one worker at a time: a propagation waits for the
edits in flight, and edits made during a propagation are applied after it. The "All cells"
section (cell_panel.py) tracks every cell without clicks in the same worker, and corrects and
exports the lineage (cell_tracking.py)."""
from __future__ import annotations

import time

from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QEvent, QSize, QThreadPool
from qtpy.QtWidgets import (
    QFrame,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from .cell_panel import CellPanel
from .cell_tracking import CellTracking
from .closing import CLOSE_WAIT_MS, ClosingWatcher
from .frames_image import open_frames_image
from .model_loader import ModelLoader
from .prompt_worker import PromptWorker
from .propagation import PropagationRunner
from .session import TrackingSession, check_trackable
from .settings_panel import SettingsForm
from .user_errors import USER_ERRORS
from .widget_text import TOOLTIPS, diameter_text, next_step, progress_text

EDITS = {"added", "removed", "changed"}  # data events that end an edit (not "adding", ...)


def computing_text(edits: dict[int, list[int]]) -> str:
    """What the prompt worker computes, e.g. "computing object 2 on frame 5..."."""
    ids = sorted({i for objects in edits.values() for i in objects})
    frames = sorted(edits)
    objects = f"object {ids[0]}" if len(ids) == 1 else f"objects {', '.join(map(str, ids))}"
    where = f"frame {frames[0]}" if len(frames) == 1 else f"frames {', '.join(map(str, frames))}"
    return f"computing {objects} on {where}..."


class _VerticalScroll(QScrollArea):
    """Scrolls its content up and down; as wide as the content needs (as the dock was without it),
    so nothing is cut at the side."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        spacing = max(0, self.style().pixelMetric(QStyle.PM_ScrollView_ScrollBarSpacing, None, self))
        width = (self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + spacing
                 + 2 * self.frameWidth())
        return QSize(max(hint.width(), width), hint.height())

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()  # the content's width changed (a longer message): the dock follows
        return super().eventFilter(watched, event)


class TrackingWidget(QWidget):
    """`model`: a loaded model to use instead of the menu's (scripts and tests)."""

    def __init__(self, napari_viewer, model=None, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.model = model
        self.session: TrackingSession | None = None
        self.cells: CellTracking | None = None  # the session's tracking of every cell, where its image allows
        self._cells_running = False  # the runner tracks every cell (not a propagation of clicked objects)
        self.runner = PropagationRunner(self._on_frame, self._on_propagation_done)
        self.loader = ModelLoader(self._on_model_loaded, self._on_model_failed)
        self.prompt_worker = PromptWorker(self._on_computing, self._on_prompts_applied, self._on_prompts_failed,
                                          self._on_prompts_idle)
        self._loading_for = None  # (image layer, axis, store) a session waits to start on
        self._models: dict[tuple[str, str], object] = {}
        self._prompts_pending = False  # prompts edited during a propagation: applied after it
        self._run_started = 0.0  # time.monotonic() when the current propagation started
        self._build()
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self.settings.refresh_images)
            event.connect(self.cell_panel.refresh_seeds)
        self.settings.refresh_images()
        self.cell_panel.refresh_seeds()
        self._closing_watcher = ClosingWatcher(self, self.shut_down)

    # ---- building ----------------------------------------------------------------------------

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(lambda checked=False: slot())
        return button

    def _build(self) -> None:
        form = self.settings = SettingsForm(self, self.viewer, given_model=self.model is not None)
        self.image_combo, self.axis_combo, self.model_combo = form.image_combo, form.axis_combo, form.model_combo
        self.precision_combo, self.checkpoint_edit, self.store_edit = form.precision_combo, form.checkpoint_edit, form.store_edit
        self.cleanup_check, self.diameter_spin = form.cleanup_check, form.diameter_spin
        self.chosen_image, self.chosen_precision = form.chosen_image, form.chosen_precision
        self.diameter_label = QLabel("Cell diameter: estimated when you press Start")
        self.start_button = self._button("Start tracking this image", self.start_session)
        self.new_object_button = self._button("New object", self.new_object)
        self.forward_button = self._button("Propagate forward", lambda: self.propagate("forward"))
        self.backward_button = self._button("Propagate backward", lambda: self.propagate("backward"))
        self.both_button = self._button("Propagate both ways", lambda: self.propagate("both"))
        self.stop_button = self._button("Stop", self.stop)
        self.undo_button = self._button("Undo last propagation", self.undo_propagation)
        self.show_button = self._button("Show the labels again", self.show_layers)
        self.status_label = QLabel("")  # what is being computed, or "stopping..."
        self.store_label = QLabel("Labels store: none yet (press Start)")
        self.help_label, self.progress_label = QLabel(), QLabel()
        self.progress_bar = QProgressBar()
        for label in (self.store_label, self.help_label, self.progress_label):
            label.setWordWrap(True)
        self.cell_panel = CellPanel(self)
        self._set_tooltips()
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(self.help_label)
        layout.addLayout(form)
        for widget in (self.start_button, self.new_object_button, self.forward_button, self.backward_button,
                       self.both_button, self.stop_button, self.status_label, self.progress_bar, self.progress_label,
                       self.undo_button, self.show_button, self.diameter_label, self.store_label, self.cell_panel):
            layout.addWidget(widget)
        layout.addStretch()
        # the dock scrolls rather than squeeze its buttons where the window is shorter than its content
        scroll = _VerticalScroll(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._update_buttons()

    @property
    def busy(self) -> bool:
        """Prompts are being applied or a propagation runs (or waits for them)."""
        return self.runner.running or self.prompt_worker.running

    def _set_tooltips(self) -> None:
        for name, widget in (("start", self.start_button), ("new_object", self.new_object_button),
                             ("forward", self.forward_button), ("backward", self.backward_button),
                             ("both", self.both_button), ("stop", self.stop_button), ("undo", self.undo_button),
                             ("show", self.show_button), ("progress", self.progress_bar)):
            widget.setToolTip(TOOLTIPS[name])

    def _update_help(self, event=None) -> None:
        """The next step, and the object the next click belongs to."""
        session = self.session
        if session is None:
            self.help_label.setText(next_step(False, False))
            return
        selected, lineage = session.labels_layer.selected_label, session.store.load_lineage()
        tracked = (len(lineage), len(lineage.divided())) if lineage is not None and selected in lineage.tracks else None
        self.help_label.setText(next_step(True, self.runner.running, selected, len(session.object_ids_in_use()),
                                          session.points_layer.name, session.layout.single_image, tracked))

    def _update_buttons(self) -> None:
        ready, running = self.session is not None, self.runner.running
        frames = ready and not self.session.layout.single_image  # a single image has nothing to propagate to
        self.new_object_button.setEnabled(ready and not running)
        for button in (self.forward_button, self.backward_button, self.both_button):
            button.setEnabled(frames and not running)
        self.show_button.setEnabled(ready)
        self.start_button.setEnabled(not running and not self.loader.running)
        self.stop_button.setEnabled(running or bool(self.prompt_worker.waiting_actions))
        self.undo_button.setEnabled(ready and not running and not self.prompt_worker.running)
        self.progress_bar.setVisible(running)
        self.progress_label.setVisible(running)
        cells = self.cells is not None
        self.cell_panel.track_button.setEnabled(cells and not running)
        for button in self.cell_panel.edit_buttons():
            button.setEnabled(cells and not self.busy)
        self._update_help()

    # ---- choices -----------------------------------------------------------------------------

    def _loaded_model(self):
        """The chosen model if it is at hand (given, or loaded before), else None."""
        return self.model if self.model is not None else self._models.get(self.settings.model_key())

    # ---- actions -----------------------------------------------------------------------------

    def start_session(self) -> TrackingSession | None:
        """A new session on the chosen image. An earlier session on this image or store is
        replaced: its layers go, and the new session reopens the store with its prompts."""
        if self.runner.running:
            show_warning("a propagation is running: wait for it to finish or press Stop, then start again")
            return None
        if self.loader.running:
            show_warning("the model is still loading: the session starts when it is ready")
            return None
        image, axis = self.chosen_image(), self.axis_combo.currentData()
        store = self.store_edit.text().strip() or None
        try:
            check_trackable(self.viewer, image, axis)  # before loading a model, which can take long
        except USER_ERRORS as error:
            show_error(str(error))
            return None
        model = self._loaded_model()
        if model is None:  # load (or download) it in a worker; the session starts once it is in
            self._loading_for = (image, axis, store)
            self.loader.start(*self.settings.model_key())
            self._update_buttons()
            return None
        return self._start_with(model, image, axis, store)

    def _on_model_loaded(self, model) -> None:
        self._models[self.settings.model_key()] = model
        image, axis, store = self._loading_for
        self._loading_for = None
        if image in self.viewer.layers:  # the image may have been closed meanwhile
            self._start_with(model, image, axis, store)
        self._update_buttons()

    def _on_model_failed(self, error: Exception) -> None:
        self._loading_for = None
        show_error(f"the model could not be loaded: {error}")
        self._update_buttons()

    def _start_with(self, model, image, axis, store) -> TrackingSession | None:
        try:
            cleanup = self.settings.chosen_cleanup()
            self.session = TrackingSession(self.viewer, image, model, axis=axis, store_path=store,
                                           cell_diameter=self.diameter_spin.value() or None,
                                           precision=self.chosen_precision(), cleanup=cleanup,
                                           depth=self.settings.chosen_depth())
        except USER_ERRORS as error:
            show_error(str(error))
            return None
        tracker = self.session.tracker
        self.diameter_label.setText(diameter_text(tracker.cell_diameter, tracker.cell_diameter_estimated,
                                                  len(tracker.tile_plan.tiles)))
        for layer in (self.session.points_layer, self.session.shapes_layer):
            layer.events.data.connect(self._on_prompts_changed)
            layer.events.features.connect(self._on_prompts_changed)
        self.session.labels_layer.events.selected_label.connect(self._update_help)
        self.session.points_layer.events.data.connect(self._update_help)
        self.store_label.setText(f"Labels store: {self.session.store_path}")
        self.precision_combo.setItemText(0, f"auto ({self.session.tracker.precision} on this machine)")
        self.cell_panel.refresh_seeds()  # not the session's own labels
        try:
            self.cells = CellTracking(self.session)
            self.cell_panel.show_unavailable(None)
        except ValueError as error:  # an image whose cells cannot all be tracked (e.g. 4-D): clicks only
            self.cells = None
            self.cell_panel.show_unavailable(str(error))
        self._update_buttons()
        return self.session

    def open_frames_image(self):
        """The session's frames (its channel or plane on screen) opened as an image of their own, chosen
        as the image to track: Start, then Track all cells (frames_image.py)."""
        if self.session is None:
            return None
        layer = open_frames_image(self.viewer, self.session.image_layer, self.session.layout)
        self.settings.refresh_images()
        self.settings.image_combo.setCurrentText(layer.name)
        show_info(f"opened {layer.name!r}: press 'Start tracking this image', then 'Track all cells'")
        return layer

    def new_object(self) -> int | None:
        if self.session is None:
            show_warning("press 'Start tracking this image' first")
            return None
        obj_id = self.session.new_object()
        show_info(f"new object {obj_id}: click it in the layer {self.session.points_layer.name!r}")
        return obj_id

    def _on_prompts_changed(self, event) -> None:
        session = self.session
        if session is None or event.source not in (session.points_layer, session.shapes_layer):
            return  # a layer of an earlier session
        if str(getattr(event, "action", "changed")) not in EDITS:
            return
        if self.runner.running:
            self._prompts_pending = True  # the tracker is busy in the worker thread
            return
        self.apply_prompts()

    def apply_prompts(self) -> None:
        """Send the edited prompts to the tracker in the prompt worker; napari stays responsive."""
        self.prompt_worker.request(self.session)

    def _on_computing(self, edits) -> None:
        self.status_label.setText(computing_text(edits))
        self._update_buttons()

    def _on_prompts_applied(self, session, frames) -> None:
        if frames:
            session.prompts_changed()  # saves the prompts and shows the new labels
            if self.cells is not None and session is self.session:
                self.cells.clicks_changed()  # a clicked cell is a track too

    def _on_prompts_failed(self, error: Exception) -> None:
        if not isinstance(error, USER_ERRORS):
            raise error
        show_error(str(error))

    def _on_prompts_idle(self) -> None:
        if not self.runner.running:
            self.status_label.setText("")
        self._update_buttons()

    def propagate(self, direction: str) -> None:
        """Propagate in a worker thread; the Labels layer is refreshed as each frame is written."""
        session = self.session
        if session is None:
            show_error("press 'Start tracking this image' first, then click cells and propagate")
            return
        if self.runner.running:
            show_warning("a propagation is running: wait for it to finish or press Stop")
            return
        try:
            if session.edits(session.current_prompts()):  # e.g. after a failed edit: decoded in the worker too
                self.prompt_worker.request(session)
        except USER_ERRORS as error:
            show_error(str(error))
            return
        if self.prompt_worker.running:  # the edits being computed come first
            self.prompt_worker.then(lambda: self.propagate(direction))
            self.status_label.setText(f"{self.status_label.text()} then propagating {direction}")
            self._update_buttons()
            return
        try:
            propagation = session.propagate(direction)
        except USER_ERRORS as error:
            show_error(str(error))
            return
        plan = propagation.plan
        if not plan.runs:
            show_info(f"nothing to track {direction}: every object is already tracked that way from its prompts "
                      "to the end; add or correct a prompt to track again")
            return
        show_info(f"tracking {plan.describe()}")
        self.start_run(propagation, plan.num_frames, f"Tracking {plan.describe()}")

    def start_run(self, frames, total: int, description: str, cells: bool = False) -> None:
        """Run `frames` (an iterator tracking and writing one frame per step) in the worker, with
        the progress bar; `cells`: it tracks every cell (CellTracking.start), not clicked objects."""
        self._cells_running = cells
        self.runner.start(frames, total, description)
        self._run_started = time.monotonic()
        self.progress_bar.setRange(0, total)
        self._show_progress()
        self._update_buttons()

    def stop(self) -> None:
        """Stop at the tracker's next model call (the frame under way is dropped); frames written
        so far stay, and propagating again goes on from the first frame not written. A
        propagation waiting for prompts being computed does not start."""
        self.prompt_worker.cancel_waiting_actions()
        if self.runner.running:
            if self._cells_running:
                self.cells.request_stop()
            else:
                self.session.tracker.request_stop()
            self.runner.stop()
            self.status_label.setText("stopping...")
        self._update_buttons()

    def undo_propagation(self) -> list[int]:
        """Put back the labels the last propagation changed (see TrackingSession.undo_propagation)."""
        if self.session is None or self.busy:
            show_warning("nothing to undo now: undo works after a propagation has finished or stopped, "
                         "once the masks being computed are in")
            return []
        try:
            frames = self.session.undo_propagation()
        except USER_ERRORS as error:
            show_error(str(error))
            return []
        if self.cells is not None:
            self.cells.refresh()  # the lineage went back with the labels
        show_info(f"undone: the labels of {len(frames)} frames are back as before the propagation")
        return frames

    def show_layers(self) -> list[str]:
        """Put back the session's layers deleted from the viewer (the labels stay in the store)."""
        if self.session is None:
            return []
        shown = self.session.show_layers()
        show_info(f"shown again: {', '.join(shown)}" if shown else "the session's layers are all in the viewer")
        return shown

    # ---- closing ---------------------------------------------------------------------------

    def shut_down(self) -> None:
        """Napari is closing: a worker still running when Qt is torn down aborts the process,
        so stop the propagation after its current frame (which is written), start no more
        prefetching, and wait for the workers to end."""
        self.prompt_worker.close()
        if self.cells is not None:
            self.cells.request_stop()
        self.runner.stop()
        # The workers' last signals arrive after this widget's buttons are deleted.
        self.runner.on_frame, self.runner.on_done = (lambda frame: None), (lambda: None)
        worker = self.prompt_worker
        worker.on_started = worker.on_applied = worker.on_failed = worker.on_idle = lambda *args: None
        if self.session is not None:
            self.session.close()  # waits for its feature worker
        QThreadPool.globalInstance().waitForDone(CLOSE_WAIT_MS)  # the workers above, or a model still loading

    def _on_frame(self, frame: int) -> None:
        self.session.labels_layer.refresh()
        if self._cells_running:
            self.cells.frame_done(frame)
        self._show_progress()

    def _show_progress(self) -> None:
        done = len(self.runner.frames_done)
        self.progress_bar.setValue(done)
        elapsed = time.monotonic() - self._run_started
        self.progress_label.setText(progress_text(done, self.progress_bar.maximum(), elapsed))

    def _on_propagation_done(self) -> None:
        self.session.labels_layer.refresh()
        if self._cells_running:
            self._cells_running = False
            # every frame again: the run's last frame can reach _on_frame after this (the worker's
            # finished signal first), and would be missing from the Tracks layer
            self.cells.show_tracks()
            self.cell_panel.tell_lineage()
        elif self.cells is not None:
            self.cells.clicks_changed()  # a clicked cell propagated is a track too
        self.status_label.setText("")
        self._update_buttons()
        if self._prompts_pending:
            self._prompts_pending = False
            self.apply_prompts()
