"""The one rule that turns objects' logits into a label image: a pixel goes to the object with
the highest logit there, if that logit is above the threshold (0: the model's own decision).
Used by the tracker's results (FrameResult.label_image, and through it paint_onto) and by the
tiled predictor, whose logits cover only a tile each."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import torch

from .tiling import LocalLogits


def winning_labels(image_hw: tuple[int, int], objects: Mapping[int, LocalLogits] | Iterable[tuple[int, LocalLogits]],
                   threshold: float = 0.0, dtype=np.int64) -> np.ndarray:
    """(H, W) labels from each object's logits (object id -> one mask placed by its box, or
    (object id, piece) pairs: an object's logits over several boxes); 0 elsewhere.
    On a tie the object met first keeps the pixel."""
    pieces = list(objects.items() if isinstance(objects, Mapping) else objects)
    largest = np.iinfo(dtype).max
    too_large = sorted({obj_id for obj_id, _ in pieces if obj_id > largest})
    if too_large:  # a cast would wrap them onto other ids silently
        raise ValueError(f"object ids {too_large} do not fit in {np.dtype(dtype).name} labels (at most {largest}); "
                         "use ids up to that, or labels of a wider type")
    best = torch.full(image_hw, threshold, dtype=torch.float32)
    labels = torch.zeros(image_hw, dtype=torch.int64)
    for obj_id, local in pieces:
        y0, y1, x0, x1 = local.box
        logits = local.logits[0].float()
        wins = logits > best[y0:y1, x0:x1]
        best[y0:y1, x0:x1] = torch.where(wins, logits, best[y0:y1, x0:x1])
        labels[y0:y1, x0:x1][wins] = obj_id
    return labels.numpy().astype(dtype, copy=False)
