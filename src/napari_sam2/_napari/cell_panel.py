"""The dock widget's "All cells" section: track every cell, correct the lineage, export it.
Corrections act on the track ids typed in (or the Labels layer's selected label), e.g. "4" to
delete track 4, "4 9" to join track 9 onto 4, "4 9 12" to mark that 4 divided into 9 and 12."""
from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QComboBox, QFileDialog, QGridLayout, QGroupBox, QLineEdit, QPushButton, QVBoxLayout

from .cell_tracking import EXPORTS
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
    """Buttons calling the dock widget (`owner`): track_all_cells, edit_tracks, undo_cell_edit,
    export_cells."""

    def __init__(self, owner):
        super().__init__("All cells")
        self.owner = owner
        self.track_button = self._button("Track all cells", owner.track_all_cells, "track")
        self.seeds_combo = QComboBox()
        self.seeds_combo.setToolTip(CELL_TOOLTIPS["seeds"])
        self._seed_layers: dict[str, object] = {}
        self.ids_edit = QLineEdit(placeholderText="track ids, e.g. 4 or 4 9 12 (empty: the selected label)")
        self.ids_edit.setToolTip(CELL_TOOLTIPS["ids"])
        self.delete_button = self._button("Delete track", lambda: owner.edit_tracks("delete"), "delete")
        self.join_button = self._button("Join tracks", lambda: owner.edit_tracks("join"), "join")
        self.division_button = self._button("Mark division", lambda: owner.edit_tracks("division"), "division")
        self.undo_division_button = self._button("Undo division", lambda: owner.edit_tracks("undo_division"),
                                                 "undo_division")
        self.undo_button = self._button("Undo last change", owner.undo_cell_edit, "undo")
        self.export_buttons = {kind: self._button(EXPORT_TITLES[kind], lambda k=kind: self._export(k), "export")
                               for kind in EXPORTS}
        grid = QGridLayout()
        for i, button in enumerate((self.delete_button, self.join_button, self.division_button,
                                    self.undo_division_button, self.undo_button, *self.export_buttons.values())):
            grid.addWidget(button, i // 2, i % 2)
        layout = QVBoxLayout(self)
        for widget in (self.seeds_combo, self.track_button, self.ids_edit):
            layout.addWidget(widget)
        layout.addLayout(grid)

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

    def _export(self, kind: str) -> None:
        # a new name: a folder or file that is there already is replaced only if napari-sam2 wrote it
        path, _ = QFileDialog.getSaveFileName(self, EXPORT_TITLES[kind].rstrip("."))
        if path:
            self.owner.export_cells(kind, path)
