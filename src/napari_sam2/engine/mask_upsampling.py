"""Mask logits brought to the frame's resolution only where a mask can be.

A frame of 200 cells at 400 x 400 pixels holds 200 full-size logit maps (128 MB) if every object's
low-resolution logits are upsampled whole, and the label image then passes over all of them,
though each cell covers a few hundred pixels. Bilinear upsampling is a convex combination of four
low-resolution values, so a frame pixel can be positive only where one of its four sources is:
each object is upsampled over the boxes of its connected positive pieces (its own cell, and any
other spot it is positive on) alone. The values are F.interpolate's (mode="bilinear",
align_corners=False): the same sources and weights, summed in the same order in float32 (within a
rounding of F.interpolate's own, which may fuse the products).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage

from .tiling import LocalLogits

# pieces connect within one object's map (8-connected), never across objects
_PIECES_WITHIN_OBJECTS = np.stack([np.zeros((3, 3), bool), np.ones((3, 3), bool), np.zeros((3, 3), bool)])


class BilinearAxis(NamedTuple):
    """For each output position along one axis: its two source positions and their weights."""

    low: np.ndarray  # (n_out,) int64, non-decreasing
    high: np.ndarray  # (n_out,) int64, low + 1 except at the last source
    low_weight: np.ndarray  # (n_out,) float32
    high_weight: np.ndarray  # (n_out,) float32


def bilinear_axis(n_in: int, n_out: int) -> BilinearAxis:
    """Sources and weights as PyTorch's bilinear kernel computes them: scale in/out in float32,
    source = scale * (i + 0.5) - 0.5 (one rounding), clamped at 0."""
    scale = np.float32(n_in) / np.float32(n_out)
    centres = np.arange(n_out, dtype=np.float32) + np.float32(0.5)
    source = np.maximum((np.float64(scale) * centres - 0.5).astype(np.float32), np.float32(0))
    low = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    high_weight = np.clip(source - low.astype(np.float32), 0, 1).astype(np.float32)
    high = np.where(low < n_in - 1, low + 1, low)
    return BilinearAxis(low, high, np.float32(1) - high_weight, high_weight)


def positive_pieces(logits: np.ndarray, rows: BilinearAxis, cols: BilinearAxis) -> list[tuple[int, tuple[int, int, int, int]]]:
    """logits (K, h, w) -> (object index, output box (y0, y1, x0, x1), end exclusive) for each
    connected piece of output pixels one of whose sources is positive, in object order."""
    positive = logits > 0
    reach = positive.copy()  # low-resolution cells whose pixels have a positive source: the cell or the next
    reach[:, :-1] |= positive[:, 1:]
    reach[:, :, :-1] |= reach[:, :, 1:].copy()
    pieces, _ = ndimage.label(reach, structure=_PIECES_WITHIN_OBJECTS)
    found = []
    for k_slice, y_slice, x_slice in ndimage.find_objects(pieces):
        y0, y1 = np.searchsorted(rows.low, [y_slice.start, y_slice.stop])
        x0, x1 = np.searchsorted(cols.low, [x_slice.start, x_slice.stop])
        if y1 > y0 and x1 > x0:
            found.append((k_slice.start, (int(y0), int(y1), int(x0), int(x1))))
    return found


def upsample_box(logits: np.ndarray, box: tuple[int, int, int, int], rows: BilinearAxis, cols: BilinearAxis) -> np.ndarray:
    """One object's (h, w) float32 logits upsampled over the output box (y0, y1, x0, x1)."""
    y0, y1, x0, x1 = box
    top, bottom = logits[rows.low[y0:y1]], logits[rows.high[y0:y1]]  # (n_y, w)
    left, right = cols.low[x0:x1], cols.high[x0:x1]
    wl, wr = cols.low_weight[x0:x1], cols.high_weight[x0:x1]
    upper = top[:, left] * wl + top[:, right] * wr
    lower = bottom[:, left] * wl + bottom[:, right] * wr
    return upper * rows.low_weight[y0:y1, None] + lower * rows.high_weight[y0:y1, None]


def local_positive_logits(low_res_logits: torch.Tensor, object_ids: tuple[int, ...],
                          frame_hw: tuple[int, int]) -> list[tuple[int, LocalLogits]]:
    """low_res_logits (K, 1, h, w) -> (object id, its logits at the frame's resolution over one
    box) for every piece where an object can be positive, in object order; outside its pieces an
    object's logits are not positive."""
    logits = low_res_logits[:, 0].float().cpu().numpy()
    rows, cols = bilinear_axis(logits.shape[1], frame_hw[0]), bilinear_axis(logits.shape[2], frame_hw[1])
    return [(object_ids[k], LocalLogits(box, torch.from_numpy(upsample_box(logits[k], box, rows, cols))[None]))
            for k, box in positive_pieces(logits, rows, cols)]
