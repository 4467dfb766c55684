"""Hiera: the hierarchical vision transformer that is SAM 2's image trunk."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import HieraConfig
from .hiera_block import HieraBlock


class PatchEmbed(nn.Module):
    """A 7x7 stride-4 convolution from RGB to tokens; output is channels-last (B, H/4, W/4, C)."""

    def __init__(self, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """Four stages of HieraBlocks; returns the last block's output of every stage.

    Position embedding: a coarse background embedding interpolated (bicubic) to the grid,
    plus a window-sized embedding tiled over it.
    """

    def __init__(self, cfg: HieraConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.embed_dim, *cfg.background_pos_size))
        first_window = cfg.window_sizes[0]
        self.pos_embed_window = nn.Parameter(torch.zeros(1, cfg.embed_dim, first_window, first_window))
        self.blocks = nn.ModuleList(self._make_blocks(cfg))
        self.stage_ends = [sum(cfg.stages[: i + 1]) - 1 for i in range(len(cfg.stages))]

    @staticmethod
    def _make_blocks(cfg: HieraConfig) -> list[HieraBlock]:
        blocks = []
        dim, heads = cfg.embed_dim, cfg.num_heads
        stage_starts = {sum(cfg.stages[:i]) for i in range(1, len(cfg.stages))}
        pooled_starts = sorted(stage_starts)[: cfg.q_pool_stages]
        depth = sum(cfg.stages)
        drop_rates = torch.linspace(0, cfg.drop_path_rate, depth).tolist()
        stage = 0
        for i in range(depth):
            # A stage's first block still attends in the previous stage's window, then pools.
            window = 0 if i in cfg.global_attention_blocks else cfg.window_sizes[stage]
            dim_out = dim
            if i in stage_starts:
                dim_out, heads, stage = int(dim * cfg.dim_mul), int(heads * cfg.head_mul), stage + 1
            q_stride = cfg.q_stride if i in pooled_starts else None
            blocks.append(HieraBlock(dim, dim_out, heads, window, q_stride, cfg.mlp_ratio, drop_rates[i]))
            dim = dim_out
        return blocks

    def _pos_embed(self, height: int, width: int) -> torch.Tensor:
        """(1, H, W, C) position embedding for an H x W token grid."""
        background = F.interpolate(self.pos_embed, size=(height, width), mode="bicubic")
        window = self.pos_embed_window
        reps = (height // window.shape[-2], width // window.shape[-1])
        return (background + window.tile(1, 1, *reps)).permute(0, 2, 3, 1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, S, S) -> one (B, C_i, H_i, W_i) map per stage, finest first."""
        x = self.patch_embed(images)
        x = x + self._pos_embed(x.shape[1], x.shape[2])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
