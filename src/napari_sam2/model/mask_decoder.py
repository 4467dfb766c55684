"""SAM 2 mask decoder: output tokens + prompt tokens run through the two-way transformer,
then hypernetworks turn mask tokens into masks over the upscaled image embedding."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .common import MLP, LayerNorm2d, in_float32
from .config import DecoderConfig
from .two_way_transformer import TwoWayTransformer


class DecoderOutput(NamedTuple):
    """What the decoder predicts for a batch of B prompts (M = 3 masks, or 1)."""

    mask_logits: torch.Tensor  # (B, M, 4h, 4w), 256 x 256 for a 1024 model
    iou_scores: torch.Tensor  # (B, M) predicted IoU of each mask
    mask_tokens: torch.Tensor  # (B, M, C) output tokens behind the masks (object pointers)
    object_score_logits: torch.Tensor  # (B, 1) > 0 where the object is predicted present


class MaskDecoder(nn.Module):
    def __init__(self, dim: int, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_mask_tokens = cfg.num_multimask_outputs + 1
        self.transformer = TwoWayTransformer(cfg.transformer_depth, dim, cfg.transformer_heads, cfg.transformer_mlp_dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        # Project the two finer pyramid levels once per image (see SAM2Model.encode_image).
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(dim, cfg.iou_head_hidden_dim, self.num_mask_tokens, 3, sigmoid_output=True)
        if cfg.prompt_iou_head:  # ranks the masks of prompted rows (DecoderConfig.prompt_iou_head)
            self.prompt_iou_prediction_head = MLP(dim, cfg.iou_head_hidden_dim, self.num_mask_tokens, 3,
                                                  sigmoid_output=True)
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        high_res: list[torch.Tensor],
        multimask: bool,
        prompted: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """image_embedding (1 or B, C, h, w), shared when its batch is 1; image_pe (1, C, h, w);
        sparse (B, N, C); dense (B, C, h, w); high_res: the projected finer levels
        [(1 or B, C/8, 4h, 4w), (1 or B, C/4, 2h, 2w)]; prompted (B,) bool: the rows decoded from a
        prompt (ranked by the prompt IoU head where the model has one), None: none."""
        masks, ious, mask_tokens, object_logits = self._predict_all(image_embedding, image_pe, sparse, dense, high_res,
                                                                    prompted)
        if multimask:
            return DecoderOutput(masks[:, 1:], ious[:, 1:], mask_tokens[:, 1:], object_logits)
        if not self.training:
            masks, ious = self._stable_single_mask(masks, ious)
        else:
            masks, ious = masks[:, :1], ious[:, :1]
        return DecoderOutput(masks, ious, mask_tokens[:, :1], object_logits)

    def _predict_all(self, image_embedding, image_pe, sparse, dense, high_res, prompted):
        """Logits, IoUs and tokens of all 4 masks (single-mask token first)."""
        batch = sparse.shape[0]
        output_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight])
        tokens = torch.cat([output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse], dim=1)
        image = _to_batch(image_embedding, batch) + dense
        B, C, h, w = image.shape
        tokens_out, image_out = self.transformer(image, _to_batch(image_pe, batch), tokens)
        iou_token = tokens_out[:, 1]
        mask_tokens = tokens_out[:, 2 : 2 + self.num_mask_tokens]  # (B, 4, C)
        upscaled = self._upscale(image_out.transpose(1, 2).reshape(B, C, h, w), high_res, batch)
        with in_float32(upscaled.device):  # the final logits: mask edges and presence hang on their sign
            hyper = torch.stack([mlp(mask_tokens[:, i].float()) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
                                dim=1)
            B, c, H, W = upscaled.shape
            masks = (hyper @ upscaled.float().view(B, c, H * W)).view(B, -1, H, W)
            object_logits = self.pred_obj_score_head(tokens_out[:, 0].float())
        return masks, self._predicted_ious(iou_token, prompted), mask_tokens, object_logits

    def _predicted_ious(self, iou_token: torch.Tensor, prompted: torch.Tensor | None) -> torch.Tensor:
        """(B, 4) predicted IoUs from the (B, C) IoU token: the prompt head's on prompted rows."""
        ious = self.iou_prediction_head(iou_token)
        if not self.cfg.prompt_iou_head or prompted is None or not bool(prompted.any()):
            return ious
        return torch.where(prompted[:, None], self.prompt_iou_prediction_head(iou_token), ious)

    def _upscale(self, image: torch.Tensor, high_res: list[torch.Tensor], batch: int) -> torch.Tensor:
        """(B, C, h, w) -> (B, C/8, 4h, 4w), adding the projected finer pyramid levels on the way."""
        deconv1, norm, act1, deconv2, act2 = self.output_upscaling
        fine, medium = (_to_batch(f, batch) for f in high_res)
        x = act1(norm(deconv1(image) + medium))
        return act2(deconv2(x) + fine)

    def _stable_single_mask(self, masks: torch.Tensor, ious: torch.Tensor):
        """Keep the single-mask output where it is stable; elsewhere take the best of the
        multimask outputs by predicted IoU (so one click still gives a sensible mask)."""
        multi_masks, multi_ious = masks[:, 1:], ious[:, 1:]
        best = multi_ious.argmax(dim=-1)
        rows = torch.arange(masks.shape[0], device=masks.device)
        best_masks = multi_masks[rows, best].unsqueeze(1)
        best_ious = multi_ious[rows, best].unsqueeze(1)
        single_masks, single_ious = masks[:, :1], ious[:, :1]
        stable = self.stability(single_masks) >= self.cfg.stability_threshold  # (B, 1)
        return (
            torch.where(stable[..., None, None], single_masks, best_masks),
            torch.where(stable, single_ious, best_ious),
        )

    def stability(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """(B, M, H, W) -> (B, M): IoU between the mask thresholded at +delta and at -delta."""
        flat = mask_logits.flatten(-2)
        delta = self.cfg.stability_delta
        inner = (flat > delta).sum(-1).float()
        outer = (flat > -delta).sum(-1).float()
        return torch.where(outer > 0, inner / outer, torch.ones_like(outer))


def _to_batch(x: torch.Tensor, batch: int) -> torch.Tensor:
    """Repeat a batch-1 tensor `batch` times (features shared by many prompts)."""
    if x.shape[0] == batch:
        return x
    if x.shape[0] != 1:
        raise ValueError(f"cannot share a batch of {x.shape[0]} image features among {batch} prompts")
    return x.expand(batch, *x.shape[1:])
