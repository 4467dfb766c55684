"""J&F scores and their table: one row per prompt kind (the simulated benchmark) or per object
(the CLI's `track --truth`), the same columns for both."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Score:
    name: str  # what was scored: a prompt kind, an object id, "**mean**"
    j: float
    f: float
    num_objects: int

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def mean_score(name: str, pairs: list[tuple[float, float]]) -> Score:
    """The mean of per-object (J, F) pairs."""
    return Score(name, float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs])), len(pairs))


def format_table(scores: list[Score], first_column: str = "prompt on frame 0") -> str:
    """A Markdown table of scores."""
    lines = [f"| {first_column} | J | F | J&F | objects |", "|---|---|---|---|---|"]
    lines += [f"| {s.name} | {s.j:.3f} | {s.f:.3f} | {s.jf:.3f} | {s.num_objects} |" for s in scores]
    return "\n".join(lines)
