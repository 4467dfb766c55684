"""Tracking every cell of a session's image with no clicks (engine CellTracker) into the session's
labels store, with the lineage kept beside the labels; the Tracks layer; the corrections of the
lineage and the exports. No Qt widgets here: the dock widget drives it.

The objects already in the store are kept (storage/cells_onto_store.py): those on the first frame
are cells of the run with their ids, those first labelled later are cells of the run from their
frame (and back) where no track covers them, the model adds the others. A run is undoable like a
propagation. Stopped, it resumes after its last finished frame; after an edit (or an undo) the
next run tracks from the first frame again, since the tracker's memory no longer matches the
labels."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from ..engine.cell_lineage import Lineage
from ..engine.cell_tracker import CellTracker
from ..engine.lineage_edits import LabelFrames, delete_track, join_tracks, mark_division, undo_division
from ..storage.cells_onto_store import CellsOntoStore
from ..storage.store_edits import edit_store, store_lineage
from ..storage.tracking_outputs import TrackingOutputs
from .tracks_view import TracksView

EXPORTS = ("ctc", "geff", "csv")  # what export() writes: a CTC folder, a GEFF, a measurements CSV


class CellTracking:
    def __init__(self, session):
        if session.layout.axis != session.layout.ndim - 3 or session.layout.fixed:
            raise ValueError(f"Tracking every cell needs an image of frames, rows and columns; {session.image_layer.name!r} "
                             f"has shape {session.layout.shape} (clicks work on the channel or plane on screen). The "
                             "button below opens the frames on screen as an image of their own: Start on it, then "
                             "Track all cells")
        self.session = session
        self.store = session.store
        self.tracker = None  # the CellTracker of the current run, kept to resume it after a stop
        self.onto_store: CellsOntoStore | None = None  # how the current run writes onto the store
        self.finished = 0  # frames the current run has finished
        self._revised: set[int] = set()  # earlier frames the run wrote again, not yet drawn again
        self._revised_lock = threading.Lock()  # the worker adds to it, the main thread takes it
        self.tracks = TracksView(session.viewer, session.labels_layer, f"{session.image_layer.name} tracks")
        if self.store.load_lineage() is not None:  # a reopened store shows its tracks
            self.tracks.show_all(self.store.frames, self.store.load_lineage())

    # ---- tracking ----------------------------------------------------------------------------

    def frames_left(self) -> int:
        return self.store.num_frames - self.finished

    def start(self, seeds=None) -> Iterator[int]:
        """A run that tracks every cell (or goes on after a stop, when nothing changed since):
        iterating it writes each finished frame and the lineage so far to the store and yields
        the frame (in a worker thread). seeds: None (the model finds the cells), or labels of the
        first frame (H, W) or of every frame (T, H, W); bad seeds raise a ValueError here."""
        if self.tracker is None:
            tracker = CellTracker(self.session.tracker.model, self.session.frames, seeds=seeds,
                                  z_stack=self.store.axes[self.store.frame_axis] == "z",  # no divisions along z
                                  cell_diameter=self.session.tracker.cell_diameter)  # the session's, shown
            self.tracker, self.onto_store, self.finished = tracker, None, 0
        return self._run()

    def _run(self) -> Iterator[int]:
        if self.onto_store is None:  # in the worker thread: it reads every frame of the store
            try:
                self.onto_store = CellsOntoStore(self.store, self.tracker)  # what the store holds is kept
            except ValueError:  # refused (an object larger than a tile): the last change stays undoable
                self.tracker = None
                raise
            self.store.begin_undoable()  # only once the run can start: undo has one level
        for cell_frame in self.tracker.run():
            self.onto_store.write(cell_frame)  # a revised earlier frame (new cells tracked back) written over
            if cell_frame.again:
                with self._revised_lock:
                    self._revised.add(cell_frame.frame)
                continue
            self.finished += 1
            yield cell_frame.frame

    def request_stop(self) -> None:
        if self.tracker is not None:
            self.tracker.request_stop()

    def show_tracks(self) -> None:
        """The Tracks layer drawn again from every frame of the store."""
        self.tracks.show_all(self.store.frames, self.store.load_lineage() or Lineage())

    def frame_done(self, frame: int) -> None:
        """In the main thread, once `frame` is written: its cells join the Tracks layer, and those of
        the earlier frames revised since (new cells tracked back onto them) are drawn again."""
        with self._revised_lock:
            revised, self._revised = self._revised, set()
        labels = {t: self.store.read_frame(t) for t in sorted(revised | {frame})}
        self.tracks.show_frames(labels, self.store.load_lineage() or Lineage())

    # ---- corrections ---------------------------------------------------------------------------

    def delete(self, track_id: int) -> Lineage:
        return self._edit(lambda frames, lineage: delete_track(frames, lineage, track_id))

    def join(self, earlier: int, later: int) -> Lineage:
        return self._edit(lambda frames, lineage: join_tracks(frames, lineage, earlier, later))

    def mark_division(self, parent: int, daughters: Sequence[int]) -> Lineage:
        return self._edit(lambda frames, lineage: mark_division(frames, lineage, parent, daughters))

    def undo_division(self, parent: int) -> Lineage:
        return self._edit(lambda frames, lineage: undo_division(lineage, parent))

    def _edit(self, change: Callable[[LabelFrames, Lineage], Lineage]) -> Lineage:
        edited = edit_store(self.store, change)
        self.refresh()
        return edited

    def undo(self) -> list[int]:
        """Take back the last run or edit, labels and lineage; returns the frames put back."""
        frames = self.store.undo()
        self.refresh()
        return frames

    def clicks_changed(self) -> None:
        """Objects clicked and propagated (e.g. a missed cell) are tracks of their own from now on:
        the lineage follows the labels, keeping every parent it had."""
        lineage = self.store.load_lineage()
        if lineage is not None:
            self.store.save_lineage(Lineage.from_labels(self.store.frames, lineage.parents()))
            self.refresh()

    def refresh(self) -> None:
        """The labels or the lineage changed (an edit, an undo): show them again."""
        self.tracker = None  # its memory no longer matches the labels: the next run starts over
        self.session.labels_layer.refresh()
        lineage = self.store.load_lineage()
        self.tracks.show_all(self.store.frames, lineage or Lineage())

    # ---- exports -------------------------------------------------------------------------------

    def export(self, kind: str, path: str | Path, overwrite: bool = False) -> Path:
        """Write the labels and lineage as `kind` (one of EXPORTS) at `path`; the CSV's mean
        intensities are read from the image."""
        if kind not in EXPORTS:
            raise ValueError(f"exports are {', '.join(EXPORTS)}, not {kind!r}")
        outputs = TrackingOutputs(**{kind: Path(path)}, overwrite=overwrite)
        outputs.check()
        return outputs.write(self.store, store_lineage(self.store), self.session.frames)[0]
