"""Which of the model's three masks for one click to keep (MaskCleanup.choose_by_outline).

SAM 2 ranks its candidates for an ambiguous prompt by its own predicted IoU. The embedded model's
prediction ranks poorly for nuclei: on held-out simulated frames, keeping the truly best of its three
masks would give a one-click J&F of 0.933 where its predicted IoU picks masks worth 0.894 (a part of
the nucleus, or the nucleus with a neighbour's edge). A nucleus' outline lies on the image's
strongest edge, a part's outline inside it and a grab's outline over dim background do not. So
each candidate's predicted IoU (at least 0) is weighted by the mean gradient of the image along its
outline, relative to the strongest outline among the object's candidates, and the highest kept.
Measured in benchmarks/README.md ("Choosing among a click's masks")."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

SMOOTHING_PX = 1.0  # the Gaussian's sigma on the model's input before its gradient: the noise of one pixel is no edge


def input_gradient(model_input: torch.Tensor) -> torch.Tensor:
    """(1, 3, S, S) model input -> (S, S) gradient magnitude of its channels' mean, smoothed."""
    image = model_input.float().mean(1, keepdim=True)  # (1, 1, S, S)
    radius = math.ceil(3 * SMOOTHING_PX)
    steps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=image.device)
    kernel = torch.exp(-0.5 * (steps / SMOOTHING_PX) ** 2)
    kernel = kernel / kernel.sum()
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    smooth = F.conv2d(F.conv2d(padded, kernel.view(1, 1, -1, 1)), kernel.view(1, 1, 1, -1))[0, 0]  # (S, S)
    rows = torch.zeros_like(smooth)
    cols = torch.zeros_like(smooth)
    rows[1:-1] = (smooth[2:] - smooth[:-2]) / 2
    cols[:, 1:-1] = (smooth[:, 2:] - smooth[:, :-2]) / 2
    return torch.hypot(rows, cols)


def outline_strength(logits: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """(B, M, h, w) mask logits and an (S, S) gradient -> (B, M) the gradient's mean along each
    mask's outline (its pixels next to one outside it) at the gradient's size; 0 for an
    empty mask."""
    masks = F.interpolate(logits.float(), size=tuple(gradient.shape), mode="bilinear", align_corners=False) > 0
    inside = masks.float()
    eroded = -F.max_pool2d(-inside.flatten(0, 1)[:, None], (3, 1), 1, (1, 0))  # (B*M, 1, S, S)
    eroded = -F.max_pool2d(-eroded, (1, 3), 1, (0, 1))
    outline = masks & (eroded.view_as(inside) < 0.5)  # (B, M, S, S)
    count = outline.sum((-2, -1))
    return (outline * gradient).sum((-2, -1)) / count.clamp(min=1)


def chosen_by_outline(iou_scores: torch.Tensor, logits: torch.Tensor, model_input: torch.Tensor,
                      clean: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """(B,) the candidate each object keeps: iou_scores (B, M) at least 0, times each of the
    (B, M, h, w) masks' outline strength on the (1, 3, S, S) model input relative to the object's
    strongest; the predicted IoU alone for an object whose masks are all empty. clean: the masks
    as they will be kept ((K, 1, h, w) logits -> cleaned), so that a stray bit's outline counts not."""
    if clean is not None:
        logits = clean(logits.float().flatten(0, 1)[:, None]).view_as(logits)
    strength = outline_strength(logits, input_gradient(model_input.to(logits.device)))  # (B, M)
    strongest = strength.amax(-1, keepdim=True)
    relative = torch.where(strongest > 0, strength / strongest.clamp(min=1e-12), torch.ones_like(strength))
    return (iou_scores.float().clamp(min=0) * relative).argmax(-1)
