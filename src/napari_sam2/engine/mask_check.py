"""Is a prompted mask plausible? One rule, used by the image predictor and the video tracker.

A click or a box asks for one object; the mask that comes back is flagged when
- it is empty: the model found nothing where the user pointed;
- it is implausibly large for what was asked: more than BOX_AREA_FACTOR times the area of the
  box prompt (then most of it lies outside the box drawn; a mask prompt counts by its bounding
  box), or, for clicks without a box, more than
  MAX_FRAME_FRACTION of the frame (an object whose side is over a fifth of the frame's).
  Measured with the embedded model on simulated frames with 20 cells of about 450 pixels: at
  2048 x 2048 each click gave 4.5-8.9% of the frame (360 to 930 times the cell); at 128 to 256
  pixels a side the masks were at most 2.8% of the frame, and the largest cell of the sample
  time-lapse is 1.4% of its frame. An object really this large (a close-up of one cell) is
  flagged too: the message says so, and nothing is changed or refused.
The usual causes: cells too small for the model at this frame size (the frame is shrunk to the
model's square input: crop the image to a region, or use a model with a larger input), or a
mask that leaks into neighbours (a negative click where it should stop).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prompts import Prompt

EMPTY, TOO_LARGE = "empty", "too large"
BOX_AREA_FACTOR = 2.0  # a mask more than twice its box's area lies mostly outside the box
MAX_FRAME_FRACTION = 1 / 25  # of the frame, for clicks without a box


@dataclass(frozen=True)
class MaskWarning:
    """Why a prompted mask looks wrong: kind is EMPTY or TOO_LARGE; area and limit in pixels
    of the image (limit: the largest plausible area, 0 for an empty mask); reduction: how many
    times smaller the model sees the frame (its longer side over the model's input side)."""

    kind: str
    area: int
    limit: int
    compared_with: str  # what the limit comes from, in words
    reduction: float

    def scale_hint(self) -> str:
        if self.reduction <= 1.5:
            return ""
        return f" (the model sees this frame {self.reduction:.0f} times smaller)"

    def __str__(self) -> str:
        if self.kind == EMPTY:
            return (
                "the mask is empty: the model found no object at the prompt. Click nearer the object's "
                "centre, or draw a box around it; if the objects are tiny at this frame size"
                f"{self.scale_hint()}, crop the image to a region or use a model with a larger input"
            )
        return (
            f"the mask covers {self.area:,} pixels, more than the {self.limit:,} expected for {self.compared_with}: "
            f"if you meant one small object, it may be too small for the model at this frame size{self.scale_hint()}: "
            "crop the image to a region or use a model with a larger input; if the mask leaked into "
            "its neighbours, add a negative click where it should stop. If the object really is this large, ignore this"
        )


def prompted_box(prompt: Prompt | None) -> tuple[float, float, float, float] | None:
    """The XYXY extent the user asked for: the box prompt, else a mask prompt's bounding box."""
    if prompt is None or (prompt.box is None and prompt.mask is None):
        return None
    if prompt.box is not None:
        return tuple(float(v) for v in prompt.box)
    rows, cols = np.nonzero(prompt.mask)
    return cols.min() - 0.5, rows.min() - 0.5, cols.max() + 0.5, rows.max() + 0.5


def mask_warning(mask: np.ndarray, prompt: Prompt | None, model_side: int) -> MaskWarning | None:
    """mask: (H, W) bool at the image's resolution, decoded from `prompt` (None: from a
    previous prediction's logits alone, judged against the frame) by a model whose square
    input has `model_side` pixels."""
    area = int(np.count_nonzero(mask))
    reduction = max(mask.shape) / model_side
    if area == 0:
        return MaskWarning(EMPTY, 0, 0, "the prompt", reduction)
    box = prompted_box(prompt)
    if box is not None:
        x0, y0, x1, y1 = box
        limit, compared_with = int(BOX_AREA_FACTOR * (x1 - x0) * (y1 - y0)), "the box drawn (twice its area)"
    else:
        limit, compared_with = int(MAX_FRAME_FRACTION * mask.size), "a click (1/25 of the frame)"
    return MaskWarning(TOO_LARGE, area, limit, compared_with, reduction) if area > limit else None
