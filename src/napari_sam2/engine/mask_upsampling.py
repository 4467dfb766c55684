"""Mask logits brought to the frame's resolution only where the mask can be.

A frame of 200 cells at 400 x 400 pixels holds 200 full-size logit maps (128 MB) if every object's
low-resolution logits are upsampled whole, and the label image then passes over all of them
(0.27 s a frame, measured in issue 23), though each cell covers a few hundred pixels. Bilinear
upsampling is a convex combination of four low-resolution values, so a frame pixel can be
positive only where one of its four sources is: each object is upsampled over that box alone.
The values are F.interpolate's (mode="bilinear", align_corners=False): the same sources and
weights, the sum computed in float64 and rounded once (within a float32 rounding of it).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .tiling import LocalLogits


class BilinearAxis(NamedTuple):
    """For each output position along one axis: its two source positions and their weights."""

    low: torch.Tensor  # (n_out,) int64
    high: torch.Tensor  # (n_out,) int64, low + 1 except at the last source
    low_weight: torch.Tensor  # (n_out,) float64
    high_weight: torch.Tensor  # (n_out,) float64


def bilinear_axis(n_in: int, n_out: int) -> BilinearAxis:
    """Sources and weights as PyTorch's bilinear kernel computes them: scale in/out in float32,
    source = scale * (i + 0.5) - 0.5 (one rounding), clamped at 0."""
    scale = torch.tensor(n_in, dtype=torch.float32) / torch.tensor(n_out, dtype=torch.float32)
    centres = torch.arange(n_out, dtype=torch.float32) + 0.5
    source = (scale.double() * centres.double() - 0.5).float().clamp(min=0)
    low = source.floor().long().clamp(max=n_in - 1)
    high_weight = (source - low).clamp(0, 1)
    high = torch.where(low < n_in - 1, low + 1, low)
    return BilinearAxis(low, high, (1 - high_weight).double(), high_weight.double())


def positive_boxes(logits: torch.Tensor, rows: BilinearAxis, cols: BilinearAxis) -> list[tuple[int, int, int, int] | None]:
    """logits (K, h, w) -> per object the box (y0, y1, x0, x1) of output pixels (end exclusive)
    whose four sources include a positive logit, None for an object without any."""
    positive = logits > 0
    boxes = []
    for rows_hit, cols_hit in zip(positive.any(dim=2), positive.any(dim=1)):  # (h,), (w,)
        if not rows_hit.any():
            boxes.append(None)
            continue
        boxes.append((*_covered(rows_hit, rows), *_covered(cols_hit, cols)))
    return boxes


def _covered(hit: torch.Tensor, axis: BilinearAxis) -> tuple[int, int]:
    """The output positions [first, end) with a source among the `hit` inputs (contiguous, as
    sources grow with the output position)."""
    uses = hit[axis.low] | hit[axis.high]
    where = uses.nonzero()[:, 0]
    return int(where[0]), int(where[-1]) + 1


def upsample_box(logits: torch.Tensor, box: tuple[int, int, int, int], rows: BilinearAxis,
                 cols: BilinearAxis) -> torch.Tensor:
    """One object's (h, w) logits upsampled over the output box (y0, y1, x0, x1) -> (y1 - y0, x1 - x0)."""
    y0, y1, x0, x1 = box
    values = logits.double()
    top, bottom = values[rows.low[y0:y1]], values[rows.high[y0:y1]]  # (n_y, w)
    left, right = cols.low[x0:x1], cols.high[x0:x1]
    wl, wr = cols.low_weight[x0:x1], cols.high_weight[x0:x1]
    upper = top[:, left] * wl + top[:, right] * wr
    lower = bottom[:, left] * wl + bottom[:, right] * wr
    return (upper * rows.low_weight[y0:y1, None] + lower * rows.high_weight[y0:y1, None]).float()


def local_positive_logits(low_res_logits: torch.Tensor, object_ids: tuple[int, ...],
                          frame_hw: tuple[int, int]) -> dict[int, LocalLogits]:
    """low_res_logits (K, 1, h, w) -> object id -> its logits at the frame's resolution over the
    box where they can be positive; objects positive nowhere are left out."""
    logits = low_res_logits[:, 0].float().cpu()
    rows, cols = bilinear_axis(logits.shape[1], frame_hw[0]), bilinear_axis(logits.shape[2], frame_hw[1])
    local = {}
    for obj_id, object_logits, box in zip(object_ids, logits, positive_boxes(logits, rows, cols)):
        if box is not None:
            local[obj_id] = LocalLogits(box, upsample_box(object_logits, box, rows, cols)[None])
    return local
