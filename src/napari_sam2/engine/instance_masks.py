"""From overlapping scored masks to one label image: mask-IoU suppression, then each pixel to the
best mask covering it, each cell one connected piece of a plausible size."""
from __future__ import annotations

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


def label_image(masks: np.ndarray, scores: np.ndarray, min_area: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) bool masks with (N,) scores -> ((H, W) int32 labels 1..K, (K,) scores of the labels).

    Where masks overlap the pixel goes to the higher score; what is left of a mask keeps only its
    largest connected piece (a cell is one piece) and is dropped below min_area pixels. Labels are
    numbered by decreasing score."""
    hw = masks.shape[1:]
    owner = np.full(hw, -1, np.int64)
    for index in np.argsort(scores, kind="stable"):  # best last: it wins the pixels it shares
        owner[masks[index]] = index
    labels = np.zeros(hw, np.int32)
    kept_scores = []
    for index in np.argsort(-scores, kind="stable"):
        piece = _largest_piece(owner == index)
        if piece.sum() >= min_area:
            kept_scores.append(scores[index])
            labels[piece] = len(kept_scores)
    return labels, np.asarray(kept_scores, np.float32)
