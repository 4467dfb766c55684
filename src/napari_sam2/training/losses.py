"""The paper's losses: focal and dice on masks (the best of the multimask outputs), L1 on the
predicted IoU, and a cross-entropy on the object's presence.

Weights as in SAM 2's training: 20 focal, 1 dice, 1 IoU, 1 presence. Mask losses count only
where the object is present in the ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    presence: float = 1.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    # Not in the paper: keeps the coarsest image embedding's RMS near 1 (see embedding_scale_loss).
    embedding_scale: float = 0.0


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """(B, M, H, W) -> (B, M): sigmoid focal loss averaged over pixels."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:  # a negative alpha means no class weighting
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, M, H, W) -> (B, M), smoothed by 1 so that empty masks are well defined."""
    prob = logits.sigmoid().flatten(2)
    target = target.flatten(2)
    return 1 - (2 * (prob * target).sum(-1) + 1) / (prob.sum(-1) + target.sum(-1) + 1)


def true_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, M, H, W) -> (B, M) IoU of the thresholded masks with the target."""
    pred, gt = logits.flatten(2) > 0, target.flatten(2) > 0
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float().clamp(min=1)
    return inter / union


def step_loss(logits, iou_pred, object_logits, target, w: LossWeights) -> dict[str, torch.Tensor]:
    """One decoder step for B objects: logits (B, M, H, W) at the target's size, iou_pred
    (B, M), object_logits (B, 1), target (B, H, W) {0, 1}. Sums over objects."""
    target = target[:, None].float().expand_as(logits)
    focal = focal_loss(logits, target, w.focal_alpha, w.focal_gamma)
    dice = dice_loss(logits, target)
    iou = (iou_pred - true_iou(logits, target)).abs()  # every mask's IoU is supervised
    best = (w.focal * focal + w.dice * dice).argmin(-1)
    rows = torch.arange(logits.shape[0])
    present = target[:, 0].flatten(1).any(-1).float()  # (B,)
    presence = F.binary_cross_entropy_with_logits(object_logits[:, 0], present, reduction="none")
    return {
        "focal": (focal[rows, best] * present).sum(),
        "dice": (dice[rows, best] * present).sum(),
        "iou": (iou.mean(-1) * present).sum(),
        "presence": presence.sum(),
    }


def embedding_scale_loss(embedding: torch.Tensor) -> torch.Tensor:
    """(T, C, H, W) -> scalar: mean over frames of log(RMS)^2.

    Prompted frames hand the raw embedding to the decoder; tracked frames hand it the output of
    memory attention, which ends in a LayerNorm (RMS about 1). Trained on images alone, the raw
    embedding grows to RMS in the hundreds, and the decoder then never sees on tracked frames what
    it learnt on prompted ones, while the memory read drowns in the residual stream. Holding the
    scale near 1 keeps both paths alike."""
    rms = embedding.pow(2).flatten(1).mean(-1).clamp(min=1e-12).sqrt()
    return rms.log().pow(2).mean()


def total(parts: dict[str, torch.Tensor], w: LossWeights) -> torch.Tensor:
    return w.focal * parts["focal"] + w.dice * parts["dice"] + w.iou * parts["iou"] + w.presence * parts["presence"]
