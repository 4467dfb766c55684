"""Lineage: which cell divided into which, and the ground truth it implies for tracking (after a
division, an object is the union of its descendants). Also the lineage's CSV form
(``daughter,parent`` per line), as the sample data ships it and the CLI reads it."""
from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .config import Simulation

LINEAGE_HEADER = ("daughter", "parent")


def descendants(lineage: dict[int, int], cell_id: int) -> set[int]:
    """All descendants (children, grandchildren, ...) of ``cell_id``; the cell itself excluded.
    ``lineage``: daughter id -> parent id."""
    children: dict[int, list[int]] = {}
    for child, parent in lineage.items():
        children.setdefault(parent, []).append(child)
    out: set[int] = set()
    stack = list(children.get(cell_id, []))
    while stack:
        c = stack.pop()
        if c not in out:
            out.add(c)
            stack.extend(children.get(c, []))
    return out


def family_masks(labels: np.ndarray, lineage: dict[int, int], ids: Iterable[int]) -> dict[int, np.ndarray]:
    """For each id, where it or any of its descendants is: labels (T, H, W) -> {id: (T, H, W) bool}."""
    return {int(i): np.isin(labels, sorted({int(i)} | descendants(lineage, int(i)))) for i in ids}


def ground_truth_masks(
    sim: Simulation, object_ids_in_first_frame: Iterable[int] | None = None, first_frame: int = 0,
) -> dict[int, np.ndarray]:
    """Ground truth for tracking evaluation: for each object of `first_frame`, a ``(T, H, W)``
    bool array, over the frames from `first_frame` on, of the object and all its descendants
    (after a division the object is its daughters).

    ``object_ids_in_first_frame`` defaults to every label present in that frame (ascending).
    """
    labels = sim.labels[first_frame:]
    if object_ids_in_first_frame is None:
        object_ids_in_first_frame = [int(i) for i in np.unique(labels[0]) if i != 0]
    return family_masks(labels, sim.lineage, object_ids_in_first_frame)


def write_lineage(path: Path, lineage: dict[int, int]) -> None:
    rows = "".join(f"{daughter},{parent}\n" for daughter, parent in sorted(lineage.items()))
    Path(path).write_text(",".join(LINEAGE_HEADER) + "\n" + rows)


def read_lineage(path: Path | None) -> dict[int, int]:
    """daughter id -> parent id from a ``daughter,parent`` CSV; {} without a file."""
    if path is None:
        return {}
    with open(path) as f:
        return {int(r["daughter"]): int(r["parent"]) for r in csv.DictReader(f)}
