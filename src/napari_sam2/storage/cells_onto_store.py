"""Tracking every cell (engine CellTracker) onto a labels store that already holds objects (cells
clicked and propagated, painted, or tracked by an earlier run), keeping them:

- the objects on the run's first frame of a cell's size (the tracker's min_area or more) are given
  to the tracker with their ids (their masks as mask prompts): the run tracks them like every other
  cell, and the model's detection adds only the cells they do not cover;
- the objects first labelled on a later frame, of a cell's size, are given to the tracker for that
  frame with their ids (CellTracker.give_cells): those no track of the run covers there (a cell the
  model missed, clicked or painted) are tracks of the run from there on and back in time; the
  others stay as stored labels (below);
- new tracks get ids above every id in the store, so no stored object is taken over by the run;
- each finished frame goes onto the stored one by the one writing rule (frame_result.paint_winners)
  with the run's objects (its tracks and the objects it was given) as the updated ones: on later
  frames the run's tracks of the given objects replace their stored masks, like a propagation from
  the first frame again; every other stored label (an object first labelled on a later frame, a
  cell painted by hand, a smaller object) is an object with an output there too, its stored mask,
  which wins its pixels: the run's cells get only pixels no such label has (where the run follows
  such a cell under an id of its own, that track shows only where the stored label is not: join the
  two tracks if they are one cell);
- the lineage saved with each frame follows the store's labels, with the run's parent links and
  those the store had (Lineage.from_labels drops the links the labels now contradict).
Writes are undoable together (the caller begins the undo record)."""
from __future__ import annotations

import numpy as np

from ..engine.cell_lineage import Lineage
from ..engine.cell_tracker import CellFrame, CellTracker
from ..engine.frame_result import paint_winners
from ..engine.label_seeds import masks_from_labels
from ..engine.tile_fit import check_objects_fit, objects_beyond_a_tile
from .labels_store import LabelsStore


def ids_in(labels: np.ndarray) -> set[int]:
    return set(np.unique(labels).tolist()) - {0}


class CellsOntoStore:
    """Seeds `tracker` (before its first run) with the objects of `store` on the run's first frame;
    `write` puts each finished frame onto the store and returns the lineage saved with it."""

    def __init__(self, store: LabelsStore, tracker: CellTracker):
        self.store, self.tracker = store, tracker
        self.ids_on = [ids_in(store.read_frame(t)) for t in range(store.num_frames)]  # the store's ids, per frame
        tracker.reserve_ids(set().union(*self.ids_on))
        first = store.read_frame(tracker.next_frame)
        masks = masks_from_labels(first, tracker.video.video_hw) if first.any() else {}
        masks = {obj_id: mask for obj_id, mask in masks.items()
                 if mask.sum() >= tracker.params.min_area}  # smaller ones are kept as they are
        # before any is added or written: the store stays as it is, the tracker unseeded
        check_objects_fit(np.where(np.isin(first, list(masks)), first, 0), tracker.video.tile_plan,
                          tracker.cell_diameter, "stored object", f" on frame {tracker.next_frame}")
        self.given = tuple(tracker.add_cell(mask=mask, track_id=obj_id) for obj_id, mask in masks.items())
        self._give_later_objects()
        before = store.load_lineage()
        self.parents_before = before.parents() if before is not None else {}

    def _give_later_objects(self) -> None:
        """The objects first labelled after the run's first frame, of a cell's size and fitting a
        tile, given to the tracker for their first frame (smaller or larger ones stay as they are)."""
        seen = set().union(*self.ids_on[: self.tracker.next_frame + 1])
        for t in range(self.tracker.next_frame + 1, self.store.num_frames):
            first_here = self.ids_on[t] - seen
            seen |= self.ids_on[t]
            if not first_here:
                continue
            labels = self.store.read_frame(t).astype(np.uint32)
            labels[~np.isin(labels, list(first_here))] = 0
            ids, areas = np.unique(labels, return_counts=True)
            small = ids[(areas < self.tracker.params.min_area) & (ids != 0)]
            labels[np.isin(labels, small)] = 0
            labels[np.isin(labels, list(objects_beyond_a_tile(labels, self.tracker.video.tile_plan)))] = 0
            if labels.any():
                self.tracker.give_cells(t, labels)

    def write(self, cell_frame: CellFrame) -> Lineage:
        """The frame painted onto the store (undoable) and the lineage of the store now, saved."""
        updated = set(self.given) | set(self.tracker.lineage.tracks)
        stored = self.store.read_frame(cell_frame.frame).astype(np.uint32)
        kept = (stored != 0) & ~np.isin(stored, list(updated))  # (H, W) labels the run does not track
        labels = paint_winners(stored, np.where(kept, stored, cell_frame.labels), updated)
        self.store.write_frame_undoable(cell_frame.frame, labels)
        self.ids_on[cell_frame.frame] = ids_in(labels)
        parents = {d: p for d, p in self.parents_before.items() if d not in updated}
        parents.update(self.tracker.lineage.parents())
        # each frame's ids stand for its labels: the spans are all from_labels reads of them
        lineage = Lineage.from_labels([np.array(sorted(ids), np.int64) for ids in self.ids_on], parents)
        self.store.save_lineage(lineage)
        return lineage
