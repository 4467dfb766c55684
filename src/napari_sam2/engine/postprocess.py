"""Filling small holes in predicted masks, on the CPU, without compiled extensions."""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

HOLE_FILL_LOGIT = 0.1  # a filled hole becomes just-positive, like the reference's CUDA path
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """(B, 1, h, w) mask logits: every 8-connected region of non-positive logits whose area is
    at most max_area becomes HOLE_FILL_LOGIT. Returns a new tensor; max_area 0 returns logits."""
    if max_area <= 0:
        return logits
    out = logits.clone()
    background = (logits <= 0).cpu().numpy()
    for b in range(background.shape[0]):
        labels, count = ndimage.label(background[b, 0], structure=_EIGHT_CONNECTED)
        if count == 0:
            continue
        areas = np.bincount(labels.ravel())
        small = (areas <= max_area) & (np.arange(len(areas)) > 0)
        holes = torch.from_numpy(small[labels]).to(out.device)
        out[b, 0][holes] = HOLE_FILL_LOGIT
    return out
