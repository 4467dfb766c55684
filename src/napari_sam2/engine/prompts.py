"""Checking prompts in image coordinates and turning them into model-input tensors.

Engine conventions: points are (x, y) in pixels of the original image, boxes XYXY, labels
1 = positive, 0 = negative. A click anywhere on the displayed image counts as inside: napari
draws pixel i over [i - 0.5, i + 0.5], so x may range over [-0.5, width - 0.5].
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .indices import as_integer, frame_index

MASK_PROMPT_LOGIT = 10.0  # a binary mask prompt becomes logits of +-10 (sigmoid ~ 0 or 1)
BOX_EDGE_SLACK = 0.5  # px a box may reach past the image's pixel edges (then clipped): see check_box


@dataclass(frozen=True)
class Prompt:
    """Validated prompts for one object on one image, still in image pixels."""

    points: np.ndarray  # (N, 2) float32 (x, y), N may be 0
    labels: np.ndarray  # (N,) int32, 1 positive / 0 negative
    box: np.ndarray | None  # (4,) float32 XYXY
    mask: np.ndarray | None  # (H, W) bool

    @property
    def is_empty(self) -> bool:
        return len(self.points) == 0 and self.box is None and self.mask is None


def inside_image(x: float, y: float, hw: tuple[int, int]) -> bool:
    """Whether (x, y) falls on a pixel of the image (pixel edges at -0.5 and size - 0.5)."""
    return -0.5 <= x <= hw[1] - 0.5 and -0.5 <= y <= hw[0] - 0.5


def clip_box(box, hw: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """An XYXY box clipped to the image's pixel edges (boxes are often drawn past the border);
    None if nothing is left."""
    x0, y0, x1, y1 = box
    x0, x1 = max(x0, -0.5), min(x1, hw[1] - 0.5)
    y0, y1 = max(y0, -0.5), min(y1, hw[0] - 0.5)
    if x1 <= x0 or y1 <= y0:
        return None
    return float(x0), float(y0), float(x1), float(y1)


def check_frame_index(frame, num_frames: int) -> int:
    """The frame as an int (2.0 from napari is 2), or an error naming the frames (indices.py)."""
    return frame_index(frame, num_frames)


def check_obj_id(obj_id) -> int:
    """The object id as an int: a label value 1, 2, ... (whole-number floats accepted)."""
    try:
        number = as_integer(obj_id, "object id")
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ValueError(f"object ids are positive integers (label values; 0 is background), got {obj_id!r}")
    return number


def as_xy_points(points) -> np.ndarray:
    """One (x, y) point or a list of them -> (N, 2) float32; the shape is checked before any
    reshape, so [[20, 20, 1]] (a point with a third value) is named, not reshaped into garbage."""
    try:
        array = np.asarray(points, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"points must be (x, y) pairs of numbers, e.g. [[120, 80]], got {points!r}") from None
    if array.size == 0:
        return np.zeros((0, 2), np.float32)
    if array.ndim not in (1, 2) or array.shape[-1] != 2:
        raise ValueError(
            f"points must be (x, y) pixel pairs, one row per point, as an (N, 2) array, e.g. [[120, 80]]; "
            f"got shape {array.shape}"
        )
    return array.reshape(-1, 2)


def check_points(points, labels, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if points is None and labels is None:
        return np.zeros((0, 2), np.float32), np.zeros((0,), np.int32)
    if points is None or labels is None:
        raise ValueError("points and labels go together: give both (labels: 1 positive, 0 negative) or neither")
    pts = as_xy_points(points)
    labs = np.asarray(labels).reshape(-1)
    if len(labs) != len(pts):
        raise ValueError(f"{len(pts)} points but {len(labs)} labels; give one label (1 positive, 0 negative) per point")
    if not np.isin(labs, (0, 1)).all():
        raise ValueError(f"labels must be 1 (positive) or 0 (negative), got {sorted(set(labs.tolist()))}")
    for x, y in pts:
        if not (np.isfinite(x) and np.isfinite(y)) or not inside_image(x, y, hw):
            raise ValueError(
                f"point (x={x:g}, y={y:g}) is outside the image (width {hw[1]}, height {hw[0]}); "
                "points are (x, y) = (column, row) in pixels"
            )
    return pts, labs.astype(np.int32)


def check_box(box, hw: tuple[int, int]) -> np.ndarray | None:
    """The (4,) XYXY box, clipped to the image's pixel edges. A box may reach half a pixel past
    them (BOX_EDGE_SLACK): a box drawn to the frame's edges in numpy's convention, pixel j over
    [j, j + 1), ends at x = width, and is the whole frame; a box further out is a mistake
    (swapped or wrong-scale coordinates) and is refused."""
    if box is None:
        return None
    b = np.asarray(box, dtype=np.float32).reshape(-1)
    if b.shape != (4,) or not np.isfinite(b).all():
        raise ValueError(f"a box is 4 finite numbers (x0, y0, x1, y1), got {box!r}")
    x0, y0, x1, y1 = b.tolist()
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"box (x0={x0:g}, y0={y0:g}, x1={x1:g}, y1={y1:g}) has zero area or reversed corners; "
            "give the top-left corner first, then the bottom-right (x0 < x1, y0 < y1)"
        )
    low, high = -0.5 - BOX_EDGE_SLACK, np.array(hw[::-1]) - 0.5 + BOX_EDGE_SLACK  # reach: x, then y
    clipped = clip_box(b, hw)
    if clipped is None or min(x0, y0) < low or (np.array([x1, y1]) > high).any():
        raise ValueError(f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) reaches outside the image (width {hw[1]}, height {hw[0]}); "
                         f"give corners from ({low:g}, {low:g}) to at most ({high[0] + 0.5:g}, {high[1] + 0.5:g}) in pixels")
    return np.array(clipped, np.float32)


def check_mask(mask, hw: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != hw:
        raise ValueError(f"mask prompt of shape {m.shape} does not match the image's (height, width) {hw}")
    m = m.astype(bool)
    if not m.any():
        raise ValueError("the mask prompt is empty; draw at least one pixel of the object")
    return m


def check_prompt(hw: tuple[int, int], points=None, labels=None, box=None, mask=None) -> Prompt:
    pts, labs = check_points(points, labels, hw)
    prompt = Prompt(pts, labs, check_box(box, hw), check_mask(mask, hw))
    if prompt.is_empty:
        raise ValueError("no prompt given: pass points with labels, a box, or a mask")
    return prompt


def with_box_centre_click(prompt: Prompt) -> Prompt:
    """The prompt with a positive click at its box's centre when it has a box, no positive
    click and no negative click near that centre (issue 19): the embedded model, given a box
    alone, segments nucleus-like texture in and around it (held-out simulated frames: IoU 0.67
    against 0.83 for a click at the centre; real nuclei 0.22 against 0.69), and the centre of a box
    drawn around one nucleus lies on it. A box with a positive click is a prompt the model was
    trained on (a box, then corrective clicks). A negative click in the middle of the box
    (`near_box_centre`) says the object is not at its centre: a centre click would contradict
    it (and cancel it, leaving an empty mask), so the box and clicks go as given. Other prompts
    are returned as they are."""
    if prompt.box is None or (prompt.labels == 1).any() or near_box_centre(prompt.points[prompt.labels == 0], prompt.box).any():
        return prompt
    x0, y0, x1, y1 = prompt.box.tolist()
    centre = np.array([[(x0 + x1) / 2, (y0 + y1) / 2]], np.float32)
    return replace(prompt, points=np.concatenate([prompt.points, centre]),
                   labels=np.concatenate([prompt.labels, np.ones(1, np.int32)]))


def near_box_centre(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(N,) bool: which (N, 2) points lie in the middle of the XYXY box, the box of half its width
    and height around its centre (where a centre click would fall on the same object)."""
    x0, y0, x1, y1 = np.asarray(box, np.float64).reshape(4)
    centre, half = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), np.array([x1 - x0, y1 - y0]) / 4
    return (np.abs(np.asarray(points, np.float64).reshape(-1, 2) - centre) <= half).all(axis=1)


def model_points(prompt: Prompt, hw: tuple[int, int], size: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Box corners (labels 2, 3) then clicks, scaled to the model's square input:
    ((1, N, 2) float32, (1, N) int32), or None without points or box."""
    coords, labels = [], []
    if prompt.box is not None:
        coords.append(prompt.box.reshape(2, 2))
        labels.append(np.array([2, 3], np.int32))
    if len(prompt.points):
        coords.append(prompt.points)
        labels.append(prompt.labels)
    if not coords:
        return None
    xy = torch.from_numpy(np.concatenate(coords)) / torch.tensor([hw[1], hw[0]], dtype=torch.float32) * size
    xy = xy.unsqueeze(0)
    return xy, torch.from_numpy(np.concatenate(labels)).unsqueeze(0)


def mask_to_logits(mask: np.ndarray, size: int) -> torch.Tensor:
    """(H, W) bool -> (1, 1, size, size) logits of about +-MASK_PROMPT_LOGIT."""
    m = torch.from_numpy(mask.astype(np.float32))[None, None]
    m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return (2 * m - 1) * MASK_PROMPT_LOGIT
