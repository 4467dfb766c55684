"""Image encoder: Hiera trunk + FPN neck, keeping the three finest pyramid levels."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .fpn_neck import FpnNeck
from .hiera import Hiera


class PyramidFeatures(NamedTuple):
    """Feature pyramid of one batch of images, finest level first.

    For a 1024 input: levels of 256x256, 128x128 and 64x64, each (B, d_model, H, W); the
    coarsest (last) level is the image embedding the prompt heads and memory work on.
    """

    levels: list[torch.Tensor]
    position_encodings: list[torch.Tensor]


class ImageEncoder(nn.Module):
    def __init__(self, trunk: Hiera, neck: FpnNeck, num_dropped_levels: int = 1) -> None:
        super().__init__()
        self.trunk = trunk
        self.neck = neck
        # Hiera's coarsest stage (1/32) only feeds the FPN top-down path, not the heads.
        self.num_dropped_levels = num_dropped_levels

    def forward(self, images: torch.Tensor) -> PyramidFeatures:
        """(B, 3, S, S) normalised images -> PyramidFeatures."""
        levels, encodings = self.neck(self.trunk(images))
        if self.num_dropped_levels:
            levels = levels[: -self.num_dropped_levels]
            encodings = encodings[: -self.num_dropped_levels]
        return PyramidFeatures(levels, encodings)
