"""Tracks and who divided into whom: the lineage of a tracked time-lapse, with Cell Tracking
Challenge semantics (one id per track; after a division the parent's track ends and each daughter
starts a track of its own, its parent recorded; an id is never reused).

The one place that says what a valid lineage is; the CTC folder, GEFF, the napari Tracks layer and
the measurements table are all written from it together with the label stack."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

NO_PARENT = 0  # the parent of a track that does not start at a division (CTC's P = 0)


@dataclass(frozen=True)
class Track:
    track_id: int  # the label the track has in every frame of the label stack (>= 1)
    start: int  # first frame the track is in
    end: int  # last frame the track is in (inclusive)
    parent: int = NO_PARENT  # the track that divided into this one, or NO_PARENT

    def ctc_row(self) -> tuple[int, int, int, int]:
        """(L, B, E, P): a line of a CTC res_track.txt."""
        return (self.track_id, self.start, self.end, self.parent)


@dataclass
class Lineage:
    """Tracks by id. Build it as tracking goes (`begin`, `extend`) or from a finished label stack
    (`from_labels`); `check` says whether it agrees with a label stack."""

    tracks: dict[int, Track] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tracks)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self.tracks

    def begin(self, track_id: int, frame: int, parent: int = NO_PARENT) -> Track:
        """A new track starting on `frame` (a daughter of `parent` if given). Ids are never reused."""
        if track_id < 1:
            raise ValueError(f"track ids are labels, 1 or more; got {track_id}")
        if track_id in self.tracks:
            raise ValueError(f"track {track_id} already exists (frames {self.tracks[track_id].start}-"
                             f"{self.tracks[track_id].end}): a new track needs a new id")
        if parent != NO_PARENT and parent not in self.tracks:
            raise ValueError(f"track {track_id} names parent {parent}, which is not a track")
        track = Track(int(track_id), int(frame), int(frame), int(parent))
        self.tracks[track.track_id] = track
        return track

    def extend(self, track_id: int, frame: int) -> None:
        """Track `track_id` is also on `frame` (before its start or after its end)."""
        t = self.tracks[track_id]
        self.tracks[track_id] = Track(t.track_id, min(t.start, int(frame)), max(t.end, int(frame)), t.parent)

    def daughters(self, track_id: int) -> list[int]:
        return sorted(t.track_id for t in self.tracks.values() if t.parent == track_id)

    def divisions(self) -> dict[int, list[int]]:
        """Parent id -> its daughters' ids, for every track with a daughter: two or more, it divided;
        one, a gap (the cell was lost and found again, or its sister never seen; `divided`)."""
        out: dict[int, list[int]] = {}
        for t in self.tracks.values():
            if t.parent != NO_PARENT:
                out.setdefault(t.parent, []).append(t.track_id)
        return {p: sorted(d) for p, d in sorted(out.items())}

    def divided(self) -> dict[int, list[int]]:
        """The divisions proper: parents with two daughters or more (what a biologist counts)."""
        return {parent: daughters for parent, daughters in self.divisions().items() if len(daughters) >= 2}

    def parents(self) -> dict[int, int]:
        """Daughter id -> parent id (the form the simulator's lineage CSV has)."""
        return {t.track_id: t.parent for t in self.tracks.values() if t.parent != NO_PARENT}

    def ctc_rows(self) -> list[tuple[int, int, int, int]]:
        return [self.tracks[i].ctc_row() for i in sorted(self.tracks)]

    def next_id(self) -> int:
        """An id no track has had."""
        return max(self.tracks, default=0) + 1

    @classmethod
    def from_labels(cls, labels: np.ndarray, parents: dict[int, int] | None = None) -> Lineage:
        """The lineage of a label stack (T, H, W): each label's first and last frame, with the
        given daughter -> parent links (those the stack contradicts are dropped: a label absent
        from it, or a parent still there when its daughter starts, e.g. labels painted or
        tracked after the division)."""
        spans = frame_spans(labels)
        parents = parents or {}
        lineage = cls()
        for track_id in sorted(spans, key=lambda i: (spans[i][0], i)):
            start, end = spans[track_id]
            parent = parents.get(track_id, NO_PARENT)
            born = parent in spans and ends_before(spans[parent][1], start)
            lineage.tracks[track_id] = Track(track_id, start, end, parent if born else NO_PARENT)
        return lineage

    def check(self, labels: np.ndarray) -> list[str]:
        """What is wrong between this lineage and the label stack (T, H, W); [] when they agree.
        A track may be absent on some frames between its start and end (a gap)."""
        problems = []
        spans = frame_spans(labels)
        for track_id in sorted(set(spans) - set(self.tracks)):
            problems.append(f"label {track_id} is in the stack (frames {spans[track_id][0]}-{spans[track_id][1]}) "
                            "but has no track")
        for track_id, t in sorted(self.tracks.items()):
            if track_id not in spans:
                problems.append(f"track {track_id} (frames {t.start}-{t.end}) is in no frame of the stack")
            elif spans[track_id] != (t.start, t.end):
                problems.append(f"track {track_id} says frames {t.start}-{t.end}, the stack has it on "
                                f"{spans[track_id][0]}-{spans[track_id][1]}")
            if t.parent != NO_PARENT:
                parent = self.tracks.get(t.parent)
                if parent is None:
                    problems.append(f"track {track_id} names parent {t.parent}, which is not a track")
                elif not ends_before(parent.end, t.start):
                    problems.append(f"track {track_id} starts on frame {t.start} but its parent {t.parent} "
                                    f"ends on frame {parent.end}: a daughter starts after its parent ends")
        return problems


def ends_before(parent_end: int, daughter_start: int) -> bool:
    """Whether a parent ending on parent_end can have a daughter starting on daughter_start."""
    return parent_end < daughter_start


def frame_spans(labels: np.ndarray) -> dict[int, tuple[int, int]]:
    """Label id -> (first frame, last frame) it is in, over a (T, H, W) stack; 0 is background."""
    spans: dict[int, tuple[int, int]] = {}
    for t, frame in enumerate(labels):
        for track_id in _ids_in(frame):
            first = spans.get(track_id, (t, t))[0]
            spans[track_id] = (first, t)
    return spans


def _ids_in(frame: np.ndarray) -> Iterable[int]:
    ids = np.unique(frame)
    return (int(i) for i in ids[ids != 0])


def split_at_gaps(labels: np.ndarray, lineage: Lineage) -> tuple[np.ndarray, Lineage]:
    """The stack (T, H, W) and lineage with every gap closed the Cell Tracking Challenge way: a CTC
    track is on every frame from its start to its end, so a track that is absent for some frames
    continues after the gap under a new id whose parent is the part before it (a parent link with
    one daughter, not a division). The divisions of a split track start from its last part.
    Returns new arrays; `labels` and `lineage` are left as they are."""
    frames_of: dict[int, list[int]] = {}
    for t, frame in enumerate(labels):
        for track_id in _ids_in(frame):
            frames_of.setdefault(track_id, []).append(t)
    out_labels, out = labels.copy(), Lineage()
    next_id = max([lineage.next_id(), *(i + 1 for i in frames_of)])
    last_part: dict[int, int] = {}  # track id -> id of its last part after splitting
    for track_id in sorted(frames_of, key=lambda i: (frames_of[i][0], i)):
        parent = lineage.tracks[track_id].parent if track_id in lineage else NO_PARENT
        parent = last_part.get(parent, parent)
        for k, run in enumerate(_runs(frames_of[track_id])):
            part_id = track_id if k == 0 else next_id
            if k:
                next_id += 1
                for t in run:
                    out_labels[t][labels[t] == track_id] = part_id
            out.tracks[part_id] = Track(part_id, run[0], run[-1], parent)
            parent = last_part[track_id] = part_id
    return out_labels, out


def _runs(frames: list[int]) -> list[list[int]]:
    """Sorted frame numbers cut where they jump: [3, 4, 7, 8] -> [[3, 4], [7, 8]]."""
    runs = [[frames[0]]]
    for t in frames[1:]:
        if t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    return runs
