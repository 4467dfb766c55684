"""Feature pyramid neck: projects every Hiera stage to d_model channels and adds top-down paths."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import SinePositionEncoding2d


class FpnNeck(nn.Module):
    """1x1 lateral convolutions; coarser levels are upsampled (nearest, x2) and summed into
    the levels listed in `top_down_levels` only (SAM 2 keeps the two finest levels lateral)."""

    def __init__(self, stage_dims: tuple[int, ...], d_model: int, top_down_levels: tuple[int, ...]) -> None:
        super().__init__()
        # Checkpoints list the coarsest stage first, each conv inside a Sequential named "conv".
        self.convs = nn.ModuleList(
            nn.Sequential() for _ in stage_dims
        )
        for seq, dim in zip(self.convs, reversed(stage_dims)):
            seq.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
        self.top_down_levels = set(top_down_levels)
        self.position_encoding = SinePositionEncoding2d(d_model)

    def forward(self, stage_maps: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Stage maps finest first -> (features, position encodings), finest first, d_model wide."""
        num_levels = len(stage_maps)
        features: list[torch.Tensor] = [None] * num_levels  # type: ignore[list-item]
        coarser = None
        for level in reversed(range(num_levels)):
            lateral = self.convs[num_levels - 1 - level](stage_maps[level])
            if coarser is not None and level in self.top_down_levels:
                upsampled = F.interpolate(coarser.float(), scale_factor=2.0, mode="nearest")
                lateral = lateral + upsampled
            features[level] = coarser = lateral
        encodings = [self.position_encoding(f) for f in features]
        return features, encodings
