"""Where the tracked masks of touching cells go wrong, pixel by pixel: each object's wrong pixels
(predicted, not its cell) and missed pixels (its cell, not predicted), classed by what lies there.
J&F says how much is wrong; this says whether a mask spilled over a touching neighbour (took its
territory), bled into the background at its edge, or lost its cell to a neighbour.

Wrong pixels: "on a neighbour" (another tracked object's cell), "on an untracked cell" (a cell of
the frame that is no object), "background near" (within `near` px of the object's cell), "background
far". Missed pixels: "missed, a neighbour holds it" (another object's mask is there), "missed, free"."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

WRONG_KINDS = ("on a neighbour", "on an untracked cell", "background near", "background far")
MISSED_KINDS = ("missed, a neighbour holds it", "missed, free")
SPILL_KINDS = WRONG_KINDS + MISSED_KINDS


def spill_pixels(predicted: dict[int, np.ndarray], truths: dict[int, np.ndarray], cells: np.ndarray,
                 near: int = 2) -> dict[str, np.ndarray]:
    """Per frame, the pixels of every kind (SPILL_KINDS) summed over the objects, and "cell area"
    (the objects' true pixels). predicted, truths: object id -> (T, H, W) bool (the same ids);
    cells: (T, H, W) bool, every cell of the frames, tracked or not. Returns kind -> (T,) int."""
    ids = list(truths)
    if set(predicted) != set(ids):
        raise ValueError(f"predicted objects {sorted(predicted)} are not the true objects {sorted(ids)}")
    sum_frames = lambda mask: mask.sum(axis=(1, 2)).astype(np.int64)  # noqa: E731  (T, H, W) -> (T,)
    any_truth = np.any([truths[i] for i in ids], axis=0)
    counts = {kind: np.zeros(len(cells), np.int64) for kind in (*SPILL_KINDS, "cell area")}
    for obj_id in ids:
        truth, pred = truths[obj_id], predicted[obj_id]
        wrong, missed = pred & ~truth, truth & ~pred
        ring = np.stack([ndimage.binary_dilation(frame, iterations=near) for frame in truth]) if near else truth
        background = wrong & ~cells
        counts["on a neighbour"] += sum_frames(wrong & any_truth)
        counts["on an untracked cell"] += sum_frames(wrong & cells & ~any_truth)
        counts["background near"] += sum_frames(background & ring)
        counts["background far"] += sum_frames(background & ~ring)
        held = np.any([predicted[j] for j in ids if j != obj_id], axis=0) if len(ids) > 1 else np.zeros_like(truth)
        counts["missed, a neighbour holds it"] += sum_frames(missed & held)
        counts["missed, free"] += sum_frames(missed & ~held)
        counts["cell area"] += sum_frames(truth)
    return counts
