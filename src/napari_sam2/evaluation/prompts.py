"""Prompts as a user would give them, simulated deterministically for evaluation: a click at the
centre of an object (the pixel farthest from its edge), corrective clicks at the centre of the
largest error, a tight box, or the mask itself. (Training draws its prompts at random:
``training.prompt_simulation``.)"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..engine import VideoTracker

PROMPT_KINDS = ("1 click", "3 clicks", "box", "mask")


def central_click(gt: np.ndarray, pred: np.ndarray | None = None) -> tuple[tuple[float, float], int] | None:
    """The evaluation click for one object: the pixel deepest inside the largest error region
    (inside the object for the first click), labelled 1 if missed and 0 if spurious. None when
    the prediction is already perfect."""
    pred = np.zeros_like(gt) if pred is None else pred
    missed = np.pad(gt & ~pred, 1)
    spurious = np.pad(pred & ~gt, 1)
    depth_missed = ndimage.distance_transform_edt(missed)[1:-1, 1:-1]
    depth_spurious = ndimage.distance_transform_edt(spurious)[1:-1, 1:-1]
    if max(depth_missed.max(), depth_spurious.max()) == 0:
        return None
    positive = depth_missed.max() >= depth_spurious.max()
    depth = depth_missed if positive else depth_spurious
    y, x = np.unravel_index(np.argmax(depth), depth.shape)
    return (float(x), float(y)), int(positive)


def prompt_first_frame(tracker: VideoTracker, kind: str, truths: dict[int, np.ndarray], frame: int = 0) -> None:
    """Prompts every object on `frame` (the first, by default) the way a user would (`kind`, one
    of PROMPT_KINDS): a click at the centre; then up to two corrective clicks at the centre of the
    largest error; a tight box; or the mask itself. truths: object id -> (T, H, W) bool."""
    for obj_id, truth in truths.items():
        first = truth[frame]
        if kind == "mask":
            tracker.add_mask(frame, obj_id, first)
        elif kind == "box":
            ys, xs = np.nonzero(first)
            tracker.add_box(frame, obj_id, [xs.min(), ys.min(), xs.max(), ys.max()])
        else:
            _add_clicks(tracker, obj_id, first, 1 if kind == "1 click" else 3, frame)


def _add_clicks(tracker: VideoTracker, obj_id: int, truth: np.ndarray, count: int, frame: int) -> None:
    points, labels = [], []
    pred = None
    for _ in range(count):
        click = central_click(truth, pred)
        if click is None:
            break
        points.append(click[0])
        labels.append(click[1])
        result = tracker.add_points(frame, obj_id, points, labels)
        pred = result.masks[obj_id]
