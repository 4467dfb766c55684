"""The events of automatic cell tracking, decided on one frame from label images alone (numpy and
scipy, no model): which tracked cell divided and into which two pieces, which detections are cells
no track covers yet (new cells), and which tracks are absent.

The rules, with their thresholds in CellTrackingParams (cell_tracker.py):

- Two cells in one mask: a tracked mask holds two cells when it is not convex (it fills at most
  max_solidity of its convex hull: pinched in the middle, or already in two pieces; a round, textured
  cell that detection cut in two parts fills its hull) and the two are found as (a) two separate
  connected pieces of the mask, or else (b) two detections of the frame lying mostly inside it
  (min_inside of each detection's area), or else (c) the mask's own two lobes: a watershed of its
  distance transform from its two highest peaks, joined by a neck at most max_neck times the
  narrower lobe's width (daughters still touching at birth, before any detection sees them apart,
  so the division is dated to the frame the mask first pinches; simulated daughters at birth have
  necks of 0 to 0.7 of their width, the wrongly split partial masks of one cell 0.6 to 1). The
  narrow neck is itself the pinch, so lobes need the mask to fill only at most max_lobes_solidity
  of its hull (simulated daughters at birth fill 0.75 to 0.89; of 1852 simulated single nuclei, 2
  have such lobes at 0.86 or less, 4 at 0.9 or less). Two detections inside a mask that grew past
  max_division_growth times the track's area (as below: no daughters) are two cells, pinched or not:
  a mask that crept over a touching neighbour pressed against its cell fills its hull as one cell
  does (a merged pair held for 10 frames, then read as a false division when the two came apart).
  Each of the two has at least min_area pixels and min_daughter_fraction of the pair's area (a
  chipped edge is no cell). More than two pieces: the two largest.
- Division: two cells in one mask that together are no more than max_division_growth times the
  track's area on the frame before, and its median area over its last area_history frames where
  that is smaller (a mask that crept over a touching cell a little each frame held both cells on the
  frame before, but grew from one cell's size: TrackBook.growth_reference), are its daughters, if
  the track was seen on min_division_age frames or more before, and the dimmer of the two is at
  least min_sister_brightness as bright as the other on the frame as the model sees it (sister
  nuclei hold the same DNA; a piece far dimmer is the glow around a nucleus or its cytoplasm, no
  daughter: no division and no two cells; a mask grown over a dim neighbour is still separated, as
  below), and two detections as daughters meet at a neck, as lobes do (at most max_neck times the
  narrower one's width, or not at all: narrow_neck), not along a whole cell's width (a large cell
  that detection cut across, in a mask pinched by slivers of its neighbours: no division and no two
  cells, the lobes are looked at instead). Less than min_division_share of that
  area, they are pieces of a mask that lost most of its cell (a textured real nucleus whose mask
  broke up): no division, no two cells (the next kind of evidence, detections or lobes, is looked
  at instead). More than that, the mask
  grew over another cell (touching cells); and a track seen on fewer frames began as a detection
  or seed over two touching cells (it held both from its first frame: no history of one cell that
  divided). Then the track keeps the piece it
  overlapped most on the frame before and the other piece starts a track of its own (always so
  with divisions=False). A mask also grew over another cell when it holds two detections
  (min_inside of each), the larger at least min_own_share of the track's area on the frame before
  (the cell itself, not a part of it) and the other of min_area pixels or more, pinched or not (a
  large cell that swallowed a small neighbour).
- New cell: a detection of which at most max_covered of the pixels are already some track's; what
  is not covered of it (at least min_area pixels) starts a track.
- A new cell born of a division: the tracked mask followed one daughter and the other shows up as
  a new cell. A new cell is the sister of a track's mask when it lies within touch_distance px of
  that mask, the track kept at most max_area_kept of its area on the frame before (it lost half of
  itself: the other daughter), each of the two has min_area pixels (a sliver on the frame's edge is
  no daughter) and min_daughter_fraction of the pair's area, and
  the pair is at least min_division_share and at most max_division_growth times the track's area
  before (and its median area, as for a division above), alike in brightness as above, and the track
  was seen on min_division_age frames or more before (a younger one lost half of the two cells it held
  from its start). The track divided: it ends, and its mask and the new cell are its daughters.
  A cell entering next to a track that keeps its size, or a track shrinking with no new cell
  beside it, is no division.
- Absent: a track with fewer than min_area pixels on a frame (min_area_at_edge for a mask on the
  frame's edge: a cell entering or leaving shows a sliver) (the object score said "no object",
  the mask was no brighter than around it (MaskCleanup.drop_dim), the cell left the field, or other
  cells took its pixels) is absent there; its pixels are not written. A track absent on end_after
  frames in a row ends.
- Rest of a tracked cell: a new cell whose mask, with the tracked mask it touches most (within
  touch_distance), fills more than max_lobes_solidity of their convex hull (one cell's outline, not
  two touching nuclei: of 158 touching pairs of held-out simulated nuclei, 1 does) and is no larger
  than that mask, of a track seen on min_division_age frames or more before, is the rest of that
  track's cell, which the tracked mask covered only part of (an elongated cell about to divide,
  the mask on one of its lobes): the track is prompted again with both, and divides when the cell
  does (rather than a new track starting on the lobe, with no parent, frames before the division).
  Not a cell of a seeds stack: the user's cells stand as given.
- Found again: a new cell whose centre lies within found_again_distance px of the centre a track
  absent on this frame had on the frame before (the nearest such track) is that track's cell, which
  the model lost while detection still sees it (a nucleus the model's object score or the mask
  clean-up called absent, a fast cell the mask lagged behind): the track is prompted again with
  the new cell's mask and goes on under its id, rather than a second track starting on its cell
  and the track coming back after a gap under another id or ending.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.morphology import convex_hull_image

from .cell_candidates import watershed_from_peaks
from .cell_tracking_params import CellTrackingParams
from .frame_edge import edge_ids


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


def lobes_of(mask: np.ndarray, max_neck: float) -> list[np.ndarray]:
    """The two lobes of an (H, W) bool mask, larger first: a watershed of its distance transform
    from its two highest peaks (at least 2 px apart), when the neck between them (the length of
    the cut) is at most max_neck times the narrower lobe's width (its inscribed diameter); [] for a
    mask with a single peak or a wide neck (one cell of uneven outline)."""
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=2, num_peaks=2, labels=mask.astype(np.int32),
                           exclude_border=False)
    if len(peaks) < 2:
        return []
    basins = watershed_from_peaks(distance, peaks, mask)  # peaks come highest first: lobe 1 has the higher
    if neck_of(basins == 1, basins == 2) > max_neck * 2 * distance[tuple(peaks.T)].min():
        return []
    return sorted((basins == 1, basins == 2), key=lambda lobe: -int(lobe.sum()))


def neck_of(first: np.ndarray, second: np.ndarray) -> int:
    """The length of the cut between two (H, W) bool pieces: first's pixels next to second (0 apart)."""
    return int((ndimage.binary_dilation(second) & first).sum())


def narrow_neck(first: np.ndarray, second: np.ndarray, mask: np.ndarray, max_neck: float) -> bool:
    """Whether two pieces of an (H, W) bool mask are apart or joined by a neck at most max_neck times
    the narrower one's width (its inscribed diameter in the mask), as daughters at birth are (lobes_of)."""
    neck = neck_of(first, second)
    if neck == 0:
        return True
    distance = ndimage.distance_transform_edt(mask)
    return neck <= max_neck * 2 * min(distance[first & mask].max(initial=0), distance[second & mask].max(initial=0))


class Split(NamedTuple):
    """A tracked mask that holds two cells."""

    first: np.ndarray  # (H, W) bool: the larger piece
    second: np.ndarray  # (H, W) bool: the other, not overlapping first
    division: bool  # True: two daughters of the tracked cell; False: the mask grew over another cell


def split_of(mask: np.ndarray, detections: np.ndarray | None, previous_area: int, frames_before: int,
             params: CellTrackingParams, growth_reference: int | None = None,
             brightness: np.ndarray | Callable[[], np.ndarray | None] | None = None) -> Split | None:
    """How a tracked cell's mask on this frame holds two cells, or None when it holds one (the
    rule is in the module docstring; its thresholds are params' at the frames' cell size).
    frames_before: the frames the track was seen on before this one; growth_reference: the area two
    cells are compared with to tell daughters from a grown mask (TrackBook.growth_reference), None:
    previous_area; brightness: the frame (mask's shape) as the model sees it, in [0, 1], to compare
    daughters' brightness (None: not compared), or a function giving it (called only for would-be daughters)."""
    p = params
    inside = [] if detections is None else detections_inside(mask, detections, p.min_inside)
    pieces = pieces_of(mask)
    fill = solidity(mask)
    lobes = lobes_of(mask, p.max_neck) if fill <= p.max_lobes_solidity and len(pieces) < 2 else []
    reference = max(previous_area if growth_reference is None else growth_reference, 1)
    for candidates, most_fill in ((pieces, p.max_solidity), (inside, p.max_solidity), (lobes, p.max_lobes_solidity)):
        if len(candidates) < 2:
            continue
        first, second = candidates[0], candidates[1] & ~candidates[0]
        areas = np.array([first.sum(), second.sum()])
        grew = areas.sum() > p.max_division_growth * reference  # two cells, no daughters: pinched or not
        if fill > most_fill and not (grew and candidates is inside):
            continue
        if areas.min() >= p.min_area and areas.min() >= p.min_daughter_fraction * areas.sum():
            if not holds_its_cell(int(areas.sum()), previous_area, p):
                continue  # pieces of a mask that lost most of its cell (a textured nucleus): not two cells
            division = not grew and frames_before >= p.min_division_age
            if division and not alike(first, second, brightness() if callable(brightness) else brightness, p):
                continue  # a nucleus and its glow, held by its mask: not two cells
            if division and candidates is inside and not narrow_neck(first, second, mask, p.max_neck):
                continue  # a cell that detection cut across its width: not daughters
            return Split(first, second, division)
    if len(inside) >= 2 and inside[0].sum() >= p.min_own_share * previous_area and inside[1].sum() >= p.min_area:
        return Split(inside[0], inside[1] & ~inside[0], False)
    return None


def alike(first: np.ndarray, second: np.ndarray, brightness: np.ndarray | None, params: CellTrackingParams) -> bool:
    """Whether two (H, W) bool masks are alike in brightness as daughters are: the dimmer one's mean
    on the (H, W) `brightness` (the frame as the model sees it, in [0, 1]) at least
    min_sister_brightness of the other's; True where brightness is None (not compared)."""
    if brightness is None:
        return True
    means = sorted((float(brightness[first].mean()), float(brightness[second].mean())))
    return means[0] >= params.min_sister_brightness * means[1]


def holds_its_cell(pair_area: int, previous_area: int, params: CellTrackingParams) -> bool:
    """Whether two daughters of `pair_area` px together hold at least min_division_share of their
    mother's area on the frame before (a division keeps the cell's matter; smaller pieces are a mask
    breaking up)."""
    return pair_area >= params.min_division_share * previous_area


def uncovered_cells(detections: np.ndarray, tracked: np.ndarray, max_covered: float, min_area: int,
                    min_area_at_edge: int | None = None) -> Iterator[np.ndarray]:
    """Detections (an (H, W) label image) that no track covers (at most max_covered of their pixels
    under a label of `tracked`; min_area pixels of their own, min_area_at_edge on the frame's edge if
    given): each one's uncovered pixels as an (H, W) bool mask, largest first (made one at a time:
    hundreds of frame-sized masks of a large frame would not fit in memory)."""
    new = sorted(_uncovered(detections, tracked, max_covered, min_area, min_area_at_edge),
                 key=lambda found: -int(found[2].sum()))
    for _, window, free in new:
        whole = np.zeros(detections.shape, bool)
        whole[window] = free
        yield whole


def uncovered_labels(detections: np.ndarray, tracked: np.ndarray, max_covered: float, min_area: int,
                     min_area_at_edge: int | None = None) -> np.ndarray:
    """(H, W) labels: the uncovered pixels of the detections no track covers (uncovered_cells' rule;
    min_area_at_edge pixels suffice for a detection on the frame's edge, if given), each under its
    detection's id; 0 elsewhere."""
    labels = np.zeros_like(detections)
    for det_id, window, free in _uncovered(detections, tracked, max_covered, min_area, min_area_at_edge):
        labels[window][free] = det_id
    return labels


def _uncovered(detections: np.ndarray, tracked: np.ndarray, max_covered: float, min_area: int,
               min_area_at_edge: int | None = None) -> list[tuple[int, tuple[slice, slice], np.ndarray]]:
    """(id, box, its uncovered pixels in the box) of each detection no track covers (uncovered_cells)."""
    at_edge = edge_ids(detections) if min_area_at_edge is not None else set()
    new = []
    for det_id, window in enumerate(ndimage.find_objects(detections), start=1):
        if window is None:
            continue
        det = detections[window] == det_id
        covered = (tracked[window] != 0) & det
        free = det & ~covered
        if covered.sum() <= max_covered * det.sum() and enough_pixels(free.sum(), det_id in at_edge, min_area,
                                                                      min_area_at_edge):
            new.append((det_id, window, free))
    return new


def mother_of(new: np.ndarray, objects: np.ndarray, areas_before: dict[int, int], frames_before: dict[int, int],
              params: CellTrackingParams, growth_references: dict[int, int] | None = None,
              brightness: np.ndarray | None = None) -> int | None:
    """The tracked object (of the (H, W) label image `objects`) that a new cell's (H, W) bool mask is
    the sister daughter of, or None (the rule is in the module docstring; its thresholds are
    params'). areas_before: each object's pixels on the frame before; frames_before: the frames
    each object's track was seen on before this one; growth_references: each object's area the pair
    is compared with to tell daughters from a grown mask (TrackBook.growth_reference), None: areas_before;
    brightness: the frame as the model sees it, in [0, 1], to compare the two (None: not compared)."""
    p = params
    ids, touching = touching_labels(new, objects, p.touch_distance)
    new_area = int(new.sum())
    for obj_id in ids[np.argsort(-touching)].tolist():
        before = areas_before.get(obj_id, 0)
        reference = before if growth_references is None else growth_references.get(obj_id, before)
        own = objects == obj_id
        kept = int(own.sum())
        pair = kept + new_area
        if (obj_id and before and kept <= p.max_area_kept * before
                and holds_its_cell(pair, before, p) and pair <= p.max_division_growth * reference
                and min(kept, new_area) >= max(p.min_daughter_fraction * pair, p.min_area)
                and frames_before.get(obj_id, 0) >= p.min_division_age
                and alike(own, new, brightness, p)):
            return obj_id
    return None


def rest_of_cell_of(new: np.ndarray, objects: np.ndarray, frames_before: dict[int, int],
                    params: CellTrackingParams) -> int | None:
    """The tracked object (of the (H, W) label image `objects`) whose cell a new cell's (H, W) bool
    mask is the rest of, or None (the rule is in the module docstring). frames_before: the frames
    each object's track was seen on before this one."""
    ids, touching = touching_labels(new, objects, params.touch_distance)
    touching[ids == 0] = -1  # background is no track
    if not len(ids) or touching.max() < 0:
        return None
    obj_id = int(ids[np.argmax(touching)])
    tracked = objects == obj_id
    if frames_before.get(obj_id, 0) < params.min_division_age or new.sum() > tracked.sum():
        return None
    both = tracked | new
    return obj_id if solidity(both[box_around(both, 1)]) > params.max_lobes_solidity else None


def touching_labels(new: np.ndarray, objects: np.ndarray, distance: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, pixels) of the labels of `objects` (0 included) in the ring `distance` px wide around an
    (H, W) bool mask."""
    window = box_around(new, distance + 1)  # the ring's cost: the mask's box, not the frame
    near = ndimage.binary_dilation(new[window], iterations=distance) & ~new[window]  # ring around it
    return np.unique(objects[window][near], return_counts=True)


def lost_centres(previous: np.ndarray, present_now: dict[int, bool]) -> dict[int, np.ndarray]:
    """The objects not present on this frame (present_now: each live object -> present) that have
    pixels in `previous` (the (H, W) ids of the frame before) -> the (row, col) centre of their mask there."""
    before = set(np.unique(previous).tolist())
    lost = [i for i, seen in present_now.items() if not seen and i in before]
    centres = ndimage.center_of_mass(previous > 0, previous, lost) if lost else []
    return dict(zip(lost, np.array(centres, float).reshape(-1, 2)))


def lost_track_of(new: np.ndarray, centres_before: dict[int, np.ndarray], max_distance: float) -> int | None:
    """The track whose cell a new cell's (H, W) bool mask is, found again, or None (the rule is in
    the module docstring). centres_before: each track absent on this frame -> the (row, col) centre
    of its mask on the frame before."""
    if not centres_before:
        return None
    window = box_around(new, 0)  # the centre from the new cell's box: not the whole frame's cost
    rows, cols = np.nonzero(new[window])
    centre = np.array([rows.mean() + window[0].start, cols.mean() + window[1].start])
    distance = {obj_id: float(np.hypot(*(centre - before))) for obj_id, before in centres_before.items()}
    nearest = min(distance, key=distance.get)
    return nearest if distance[nearest] <= max_distance else None


def box_around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The (rows, cols) slices of an (H, W) bool mask's bounding box grown by margin px (within
    the frame); the whole frame for an empty mask."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not len(rows):
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])
    return grown((slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)), margin)


def grown(box: tuple[slice, slice], margin: int) -> tuple[slice, slice]:
    """(rows, cols) slices grown by margin px on every side (numpy clips them at the far edges)."""
    return tuple(slice(max(0, axis.start - margin), axis.stop + margin) for axis in box)


def in_frame(piece: np.ndarray, window: tuple[slice, slice], hw: tuple[int, int]) -> np.ndarray:
    """A bool mask of the window -> the (H, W) mask of the frame."""
    whole = np.zeros(hw, bool)
    whole[window] = piece
    return whole


def areas_of(labels: np.ndarray, ids: Iterable[int]) -> dict[int, int]:
    """Pixels each of ids has in an (H, W) label image (0 for those absent)."""
    present, counts = np.unique(labels, return_counts=True)
    area = dict(zip(present.tolist(), counts.tolist()))
    return {i: int(area.get(i, 0)) for i in ids}


def enough_pixels(count: int, on_edge: bool, min_area: int, min_area_at_edge: int | None) -> bool:
    """Whether `count` pixels make a cell: min_area, or min_area_at_edge (where given) for a mask on
    the frame's edge (a cell entering or leaving shows a sliver)."""
    return count >= (min_area_at_edge if on_edge and min_area_at_edge is not None else min_area)


def present(areas: dict[int, int], at_edge: set[int], params: CellTrackingParams) -> dict[int, bool]:
    """Each object of `areas` (its pixels on a frame) -> present there (enough_pixels)."""
    return {i: enough_pixels(area, i in at_edge, params.min_area, params.min_area_at_edge) for i, area in areas.items()}
