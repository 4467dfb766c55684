"""Prompt encoder: points and box corners become sparse tokens, a mask becomes a dense map."""
from __future__ import annotations

import torch
from torch import nn

from .common import LayerNorm2d
from .position_encoding import RandomFourierEncoding

# Point labels understood by the prompt encoder.
PAD_LABEL, NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = -1, 0, 1, 2, 3


class PromptEncoder(nn.Module):
    def __init__(self, embed_dim: int, embedding_size: int, image_size: int, mask_in_chans: int = 16,
                 pe_scale: float = 1.0) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.embedding_hw = (embedding_size, embedding_size)
        self.image_hw = (image_size, image_size)
        self.mask_input_hw = (4 * embedding_size, 4 * embedding_size)
        self.pe_layer = RandomFourierEncoding(embed_dim // 2, pe_scale)
        # One learnt embedding per point label 0..3 (negative, positive, two box corners).
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def dense_pe(self) -> torch.Tensor:
        """(1, C, h, w) position encoding of the image embedding's grid."""
        return self.pe_layer.grid(*self.embedding_hw).unsqueeze(0)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor, pad: bool) -> torch.Tensor:
        """(B, N, 2) (x, y) in model-input pixels and (B, N) labels -> (B, N [+1], C).

        With `pad`, a "not a point" token is appended (SAM does so whenever no box follows).
        """
        coords = coords + 0.5  # pixel centres
        if pad:
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, labels.new_full((labels.shape[0], 1), PAD_LABEL)], dim=1)
        tokens = self.pe_layer.encode_pixels(coords, self.image_hw)
        labels = labels.unsqueeze(-1)
        tokens = torch.where(labels == PAD_LABEL, torch.zeros_like(tokens) + self.not_a_point_embed.weight, tokens)
        for label, embedding in enumerate(self.point_embeddings):
            tokens = torch.where(labels == label, tokens + embedding.weight, tokens)
        return tokens

    def embed_boxes(self, boxes: torch.Tensor) -> torch.Tensor:
        """(B, 4) XYXY boxes in model-input pixels -> (B, 2, C) corner tokens."""
        corners = boxes.reshape(-1, 2, 2) + 0.5
        tokens = self.pe_layer.encode_pixels(corners, self.image_hw)
        corner_embed = torch.cat([self.point_embeddings[BOX_TOP_LEFT].weight, self.point_embeddings[BOX_BOTTOM_RIGHT].weight])
        return tokens + corner_embed

    def forward(
        self,
        points: tuple[torch.Tensor, torch.Tensor] | None = None,
        boxes: torch.Tensor | None = None,
        masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns sparse tokens (B, N, C) and dense embeddings (B, C, h, w).

        `masks` are logits of shape (B, 1, 4h, 4w) (256 x 256 for a 1024 model).
        """
        batch = self._batch_size(points, boxes, masks)
        device = self.no_mask_embed.weight.device
        sparse = [torch.empty(batch, 0, self.embed_dim, device=device)]
        if points is not None:
            sparse.append(self.embed_points(points[0], points[1], pad=boxes is None))
        if boxes is not None:
            sparse.append(self.embed_boxes(boxes))
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, *self.embedding_hw)
        return torch.cat(sparse, dim=1), dense

    @staticmethod
    def _batch_size(points, boxes, masks) -> int:
        if points is not None:
            return points[0].shape[0]
        if boxes is not None:
            return boxes.shape[0]
        if masks is not None:
            return masks.shape[0]
        return 1
