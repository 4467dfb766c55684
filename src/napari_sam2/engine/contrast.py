"""Whether a mask stands out from what is around it: the one rule by which a tracked mask is taken
for its object's absence (postprocess.MaskCleanup.dim_masks) and a found cell is refused as a new
cell (cell_tracker.py). Out-of-focus haze at the ends of a z-stack, and noise, make masks that are
no brighter than their surroundings; a nucleus is."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .track_events import box_around

# A mask is dim when it is less than MIN_CONTRAST brighter than the median of a ring around it
# (RING_PX, pixels of the model's input, from its edge), relative to its own brightness (the frame
# stretched: 0 is the frame's low level). Chosen on simulated realistic z-stacks of training seeds
# (10 stacks, a click per nucleus on the fullest slice, tracked both ways): masks with the nucleus
# there fall below it 1.1 % of the time, masks where it is absent (defocused haze, noise) 44 % (at
# 0.2: 2.1 % and 61 %).
MIN_CONTRAST = 0.15
# A cell found on a frame (not tracked onto it) starts a track only at twice that: a track is kept
# down to MIN_CONTRAST but begun only on a clear cell, as a hysteresis threshold is. Measured with
# this ring (benchmarks/README, "Haze is no cell"): true cells of held-out simulated time-lapses
# (plain and realistic) 1 of about 2,000 below 0.4, none below 0.3; the real confocal stack's
# nuclei 1 of 432 below 0.3; the masks its haze slices held, 9 % above 0.3 and 64 % above 0.15.
MIN_START_CONTRAST = 2 * MIN_CONTRAST
RING_PX = (1, 4)


def too_dim(brightness: float, ring_median: float, min_contrast: float = MIN_CONTRAST) -> bool:
    """Whether a mask of mean brightness `brightness` (stretched frame) is less than min_contrast
    of it brighter than the median of its ring."""
    return brightness - ring_median < min_contrast * brightness


def dim_mask(unit: np.ndarray, mask: np.ndarray, model_px: float, min_contrast: float = MIN_CONTRAST,
             others: np.ndarray | None = None) -> bool:
    """Whether an (H, W) bool mask is dim (`too_dim`) on the (H, W) frame stretched to [0, 1]
    (`unit`), measured as `brightness_and_ring` does. False for an empty mask or one with no ring
    (the whole frame, or a cell with other cells all around)."""
    levels = brightness_and_ring(unit, mask, model_px, others)
    return levels is not None and too_dim(*levels, min_contrast)


def brightness_and_ring(image: np.ndarray, mask: np.ndarray, model_px: float,
                        others: np.ndarray | None = None) -> tuple[float, float] | None:
    """(the mean of an (H, W) image under an (H, W) bool mask, the median of its ring), the ring at
    RING_PX pixels of the model's input from the mask's edge, `model_px` of them to a pixel of the
    image (at least one image pixel each), without the pixels of `others` ((H, W) bool: other
    cells; a cell touching a brighter one is measured against the background). None for an empty
    mask or one with no ring."""
    inner, outer = (max(1, round(r / model_px)) for r in RING_PX)
    if not mask.any():
        return None
    window = box_around(mask, outer)
    own = mask[window]
    near, around = (ndimage.maximum_filter(own, 2 * r + 1, mode="constant") for r in (inner, outer))
    ring = around & ~near if others is None else around & ~near & ~others[window]
    values = image[window][ring]
    if not len(values):
        return None
    return float(image[window][own].mean()), float(np.median(values))
