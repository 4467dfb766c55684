"""From overlapping scored masks to one label image: mask-IoU suppression, then each pixel to the
best mask covering it, each cell one connected piece of a plausible size."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage


def mask_overlap_matrices(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) bool -> ((N, N) IoU, (N, N) intersection over the smaller mask) of every pair."""
    flat = torch.from_numpy(masks.reshape(len(masks), masks[0].size if len(masks) else 0)).float()  # (N, H*W)
    inter = flat @ flat.T  # (N, N) pixels in both
    area = flat.sum(1)
    union = area[:, None] + area[None, :] - inter
    smaller = torch.minimum(area[:, None], area[None, :])
    return (inter / union.clamp(min=1)).numpy(), (inter / smaller.clamp(min=1)).numpy()


def suppress_overlaps(overlapping: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept masks, best score first. A mask goes
    when it overlaps (the (N, N) bool matrix `overlapping`) a kept, better mask."""
    kept: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        if not kept or not overlapping[index, kept].any():
            kept.append(int(index))
    return np.asarray(kept, np.int64)


def _largest_piece(mask: np.ndarray) -> np.ndarray:
    pieces, count = ndimage.label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(pieces.ravel())[1:]
    return pieces == 1 + int(sizes.argmax())


class CellMask(NamedTuple):
    """A scored mask cropped to its box."""

    top: int
    left: int
    mask: np.ndarray  # (h, w) bool: the mask's pixels from (top, left)
    score: float


def cropped(mask: np.ndarray, score: float) -> CellMask:
    """An (H, W) bool mask as a CellMask over its bounding box (an empty one keeps a 0 x 0 crop)."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return CellMask(0, 0, np.zeros((0, 0), bool), float(score))
    return CellMask(int(rows.min()), int(cols.min()), mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1],
                    float(score))


def paint_cells(hw: tuple[int, int], cells: list[CellMask], min_area: int,
                max_taken: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scored masks -> ((H, W) int32 labels 1..K, (K,) scores of the labels), best first: each mask
    gets the pixels no better mask took and keeps their largest connected piece (a cell is one
    piece), dropped below min_area pixels, or when better masks took more than max_taken of it (a
    copy of one of them: the same cell found from two tiles). Labels are numbered by decreasing score."""
    labels = np.zeros(hw, np.int32)
    kept_scores = []
    for index in np.argsort([-cell.score for cell in cells], kind="stable"):
        cell = cells[index]
        window = labels[cell.top:cell.top + cell.mask.shape[0], cell.left:cell.left + cell.mask.shape[1]]
        free = cell.mask & (window == 0)
        area = int(cell.mask.sum())
        if area == 0 or area - int(free.sum()) > max_taken * area:
            continue
        piece = _largest_piece(free)
        if piece.sum() >= min_area:
            kept_scores.append(cell.score)
            window[piece] = len(kept_scores)
    return labels, np.asarray(kept_scores, np.float32)


def label_image(masks: np.ndarray, scores: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) bool masks with (N,) scores -> ((H, W) int32 labels 1..K, (K,) scores of the labels):
    paint_cells' rule (where masks overlap the pixel goes to the higher score, a cell is one piece
    of at least min_area pixels)."""
    return paint_cells(masks.shape[1:], [cropped(mask, score) for mask, score in zip(masks, scores)], min_area)
