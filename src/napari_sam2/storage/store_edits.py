"""Lineage edits (engine/lineage_edits.py) made on a labels store: the frames they relabel and the
lineage are saved together, and one `store.undo()` takes the edit back, labels and lineage."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..engine.cell_lineage import Lineage
from ..engine.lineage_edits import LabelFrames
from .labels_store import LabelsStore


class _UndoableFrames:
    """The store's frames as LabelFrames, each write copied aside first for undo."""

    def __init__(self, store: LabelsStore):
        self.store = store
        self.num_frames = store.num_frames

    def read_frame(self, frame: int) -> np.ndarray:
        return self.store.read_frame(frame)

    def write_frame(self, frame: int, labels: np.ndarray) -> None:
        self.store.write_frame_undoable(frame, labels)


def store_lineage(store: LabelsStore) -> Lineage:
    """The lineage saved in the store, or a ValueError saying there is none to edit."""
    lineage = store.load_lineage()
    if lineage is None:
        raise ValueError("these labels have no lineage (they were tracked from clicks, or by an earlier "
                         "napari-sam2): track all cells to get one")
    return lineage


def edit_store(store: LabelsStore, edit: Callable[[LabelFrames, Lineage], Lineage]) -> Lineage:
    """Apply `edit(frames, lineage) -> new lineage` (e.g. `lambda f, l: delete_track(f, l, 7)`) to
    the store and save the new lineage; returns it. The edit can be undone (`store.undo()`); a
    refused edit (LineageEditError) changes nothing."""
    lineage = store_lineage(store)
    store.begin_undoable()
    edited = edit(_UndoableFrames(store), lineage)
    store.save_lineage(edited)
    return edited
