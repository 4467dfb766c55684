"""Instance detection scores of one label image against the ground truth: precision, recall and
F1 of cells matched at IoU >= 0.5, and the mean IoU of the matched pairs."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATCH_IOU = 0.5  # above 0.5 a cell can match at most one predicted cell, so matching is unambiguous


@dataclass(frozen=True)
class DetectionCounts:
    """Counts over one or many frames; add them up with `+`."""

    true_positives: int = 0
    predicted: int = 0
    truth: int = 0
    matched_iou_sum: float = 0.0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.true_positives + other.true_positives, self.predicted + other.predicted,
                               self.truth + other.truth, self.matched_iou_sum + other.matched_iou_sum)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        total = self.predicted + self.truth
        return 2 * self.true_positives / total if total else 1.0

    @property
    def mean_matched_iou(self) -> float:
        return self.matched_iou_sum / self.true_positives if self.true_positives else 0.0


def _dense(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels renumbered 0 (background), 1..K, and K + 1."""
    ids = np.union1d([0], labels)
    return np.searchsorted(ids, labels), len(ids)


def label_overlaps(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(P + 1, T + 1) pixel counts of every predicted cell (rows, background first, then increasing
    ids) in every true cell (columns, likewise): intersections, and areas in the background row/column
    sums."""
    pred, n_pred = _dense(predicted)
    true, n_true = _dense(truth)
    return np.bincount((pred * n_true + true).ravel(), minlength=n_pred * n_true).reshape(n_pred, n_true)


def label_ious(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(P, T) IoU of every predicted cell with every true cell (in increasing id order)."""
    inter = label_overlaps(predicted, truth)
    union = inter.sum(1, keepdims=True) + inter.sum(0, keepdims=True) - inter
    return (inter / np.maximum(union, 1))[1:, 1:]


def detection_counts(predicted: np.ndarray, truth: np.ndarray) -> DetectionCounts:
    """Match predicted to true cells of one frame at IoU >= MATCH_IOU (one-to-one above 0.5)."""
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted labels {predicted.shape} and ground truth {truth.shape} differ in shape")
    iou = label_ious(predicted, truth)
    matched = iou[iou >= MATCH_IOU]
    return DetectionCounts(len(matched), iou.shape[0], iou.shape[1], float(matched.sum()))
