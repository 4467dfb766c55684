"""The training recipe's simulated user prompts, in the coordinates of the masks given (x, y);
all batched over objects (torch).

As in the paper: a first click drawn uniformly inside the object, or a noisy box, and
corrective clicks drawn uniformly from the error region (a positive click where the object was
missed, a negative one where the prediction spills over). Evaluation prompts deterministically
instead (``evaluation.prompts``).
"""
from __future__ import annotations

import torch


def uniform_clicks(gt: torch.Tensor, pred: torch.Tensor | None, generator: torch.Generator):
    """One click per object, uniform over its error pixels (over the object if pred is None).

    gt, pred: (B, H, W) bool. Returns points (B, 1, 2) float (x, y) and labels (B, 1) int32:
    1 on a missed pixel, 0 on a spurious one. An object predicted perfectly gets a negative
    click on the background (harmless), as in the reference recipe.
    """
    pred = torch.zeros_like(gt) if pred is None else pred
    B, H, W = gt.shape
    missed, spurious = gt & ~pred, pred & ~gt
    perfect = (gt == pred).flatten(1).all(1)[:, None, None]
    weights = torch.stack([spurious | (perfect & ~gt), missed], dim=-1).float()  # (B, H, W, 2)
    scores = torch.rand(weights.shape, generator=generator) * weights
    flat = scores.flatten(1).argmax(1)
    labels = (flat % 2).to(torch.int32)
    pixel = flat // 2
    points = torch.stack([pixel % W, pixel // W], dim=-1).float()
    return points[:, None, :], labels[:, None]


def noisy_boxes(gt: torch.Tensor, generator: torch.Generator, noise: float = 0.1, max_noise_px: float = 20.0):
    """Tight boxes around each object (B, H, W) jittered by up to 10% of their size (at most
    20 px) per corner: points (B, 2, 2) (x, y) and labels (B, 2) = (2, 3)."""
    B, H, W = gt.shape
    boxes = torch.zeros(B, 4)
    for b in range(B):
        ys, xs = torch.nonzero(gt[b], as_tuple=True)
        if len(xs):
            boxes[b] = torch.tensor([xs.min(), ys.min(), xs.max(), ys.max()], dtype=torch.float32)
    size = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], dim=1)
    limit = torch.clamp(size * noise, max=max_noise_px).repeat(1, 2)  # (B, 4) as dx, dy, dx, dy
    boxes = boxes + (2 * torch.rand(B, 4, generator=generator) - 1) * limit
    boxes = torch.minimum(boxes.clamp(min=0), torch.tensor([W - 1, H - 1, W - 1, H - 1], dtype=torch.float32))
    labels = torch.tensor([[2, 3]], dtype=torch.int32).repeat(B, 1)
    return boxes.reshape(B, 2, 2), labels
