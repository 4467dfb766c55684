"""Where the Labels layer sits: the store's array is the layer's data (the screen is the disk).

The store has as many dimensions as the image; for a 4-D image (e.g. tracking z at one time point
of a (T, Z, Y, X) image) the fixed axis has length 1 and the layer is translated to the fixed
index, so the labels appear on that slice only.
"""
from __future__ import annotations

import numpy as np

from .layout import FrameLayout


def labels_translate(image_scale, image_translate, layout: FrameLayout) -> np.ndarray:
    """The image's translation, moved to the fixed slices (the store's fixed axes have length 1)."""
    translate = np.asarray(image_translate, dtype=float).copy()
    for a, index in layout.fixed:
        translate[a] += index * float(image_scale[a])
    return translate
