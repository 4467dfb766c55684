"""The dock widget's "All cells" section: track every cell (in the widget's worker), correct the
lineage, export it (cell_tracking.py does the work).
Corrections act on the track ids typed in (or the Labels layer's selected label), e.g. "4" to
delete track 4, "4 9" to join track 9 onto 4, "4 9 12" to mark that 4 divided into 9 and 12."""
from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from .cell_tracking import EXPORTS
from .user_errors import USER_ERRORS
from .widget_text import CELL_TOOLTIPS

EXPORT_TITLES = {"ctc": "Export CTC folder...", "geff": "Export GEFF...", "csv": "Export CSV..."}
FOUND_BY_MODEL = "cells found by the model"

EDIT_IDS = {"delete": ((1,), "one id"), "join": ((2,), "two ids, earlier then later"),
            "division": ((2, 3), "a parent and one or two daughters"), "undo_division": ((1,), "one id, the parent")}


def check_edit_ids(kind: str, ids: list[int]) -> None:
    counts, what = EDIT_IDS[kind]
    if len(ids) not in counts:
        raise ValueError(f"{kind.replace('_', ' ')} takes {what}; got {ids}: type them in the track ids field")


class CellPanel(QGroupBox):
    """`owner`: the dock widget, whose session, cell tracking (`cells`) and worker it uses."""

    def __init__(self, owner):
        super().__init__("All cells")
        self.owner = owner
        self.track_button = self._button("Track all cells", self.track_all_cells, "track")
        self.seeds_combo = QComboBox()
        self.seeds_combo.setToolTip(CELL_TOOLTIPS["seeds"])
        self._seed_layers: dict[str, object] = {}
        self.ids_edit = QLineEdit(placeholderText="track ids, e.g. 4 or 4 9 12 (empty: the selected label)")
        self.ids_edit.setToolTip(CELL_TOOLTIPS["ids"])
        self.delete_button = self._button("Delete track", lambda: self.edit("delete"), "delete")
        self.join_button = self._button("Join tracks", lambda: self.edit("join"), "join")
        self.division_button = self._button("Mark division", lambda: self.edit("division"), "division")
        self.undo_division_button = self._button("Undo division", lambda: self.edit("undo_division"),
                                                 "undo_division")
        self.undo_button = self._button("Undo last change", self.undo, "undo")
        self.export_buttons = {kind: self._button(EXPORT_TITLES[kind], lambda k=kind: self._choose_export(k), "export")
                               for kind in EXPORTS}
        grid = QGridLayout()
        for i, button in enumerate((self.delete_button, self.join_button, self.division_button,
                                    self.undo_division_button, self.undo_button, *self.export_buttons.values())):
            grid.addWidget(button, i // 2, i % 2)
        self.unavailable_label = QLabel(wordWrap=True)  # why every cell cannot be tracked on this image
        self.own_image_button = QPushButton("Open the frames on screen as an image of their own")
        self.own_image_button.clicked.connect(lambda checked=False: owner.open_frames_image())
        self.own_image_button.setToolTip(CELL_TOOLTIPS["own_image"])
        layout = QVBoxLayout(self)
        for widget in (self.unavailable_label, self.own_image_button, self.seeds_combo, self.track_button, self.ids_edit):
            layout.addWidget(widget)
        layout.addLayout(grid)
        self.show_unavailable(None)

    def show_unavailable(self, reason: str | None) -> None:
        """Says why every cell of the session's image cannot be tracked (None: it can), and offers
        the frames on screen as an image of their own, where they can."""
        self.unavailable_label.setText(reason or "")
        self.unavailable_label.setVisible(reason is not None)
        self.own_image_button.setVisible(reason is not None)

    def _button(self, text: str, slot, tooltip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(CELL_TOOLTIPS[tooltip])
        button.clicked.connect(lambda checked=False: slot())
        return button

    def edit_buttons(self) -> list[QPushButton]:
        return [self.delete_button, self.join_button, self.division_button, self.undo_division_button,
                self.undo_button, *self.export_buttons.values()]

    def set_seed_layers(self, layers: list) -> None:
        """The Labels layers the seeds may come from (the choice is kept if still there)."""
        current = self.seeds_combo.currentText()
        self._seed_layers = {layer.name: layer for layer in layers}
        self.seeds_combo.clear()
        self.seeds_combo.addItems([FOUND_BY_MODEL, *self._seed_layers])
        if current in self._seed_layers:
            self.seeds_combo.setCurrentText(current)

    def chosen_seeds(self) -> np.ndarray | None:
        """The chosen Labels layer's labels, or None: the model finds the cells."""
        layer = self._seed_layers.get(self.seeds_combo.currentText())
        return None if layer is None else np.asarray(layer.data)

    def typed_ids(self) -> list[int]:
        """The ids typed in (a ValueError naming what is not an id)."""
        words = self.ids_edit.text().replace(",", " ").split()
        bad = [w for w in words if not w.isdigit() or int(w) < 1]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a track id: type label values (1, 2, ...) separated by spaces")
        return [int(w) for w in words]

    def refresh_seeds(self, event=None) -> None:
        """Labels layers that can seed the cells: all but the session's own tracked labels."""
        session = self.owner.session
        own = session.labels_layer if session is not None else None
        self.set_seed_layers([layer for layer in self.owner.viewer.layers if isinstance(layer, Labels) and layer is not own])

    # ---- actions ---------------------------------------------------------------------------

    def track_all_cells(self) -> None:
        """Track every cell in the widget's worker (or go on after a Stop); the Labels and Tracks
        layers fill in as frames finish."""
        owner = self.owner
        if owner.cells is None or owner.runner.running:
            show_warning("start a session on a time-lapse or z-stack first, and wait for a run to end")
            return
        if owner.prompt_worker.running:  # the clicks being computed come first
            owner.prompt_worker.then(self.track_all_cells)
            return
        try:
            frames = owner.cells.start(self.chosen_seeds())
        except USER_ERRORS as error:  # seeds that do not fit the image
            show_error(str(error))
            return
        owner.start_run(frames, owner.cells.frames_left(), "Tracking all cells", cells=True)

    def tell_lineage(self) -> None:
        lineage = self.owner.session.store.load_lineage()
        if lineage is not None:
            show_info(f"{len(lineage)} tracks, {len(lineage.divided())} divisions so far")

    def edit(self, kind: str) -> None:
        """A correction of the lineage on the typed ids (or the selected label): "delete", "join",
        "division" or "undo_division"."""
        cells = self.owner.cells
        if cells is None or self.owner.busy:
            show_warning("corrections wait until tracking ends (or press Stop)")
            return
        try:
            ids = self.typed_ids() or [int(self.owner.session.labels_layer.selected_label)]
            check_edit_ids(kind, ids)
            edit = {"delete": lambda: cells.delete(*ids), "join": lambda: cells.join(*ids),
                    "division": lambda: cells.mark_division(ids[0], ids[1:]),
                    "undo_division": lambda: cells.undo_division(*ids)}[kind]
            edit()
        except USER_ERRORS as error:
            show_error(str(error))
            return
        self.tell_lineage()

    def undo(self) -> list[int]:
        if self.owner.cells is None or self.owner.busy:
            show_warning("nothing to undo while tracking runs")
            return []
        frames = self.owner.cells.undo()
        show_info(f"undone: the labels of {len(frames)} frames and the lineage are back as before")
        return frames

    def export(self, kind: str, path) -> None:
        try:
            written = self.owner.cells.export(kind, path)
        except USER_ERRORS as error:  # also FileExistsError: a path it may not replace
            show_error(str(error))
            return
        show_info(f"written: {written}")

    def _choose_export(self, kind: str) -> None:
        # a new name: a folder or file that is there already is replaced only if napari-sam2 wrote it
        path, _ = QFileDialog.getSaveFileName(self, EXPORT_TITLES[kind].rstrip("."))
        if path:
            self.export(kind, path)
