"""J&F as defined for DAVIS: J is the region IoU; F the boundary F-measure, boundaries matched
within a tolerance of 0.8% of the image diagonal (at least 1 pixel)."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: IoU of two (H, W) bool masks; 1.0 when both are empty."""
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def boundary(mask: np.ndarray) -> np.ndarray:
    """One-pixel boundary of a (H, W) bool mask: mask pixels with a 4-neighbour outside it."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)


def boundary_measure(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.008) -> float:
    """F: harmonic mean of boundary precision and recall; 1.0 when both masks are empty."""
    pred_b, gt_b = boundary(pred), boundary(gt)
    if not pred_b.any() and not gt_b.any():
        return 1.0
    if not pred_b.any() or not gt_b.any():
        return 0.0
    radius = max(1, math.ceil(tolerance * math.hypot(*pred.shape)))
    disk = _disk(radius)
    precision = (pred_b & ndimage.binary_dilation(gt_b, disk)).sum() / pred_b.sum()
    recall = (gt_b & ndimage.binary_dilation(pred_b, disk)).sum() / gt_b.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return xx**2 + yy**2 <= radius**2


def j_and_f(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """Mean J and mean F over the frames of one object: pred, gt (T, H, W) bool."""
    js = [region_similarity(p, g) for p, g in zip(pred, gt)]
    fs = [boundary_measure(p, g) for p, g in zip(pred, gt)]
    return float(np.mean(js)), float(np.mean(fs))
