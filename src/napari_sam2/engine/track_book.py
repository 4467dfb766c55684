"""The books of automatic cell tracking (cell_tracker.py): which track each live object of the
video tracker stands for now, how many frames in a row each has been absent, its area on the last
finished frame, the parents of tracks not yet in the lineage, the ids, and the lineage the finished
frames make. Ids are never reused: objects and tracks draw from one counter, so a new object's id
is its first track's id; an object's track id changes only across a gap."""
from __future__ import annotations

from collections import deque
from typing import Collection

import numpy as np

from .cell_lineage import NO_PARENT, Lineage


class TrackBook:
    def __init__(self, area_history: int):
        """area_history: the last frames of each object's area that growth_reference looks at."""
        self.lineage = Lineage()  # live: grows as frames finish
        self.track_of: dict[int, int] = {}  # live object (the video tracker's id) -> its track id now
        self.absent: dict[int, int] = {}  # live object -> frames absent in a row (blank frames not counted)
        self.missing: set[int] = set()  # live objects missing on a frame since last seen (absent, or a blank frame)
        self.areas: dict[int, int] = {}  # live object -> pixels on the last finished frame
        self.history: dict[int, deque[int]] = {}  # live object -> its pixels on the last area_history frames it was seen on
        self._area_history = area_history
        self.parents: dict[int, int] = {}  # track not yet in the lineage -> its parent track
        self._next_id = 1

    def start(self, obj_id: int, area: int | None = None) -> int:
        """A new object, its first track's id its own (its area not known yet for a click)."""
        self.track_of[obj_id], self.absent[obj_id] = obj_id, 0
        if area is not None:
            self.areas[obj_id] = area
        return obj_id

    def drop(self, obj_id: int) -> int:
        """The object is no longer live; returns its track (which ends)."""
        self.absent.pop(obj_id)
        self.missing.discard(obj_id)
        self.areas.pop(obj_id, None)
        self.history.pop(obj_id, None)
        return self.track_of.pop(obj_id)

    def seen(self, obj_id: int, area: int) -> int | None:
        """The object has pixels on the finished frame (`area` of them); returns its track before the
        gap it comes back from (which ends: it goes on under a new track, continue_after_gap), else None."""
        before = self.continue_after_gap(obj_id) if obj_id in self.missing and self.track_of[obj_id] in self.lineage else None
        self.missing.discard(obj_id)
        self.absent[obj_id], self.areas[obj_id] = 0, area
        self.history.setdefault(obj_id, deque(maxlen=self._area_history)).append(area)
        return before

    def growth_reference(self, obj_id: int, default: int) -> int:
        """The area two cells in the object's mask are compared with to tell daughters from a neighbour
        it grew over: its area on the frame before, or its median area over the last area_history
        frames it was seen on where that is smaller (a mask that crept over a touching cell frame by
        frame grew from its own cell's size; a dividing cell's daughters together are about its size).
        `default`: the area to use for an object not seen yet."""
        before = self.areas.get(obj_id, default)
        seen = self.history.get(obj_id)
        return min(before, int(np.median(seen))) if seen else before

    def missed(self, obj_id: int, blank: bool) -> int:
        """The object has no pixels on the finished frame; returns the frames it has been absent in a row
        (a blank frame shows nothing, so it does not count: only a frame that shows the cell gone does)."""
        self.missing.add(obj_id)
        self.absent[obj_id] += not blank
        return self.absent[obj_id]

    def continue_after_gap(self, obj_id: int) -> int:
        """The object goes on under a new track, child of its track before the gap; returns that one."""
        before = self.track_of[obj_id]
        self.track_of[obj_id] = self.new_id()
        self.parents[self.track_of[obj_id]] = before
        return before

    def frames_before(self, obj_id: int, frame: int) -> int:
        """The frames the object's track was seen on before `frame` (0 for a track not yet recorded)."""
        track = self.lineage.tracks.get(self.track_of[obj_id])
        return 0 if track is None else frame - track.start

    def as_tracks(self, objects: np.ndarray) -> np.ndarray:
        """(H, W) object ids -> (H, W) uint32 track ids."""
        ids, inverse = np.unique(objects, return_inverse=True)
        tracks = np.array([self.track_of.get(int(i), 0) for i in ids], np.uint32)
        return tracks[inverse].reshape(objects.shape)

    def record(self, frame: int, labels: np.ndarray) -> list[int]:
        """The lineage after this frame's (H, W) track labels; returns the tracks that begin here."""
        started = []
        for track_id in np.unique(labels[labels != 0]).tolist():
            if track_id in self.lineage:
                self.lineage.extend(track_id, frame)
                continue
            parent = self.parents.pop(track_id, NO_PARENT)
            self.lineage.begin(track_id, frame, parent if parent in self.lineage else NO_PARENT)
            started.append(track_id)
        return started

    # ---- ids ---------------------------------------------------------------------------------

    def reserve(self, ids) -> None:
        """New ids come above every one of `ids`."""
        self._next_id = max([self._next_id, *(int(i) + 1 for i in ids)])

    def given_id(self, track_id: int, live: Collection[int]) -> int:
        """track_id, checked to be a label no object (`live`) or track has."""
        if track_id < 1 or track_id in live or track_id in self.lineage:
            raise ValueError(f"cell id {track_id} is taken or no label (ids are 1 or more): give another id, "
                             "or none for a new one")
        self._next_id = max(self._next_id, track_id + 1)
        return track_id

    def seed_id(self, seed_id: int, live: Collection[int]) -> int:
        """A seed label's id for its track where it is free and not below the ids handed out or
        reserved (a seed may share its id with a stored label or a clicked cell); else a new one."""
        track_id = seed_id if seed_id not in live and seed_id >= self._next_id else self.new_id()
        self._next_id = max(self._next_id, track_id + 1)
        return track_id

    def new_id(self) -> int:
        """An id no track or object has had."""
        track_id = max(self._next_id, self.lineage.next_id())
        self._next_id = track_id + 1
        return track_id
