"""Clicked cells' labels grown to the cell's outline in the image as they are written (click mode:
the plugin's clicks and propagations, the command line's tracking with clicks).

The embedded model's mask for a click covers part of a real nucleus (texture, nucleoli, uneven
brightness), as automatic tracking's do (cell_outlines.py). A clicked cell's neighbours are often
not labelled, so growing into the foreground alone would spill into them. Here each written
object grows within OUTLINE_REACH_SHARE of its own diameter, and competing for the pixels with it are the
other labels and the image's classical cells (Otsu + distance watershed, cell_candidates.py) that
it does not hold (less than half of such a cell lies under its mask): it grows into the rest of its
own nucleus and stops where a neighbour begins, tracked or not. Only growth, and only onto pixels
of no label: every stored label keeps its pixels. Measured in README ("Mask clean-up") and
models/MODEL_CARD.md ("Clicked labels grown to the cell's outline").
"""
from __future__ import annotations

import math
from collections.abc import Collection, Iterable

import numpy as np
from scipy import ndimage

from .cell_candidates import otsu_watershed
from .cell_outlines import grown_to_outlines
from .cell_tracking_params import OUTLINE_REACH_SHARE
from .track_events import grown

HELD = 0.5  # a classical cell with at least this share of it under the mask is the clicked cell's own


def grown_into_cells(labels: np.ndarray, ids: Collection[int], image: np.ndarray) -> np.ndarray:
    """(H, W) labels with the objects `ids` grown to their cells' outlines in the (H, W) image (module
    docstring); a new array. Each object is handled in a window around it: the cost follows the
    objects written, not the frame's size."""
    out = labels.copy()
    wanted = sorted(int(i) for i in ids)
    boxes = ndimage.find_objects(np.where(np.isin(labels, wanted), labels, 0).astype(np.int64))  # one pass over the frame
    for obj_id in wanted:
        if obj_id > len(boxes) or boxes[obj_id - 1] is None:
            continue  # no pixels here
        area = int((labels[boxes[obj_id - 1]] == obj_id).sum())
        diameter = 2 * math.sqrt(area / math.pi)  # of the disc of its area
        reach, window = max(1, round(OUTLINE_REACH_SHARE * diameter)), math.ceil(diameter)
        box = grown(boxes[obj_id - 1], reach + window)  # growth stays within reach of the box
        local = out[box]
        new = _grown_in_window(local, obj_id, image[box], reach, window, diameter)
        local[new] = obj_id
    return out


def _grown_in_window(labels: np.ndarray, obj_id: int, image: np.ndarray, reach: int, window: int,
                     diameter: float) -> np.ndarray:
    """(h, w) bool: the unlabelled pixels of the window that obj_id grows onto."""
    own = labels == obj_id
    cells = otsu_watershed(image, min_distance=max(2, round(diameter / 4)), min_area=max(4, round(0.1 * own.sum())))
    sizes = np.bincount(cells.ravel())
    under = np.bincount(cells[own], minlength=len(sizes))
    neighbours = (cells != 0) & (under[cells] < HELD * sizes[cells]) & (labels == 0)
    markers = labels.astype(np.int64)
    first = int(markers.max()) + 1  # the neighbours' ids: above every label's
    markers[neighbours] = first + cells[neighbours]
    others = [int(i) for i in np.unique(markers) if i not in (0, obj_id)]
    grown_labels = grown_to_outlines(image, markers, reach, window, as_given=others)
    return (labels == 0) & (grown_labels == obj_id)


def outline_image(tracker, frame: int) -> np.ndarray | None:
    """(H, W) the frame as a tracker's model reads it (its channels' maximum, in [0, 1]), to grow the
    labels written for it (LabelledFrame.paint_onto); None where they are written as the model's
    masks: the tracker's clean-up is off (MaskCleanup.grow_to_outline), it was given model inputs
    rather than frames, or the frame is blank (no object on it)."""
    inputs = tracker.inputs
    if not tracker.cleanup.grow_to_outline or not hasattr(inputs, "unit_rgb") or inputs.blank(frame):
        return None
    return inputs.unit_rgb(frame).max(-1)


def written_as_given(clicks: Iterable[tuple[int, bool]], drawn: Iterable[int] = ()) -> set[int]:
    """The objects whose labels on a frame are written as the model gives them, not grown: those with
    a negative click there (the user says where the cell is not) or a mask drawn there (the user's
    own outline). clicks: (object id, positive) of the frame's clicks; drawn: the objects with a mask."""
    return {obj_id for obj_id, positive in clicks if not positive} | set(drawn)
