"""Which frames a propagation covers: its runs (one per direction), the frame each object
joins a run at, and a sentence for people ("frames 30 -> 0")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .memory_bank import ObjectMemory
from .memory_selection import BACKWARD, FORWARD

DIRECTIONS = {"forward": (FORWARD,), "backward": (BACKWARD,), "both": (FORWARD, BACKWARD)}


def direction_signs(direction: str) -> tuple[int, ...]:
    """The run directions of a propagation direction's name, or a ValueError naming the choices."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    return DIRECTIONS[direction]


@dataclass(frozen=True)
class Run:
    """Frames tracked one after the other in one direction; each object is tracked from the
    frame it joins at (its first prompted or not yet tracked frame) to the end of the run."""

    direction: int  # FORWARD or BACKWARD
    frames: range  # in tracking order
    joins: Mapping[int, int]  # obj_id -> the run's frame it is first tracked on

    def objects_on(self, frame: int) -> list[int]:
        return [obj_id for obj_id, first in self.joins.items() if (frame - first) * self.direction >= 0]

    def tracks(self, obj_id: int, frame: int) -> bool:
        return frame in self.frames and obj_id in self.objects_on(frame)


def make_run(direction: int, joins: Mapping[int, int], num_frames: int, max_frames: int | None = None) -> Run:
    """The run from the earliest join (in `direction`) to the video's end, at most max_frames long."""
    inside = {obj_id: f for obj_id, f in joins.items() if 0 <= f < num_frames}
    if not inside:
        return Run(direction, range(0), {})
    first = min(inside.values()) if direction == FORWARD else max(inside.values())
    last = num_frames - 1 if direction == FORWARD else 0
    count = abs(last - first) + 1 if max_frames is None else min(abs(last - first) + 1, max_frames)
    return Run(direction, range(first, first + direction * count, direction), inside)


def plan_runs(objects: Mapping[int, ObjectMemory], signs: tuple[int, ...], start: int | None, max_frames: int | None,
              num_frames: int) -> tuple[Run, ...]:
    """The runs with frames to track, one per direction in `signs`: every object from `start`
    (start - 1 after a first run), or each from its own prompts (own_starts)."""
    runs: list[Run] = []
    for step, sign in enumerate(signs):
        if start is not None:
            joins = dict.fromkeys(objects, start if step == 0 else start + sign)
        else:
            joins = own_starts(objects, sign, runs, num_frames)
        run = make_run(sign, joins, num_frames, max_frames)
        if run.frames:
            runs.append(run)
    return tuple(runs)


def own_starts(objects: Mapping[int, ObjectMemory], sign: int, earlier: list[Run], num_frames: int) -> dict[int, int]:
    """obj_id -> the frame tracking in `sign` begins at for it, after the `earlier` runs (whose
    passing over its prompted frames makes those up to date both ways)."""
    starts = {}
    for obj_id, track in objects.items():
        done = frozenset(f for f in track.conditioning_frames() if any(r.tracks(obj_id, f) for r in earlier))
        first = track.start(sign, num_frames, done)
        if first is not None:
            starts[obj_id] = first
    return starts


@dataclass(frozen=True)
class PropagationPlan:
    direction: str  # "forward", "backward" or "both"
    runs: tuple[Run, ...]  # the runs with frames to track, in order

    @property
    def num_frames(self) -> int:
        return sum(len(run.frames) for run in self.runs)

    def describe(self) -> str:
        """E.g. "frames 30 -> 0", or "frames 19 -> 39, then 18 -> 0"; "no frames" when empty."""
        if not self.runs:
            return "no frames"
        spans = [f"{run.frames[0]} -> {run.frames[-1]}" for run in self.runs]
        return "frames " + ", then ".join(spans)
