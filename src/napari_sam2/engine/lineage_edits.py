"""Corrections a biologist makes to a tracking result: delete a wrong track, join two tracks that
are one cell, mark a division the tracker missed, undo one it made up.

Each edit takes the label frames (anything with `num_frames`, `read_frame(t)`, `write_frame(t,
labels)`: a LabelsStore, or StackFrames over an array) and the lineage, relabels the frames it
must, and returns the new lineage; the one given is not changed. A refused edit (a
LineageEditError saying why and what to do) changes nothing. After each, lineage.check(labels) == []
holds if it held before."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from .cell_lineage import NO_PARENT, Lineage, Track


class LabelFrames(Protocol):
    num_frames: int

    def read_frame(self, frame: int) -> np.ndarray: ...

    def write_frame(self, frame: int, labels: np.ndarray) -> None: ...


class StackFrames:
    """A label stack (T, H, W) in memory as LabelFrames, edited in place."""

    def __init__(self, labels: np.ndarray):
        self.labels = labels

    @property
    def num_frames(self) -> int:
        return len(self.labels)

    def read_frame(self, frame: int) -> np.ndarray:
        return np.array(self.labels[frame])

    def write_frame(self, frame: int, labels: np.ndarray) -> None:
        self.labels[frame] = labels


class LineageEditError(ValueError):
    """An edit that cannot be made as asked; nothing was changed."""


def delete_track(frames: LabelFrames, lineage: Lineage, track_id: int) -> Lineage:
    """Erase the track from every frame. Its daughters, if it divided, become tracks of their own."""
    track = _track(lineage, track_id)
    _relabel(frames, range(track.start, track.end + 1), track_id, 0)
    return _with(lineage, remove=[track_id], reparent={d: NO_PARENT for d in lineage.daughters(track_id)})


def join_tracks(frames: LabelFrames, lineage: Lineage, earlier: int, later: int) -> Lineage:
    """One cell tracked as two: `later` takes `earlier`'s id (and its daughters go with it); the
    joined track keeps `earlier`'s parent, and a parent `later` had loses it as a daughter."""
    first, second = _track(lineage, earlier), _track(lineage, later)
    if first.end >= second.start:
        raise LineageEditError(f"tracks {earlier} (frames {first.start}-{first.end}) and {later} (frames "
                               f"{second.start}-{second.end}) overlap: a join needs the later track to start "
                               "after the earlier one ends")
    if lineage.daughters(earlier):
        raise LineageEditError(f"track {earlier} divided into {lineage.daughters(earlier)}: undo that division first, "
                               f"then join {earlier} and {later}")
    _relabel(frames, range(second.start, second.end + 1), later, earlier)
    joined = Track(earlier, first.start, second.end, first.parent)
    return _with(lineage, remove=[later], add=[joined], reparent={d: earlier for d in lineage.daughters(later)})


def mark_division(frames: LabelFrames, lineage: Lineage, parent: int, daughters: Sequence[int]) -> Lineage:
    """`parent` divided into `daughters`: two tracks that start after the parent ends, or one
    daughter when the parent's track goes on as the other (the tracker followed one daughter
    under the parent's id): its part from the daughter's first frame on becomes a new track."""
    daughters = [int(d) for d in daughters]
    _check_division(lineage, parent, daughters)
    if len(daughters) == 1:
        lineage, continuation = _split(frames, lineage, parent, lineage.tracks[daughters[0]].start)
        daughters.append(continuation)
    late = [d for d in daughters if lineage.tracks[d].start <= lineage.tracks[parent].end]
    if late:
        raise LineageEditError(f"track {late[0]} starts on frame {lineage.tracks[late[0]].start}, while its parent "
                               f"{parent} goes on to frame {lineage.tracks[parent].end}: give only the daughter "
                               "that is not the parent's own track, which then ends where the daughter starts")
    return _with(lineage, reparent={d: parent for d in daughters})


def undo_division(lineage: Lineage, parent: int) -> Lineage:
    """The daughters of `parent` become tracks of their own (no labels change); to make the parent
    and one daughter one track again, join them (join_tracks)."""
    daughters = lineage.daughters(_track(lineage, parent).track_id)
    if not daughters:
        raise LineageEditError(f"track {parent} did not divide: choose the parent of a division")
    return _with(lineage, reparent={d: NO_PARENT for d in daughters})


def _check_division(lineage: Lineage, parent: int, daughters: list[int]) -> None:
    for track_id in [parent, *daughters]:
        _track(lineage, track_id)
    if len(daughters) not in (1, 2) or len(set(daughters)) != len(daughters) or parent in daughters:
        raise LineageEditError(f"a division is a parent and two daughters (or one, when the parent's track goes on as "
                               f"the other); got parent {parent} and daughters {daughters}")
    if lineage.daughters(parent):
        raise LineageEditError(f"track {parent} already divided into {lineage.daughters(parent)}: undo that division "
                               "first")
    for d in daughters:
        if lineage.tracks[d].parent != NO_PARENT:
            raise LineageEditError(f"track {d} is already a daughter of {lineage.tracks[d].parent}: undo that "
                                   "division first")
    if len(daughters) == 1 and not lineage.tracks[parent].start < lineage.tracks[daughters[0]].start \
            <= lineage.tracks[parent].end:
        p, d = lineage.tracks[parent], lineage.tracks[daughters[0]]
        raise LineageEditError(f"with one daughter, the parent's track goes on as the other, so daughter {d.track_id} "
                               f"must start (it starts on frame {d.start}) while parent {parent} is tracked "
                               f"(frames {p.start + 1}-{p.end}); otherwise give both daughters")


def _split(frames: LabelFrames, lineage: Lineage, track_id: int, frame: int) -> tuple[Lineage, int]:
    """The part of the track from `frame` on as a new track (its daughters go with it); the track
    is on some frame before `frame` and on its last frame, at or after it."""
    track, new_id = lineage.tracks[track_id], lineage.next_id()
    tail = _relabel(frames, range(frame, track.end + 1), track_id, new_id)
    last = next(t for t in range(frame - 1, track.start - 1, -1) if (frames.read_frame(t) == track_id).any())
    pieces = [Track(track_id, track.start, last, track.parent), Track(new_id, tail[0], tail[-1])]
    return _with(lineage, add=pieces, reparent={d: new_id for d in lineage.daughters(track_id)}), new_id


def _track(lineage: Lineage, track_id: int) -> Track:
    if int(track_id) not in lineage.tracks:
        raise LineageEditError(f"there is no track {track_id}: choose one of the tracks' labels")
    return lineage.tracks[int(track_id)]


def _relabel(frames: LabelFrames, span: range, old: int, new: int) -> list[int]:
    """Label `old` becomes `new` on the frames of `span`; returns the frames it was on."""
    changed = []
    for t in span:
        labels = frames.read_frame(t)
        found = labels == old
        if found.any():
            labels[found] = new
            frames.write_frame(t, labels)
            changed.append(t)
    return changed


def _with(lineage: Lineage, remove=(), add=(), reparent=None) -> Lineage:
    """A new lineage: `lineage` without the tracks `remove`, with the tracks `add` (replacing those
    of their ids) and the parents `reparent` ({track: new parent}) set."""
    tracks = {i: t for i, t in lineage.tracks.items() if i not in set(remove)}
    tracks.update({t.track_id: t for t in add})
    for track_id, parent in (reparent or {}).items():
        t = tracks[track_id]
        tracks[track_id] = Track(t.track_id, t.start, t.end, parent)
    return Lineage(dict(sorted(tracks.items())))
