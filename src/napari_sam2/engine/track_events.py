"""The events of automatic cell tracking, decided on one frame from label images alone (numpy and
scipy, no model): which tracked cell divided and into which two pieces, which detections are cells
no track covers yet (new cells), and which tracks are absent.

The rules, with their thresholds in CellTrackingParams (cell_tracker.py):

- Division: a tracked cell divided on this frame when its mask holds two daughters, found as
  (a) two separate connected pieces of the mask, or else (b) two detections of the frame lying
  mostly inside the mask (min_inside of each detection's area). Either way each daughter has at
  least min_area pixels and min_daughter_fraction of the two daughters' total (a chipped edge is no
  daughter), and the two together are no more than max_division_growth times the parent's area on
  the frame before (a mask that grew over a neighbour is a mistake, not a division). More than two
  pieces: the two largest are the daughters. And the tracked mask is not convex: it fills at most
  max_solidity of its convex hull (a dividing cell is pinched in the middle, or already in two pieces;
  a round, textured cell that detection cut in two parts fills its hull: no division).
- New cell: a detection of which at most max_covered of the pixels are already some track's; what
  is not covered of it (at least min_area pixels) starts a track.
- Absent: a track with fewer than min_area pixels on a frame (the object score said "no object",
  or the cell left the field, or other cells took its pixels) is absent there; its pixels are not
  written. A track absent on end_after frames in a row ends.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage
from skimage.morphology import convex_hull_image


def pieces_of(mask: np.ndarray) -> list[np.ndarray]:
    """The connected pieces of an (H, W) bool mask, largest first."""
    labelled, count = ndimage.label(mask)
    if count == 0:
        return []
    sizes = np.bincount(labelled.ravel())[1:]
    return [labelled == 1 + int(index) for index in np.argsort(-sizes, kind="stable")]


def detections_inside(mask: np.ndarray, detections: np.ndarray, min_inside: float) -> list[np.ndarray]:
    """The detections (an (H, W) label image) with at least min_inside of their area inside mask,
    largest overlap first."""
    ids, inside = np.unique(detections[mask], return_counts=True)
    found = []
    for det_id, count in zip(ids, inside):
        if det_id == 0:
            continue
        det = detections == det_id
        if count >= min_inside * det.sum():
            found.append((count, det))
    return [det for _, det in sorted(found, key=lambda pair: -pair[0])]


def solidity(mask: np.ndarray) -> float:
    """The share of an (H, W) bool mask's convex hull that it fills (1 for a convex shape)."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return 1.0
    window = mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    return float(window.sum() / max(convex_hull_image(window).sum(), 1))


def daughters_of(mask: np.ndarray, detections: np.ndarray | None, previous_area: int, min_area: int,
                 min_daughter_fraction: float, min_inside: float, max_division_growth: float,
                 max_solidity: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The two daughters (each an (H, W) bool mask) of a tracked cell whose mask on this frame is
    `mask`, or None when it did not divide (the rule is in the module docstring)."""
    if solidity(mask) > max_solidity:
        return None
    for candidates in (pieces_of(mask), [] if detections is None else detections_inside(mask, detections, min_inside)):
        if len(candidates) < 2:
            continue
        first, second = candidates[0], candidates[1] & ~candidates[0]
        areas = np.array([first.sum(), second.sum()])
        if (areas.min() >= min_area and areas.min() >= min_daughter_fraction * areas.sum()
                and areas.sum() <= max_division_growth * max(previous_area, 1)):
            return first, second
    return None


def uncovered_cells(detections: np.ndarray, tracked: np.ndarray, max_covered: float,
                    min_area: int) -> list[np.ndarray]:
    """Detections (an (H, W) label image) that no track covers (at most max_covered of their pixels
    under a label of `tracked`): each one's uncovered pixels as an (H, W) bool mask, largest first."""
    new = []
    for det_id, window in enumerate(ndimage.find_objects(detections), start=1):
        if window is None:
            continue
        det = detections[window] == det_id
        covered = (tracked[window] != 0) & det
        if covered.sum() > max_covered * det.sum():
            continue
        free = np.zeros(detections.shape, bool)
        free[window] = det & ~covered
        if free.sum() >= min_area:
            new.append(free)
    return sorted(new, key=lambda m: -int(m.sum()))


def areas_of(labels: np.ndarray, ids: Iterable[int]) -> dict[int, int]:
    """Pixels each of ids has in an (H, W) label image (0 for those absent)."""
    present, counts = np.unique(labels, return_counts=True)
    area = dict(zip(present.tolist(), counts.tolist()))
    return {i: int(area.get(i, 0)) for i in ids}
