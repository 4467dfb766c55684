"""Touching tracked objects given back their own cells (`MaskCleanup.split_touching`).

A tracked mask creeps over a touching neighbour's cell along their border, frame after frame,
and the neighbour's memory then concedes those pixels (`benchmarks/README.md`, "Masks spilling
over touching neighbours"). Where tracked masks touch, their union is split into cells as a
classical segmentation splits touching nuclei (a watershed of the distance to the union's edge,
from the distance's peaks), and each such segment goes wholly to the object holding most of it:
the band spilled over a neighbour returns to the cell it lies on, while an object's own two lobes
(a dividing cell) stay its own. Only pixels held by touching tracked objects change hands: no
mask grows onto the background, and masks that touch nothing are left as the model gave them. An
object that holds most of no segment keeps its mask: a small nucleus beside a large one makes no
neck in their union (no distance peak of its own), and would otherwise vanish into its neighbour.

Written here rather than taken from a segmentation package: the watershed and peaks are
scikit-image's; what is ours is only the rule of who gets each segment.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from scipy.sparse.csgraph import connected_components
from skimage.feature import peak_local_max

from .cell_candidates import watershed_from_peaks

GIVEN_LOGIT = 8.0  # the logit of a pixel given to an object: a clear yes, as the model's own masks say
TAKEN_LOGIT = -8.0  # and of a pixel taken from it: a clear no, in its output and its memory


def split_touching(low_res_logits: torch.Tensor) -> torch.Tensor:
    """low_res_logits (B, 1, h, w) of one frame's objects, with each cell of the union of touching
    masks given wholly to the object holding most of it (module docstring); the same tensor when no
    two masks touch. An object that holds most of no segment (too small for a neck to set it
    apart, or a second object on a cell) is left as it is, and so are its pixels."""
    masks = low_res_logits[:, 0].detach().cpu() > 0  # (B, h, w)
    groups = touching_groups(masks)
    if not groups:
        return low_res_logits
    masks = masks.numpy()
    out = low_res_logits.clone()
    for members in groups:
        rows, cols, held, owner = segment_owners(masks, members)
        owning = [m for m in range(len(members)) if (owner == m).any()]
        movable = held[owning].any(0)  # held by an object that keeps a cell of its own
        for m in owning:
            given = (owner == m) & ~held[m] & movable  # (hc, wc) each
            taken = (owner != m) & (owner >= 0) & held[m]
            window = out[members[m], 0, rows, cols]  # a view: writes go to `out`
            _clamp_where(window, given, low=GIVEN_LOGIT)
            _clamp_where(window, taken, high=TAKEN_LOGIT)
    return out


def _clamp_where(logits: torch.Tensor, where: np.ndarray, low: float | None = None, high: float | None = None) -> None:
    """logits (hc, wc), in place: at least `low` or at most `high` where `where` (hc, wc) bool."""
    if where.any():
        at = torch.from_numpy(where).to(logits.device)
        logits[at] = logits[at].clamp(min=low, max=high)


def touching_groups(masks: torch.Tensor) -> list[list[int]]:
    """The sets of two or more objects whose masks (B, h, w) bool touch or overlap (8-connected),
    directly or through others."""
    present = masks.flatten(1).any(1).nonzero()[:, 0]
    if len(present) < 2:
        return []
    kept = masks[present].float()  # (P, h, w)
    grown = F.max_pool2d(kept[:, None], 3, stride=1, padding=1)[:, 0]  # each mask grown by one pixel
    contact = (grown.flatten(1) @ kept.flatten(1).T) > 0  # (P, P) pixels of b within a pixel of a
    count, component = connected_components((contact | contact.T).numpy(), directed=False)  # (P,) group of each
    groups = [present[torch.from_numpy(component == c)].tolist() for c in range(count)]
    return [g for g in groups if len(g) > 1]


def segment_owners(masks: np.ndarray, members: list[int]) -> tuple[slice, slice, np.ndarray, np.ndarray]:
    """The window (rows, cols) around one touching group of the masks (B, h, w) bool, and in it the
    members' masks (M, hc, wc) and the index into `members` of the owner of each pixel of their union
    (hc, wc; -1 elsewhere)."""
    rows, cols = _bounds(np.any(masks[members], axis=0))
    held = masks[members][:, rows, cols]  # (M, hc, wc)
    union = held.any(0)
    segments = cell_segments(union, int(held.sum((1, 2)).min()))
    owner = np.full(union.shape, -1, np.int64)
    for s in range(1, int(segments.max()) + 1):
        segment = segments == s
        owner[segment] = int(np.argmax(held[:, segment].sum(1)))
    return rows, cols, held, owner


def _bounds(mask: np.ndarray) -> tuple[slice, slice]:
    """The mask's bounding box grown by a pixel of background, within the frame (where the frame
    cuts a cell, its edge is not the cell's)."""
    rows, cols = np.nonzero(mask)
    (h, w) = mask.shape
    return slice(max(rows.min() - 1, 0), min(rows.max() + 2, h)), slice(max(cols.min() - 1, 0), min(cols.max() + 2, w))


def cell_segments(union: np.ndarray, smallest_area: int) -> np.ndarray:
    """Labels (h, w) of a union of touching masks split at its necks: a watershed of the distance
    to its edge from the distance's peaks, at least half the smallest object's radius apart."""
    distance = ndimage.distance_transform_edt(union)
    radius = max(1.0, float(np.sqrt(smallest_area / np.pi)))
    peaks = peak_local_max(distance, min_distance=max(1, int(radius / 2)), labels=union.astype(np.int32),
                           exclude_border=False)
    return watershed_from_peaks(distance, peaks, union)
