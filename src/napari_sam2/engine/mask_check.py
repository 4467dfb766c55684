"""Is a prompted mask plausible? One rule, used by the image predictors and the video trackers.

A click or a box asks for one object; the mask that comes back is flagged when
- it is empty: the model found nothing where the user pointed;
- it is implausibly large for what was asked: more than BOX_AREA_FACTOR times the area of the
  box prompt (then most of it lies outside the box drawn; a mask prompt counts by its bounding
  box); for clicks without a box, more than CELL_AREA_FACTOR times the area of a cell of the
  cell diameter when the caller knows it (the tiled predictor and tracker, and so every napari
  session: a mask twice as wide as a typical cell), else more than MAX_FRAME_FRACTION of the
  frame (an object whose side is over a fifth of the frame's).
  Measured with the embedded model on simulated frames with 20 cells of about 450 pixels: at
  2048 x 2048 each click gave 4.5-8.9% of the frame (360 to 930 times the cell); at 128 to 256
  pixels a side the masks were at most 2.8% of the frame, and the largest cell of the sample
  time-lapse is 1.4% of its frame. An object really this large (a close-up of one cell) is
  flagged too: the message says so, and nothing is changed or refused.
The mask judged is the larger of the model's mask and the one the clean-up made of it
(postprocess.MaskCleanup keeps the piece under the click and fills holes): a spill the clean-up
cut down to a wrong piece is still reported (measured: a mask of 4,369 px for a 395 px cell cut to
1,449 px, IoU 0.27, which passed every bar), and holes it fills count too.
The usual causes: cells too small for the model at this frame size (the frame is shrunk to the
model's square input: crop the image to a region, or use a model with a larger input), or a
mask that leaks into neighbours (a negative click where it should stop).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .prompts import Prompt

EMPTY, TOO_LARGE = "empty", "too large"
BOX, CELL, FRAME = "box", "cell", "frame"  # what a TOO_LARGE limit comes from
BOX_AREA_FACTOR = 2.0  # a mask more than twice its box's area lies mostly outside the box
CELL_AREA_FACTOR = 4.0  # a mask more than twice as wide as a typical cell is not one cell
MAX_FRAME_FRACTION = 1 / 25  # of the frame, for clicks without a box or a cell diameter


@dataclass(frozen=True)
class MaskWarning:
    """Why a prompted mask looks wrong: kind is EMPTY or TOO_LARGE; area and limit in pixels
    of the image (area: of the mask judged; limit: the largest plausible area, 0 for an empty
    mask); basis: what the limit comes from (BOX, CELL or FRAME); reduction: how many times
    smaller the model sees the frame (its longer side over the model's input side)."""

    kind: str
    area: int
    limit: int
    basis: str
    reduction: float
    cell_diameter: float = 0.0  # px: the cell a CELL limit comes from
    cleaned_area: int | None = None  # what the clean-up left of a larger mask of the model's

    @property
    def compared_with(self) -> str:
        """What the limit comes from, in words."""
        if self.basis == BOX:
            return "the box drawn (twice its area)"
        if self.basis == CELL:
            return f"a cell {self.cell_diameter:.0f} pixels across (the cell diameter; {CELL_AREA_FACTOR:g} times its area)"
        return "a click (1/25 of the frame)"

    def covers(self) -> str:
        """The mask's size in words: what the model gave, and what the clean-up left of it."""
        if self.cleaned_area is None:
            return f"its mask covers {self.area:,} pixels"
        return (f"its mask covers {self.area:,} pixels as the model gave it "
                f"({self.cleaned_area:,} after the clean-up kept the piece under the click)")

    def in_pixels_of(self, length_factor: float) -> MaskWarning:
        """The same warning measured in pixels `length_factor` times as long (e.g. a tile's
        resampled pixels -> the image's)."""
        def area(value):
            return None if value is None else int(round(value * length_factor**2))
        return replace(self, area=area(self.area), limit=area(self.limit), cleaned_area=area(self.cleaned_area),
                       cell_diameter=self.cell_diameter * length_factor)

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
            f"{self.covers()}, more than the {self.limit:,} expected for {self.compared_with}: "
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


def mask_warning(mask: np.ndarray, prompt: Prompt | None, model_side: int, before_cleanup: np.ndarray | None = None,
                 cell_diameter: float | None = None) -> MaskWarning | None:
    """mask: (H, W) bool at the image's resolution, decoded from `prompt` (None: from a
    previous prediction's logits alone, judged against the frame) by a model whose square
    input has `model_side` pixels; before_cleanup: the model's (H, W) mask before the clean-up
    made `mask` of it (None: no clean-up); cell_diameter: a typical cell's width in these
    pixels, if known."""
    cleaned_area = int(np.count_nonzero(mask))
    model_area = cleaned_area if before_cleanup is None else int(np.count_nonzero(before_cleanup))
    area = max(cleaned_area, model_area)
    reduction = max(mask.shape) / model_side
    if area == 0:
        return MaskWarning(EMPTY, 0, 0, FRAME, reduction)
    basis, limit = plausible_area(prompt, mask.size, cell_diameter)
    if area <= limit:
        return None
    return MaskWarning(TOO_LARGE, area, limit, basis, reduction, cell_diameter or 0.0,
                       cleaned_area if cleaned_area < area else None)


def plausible_area(prompt: Prompt | None, frame_area: int, cell_diameter: float | None) -> tuple[str, int]:
    """(basis, the largest plausible area in pixels) of a mask asked for by `prompt`."""
    box = prompted_box(prompt)
    if box is not None:
        x0, y0, x1, y1 = box
        return BOX, int(BOX_AREA_FACTOR * (x1 - x0) * (y1 - y0))
    if cell_diameter is not None:
        return CELL, int(CELL_AREA_FACTOR * math.pi * cell_diameter**2 / 4)
    return FRAME, int(MAX_FRAME_FRACTION * frame_area)
