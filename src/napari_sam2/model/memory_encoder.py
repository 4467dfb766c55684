"""Memory encoder: fuses a frame's features with its predicted mask into a memory (mem_dim wide)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .common import LayerNorm2d
from .mask_windows import WindowedDownsampling
from .position_encoding import SinePositionEncoding2d


class MaskDownSampler(nn.Module):
    """Stride-2 convolutions until the mask is at the feature stride (x16 -> 4 layers);
    channels grow by stride**2 at each step, then a 1x1 convolution to the feature width."""

    def __init__(self, out_dim: int, total_stride: int = 16, stride: int = 2) -> None:
        super().__init__()
        num_layers = round(math.log(total_stride, stride))
        self.encoder = nn.Sequential()
        channels = 1
        for _ in range(num_layers):
            wider = channels * stride**2
            self.encoder.append(nn.Conv2d(channels, wider, kernel_size=3, stride=stride, padding=1))
            self.encoder.append(LayerNorm2d(wider))
            self.encoder.append(nn.GELU())
            channels = wider
        self.encoder.append(nn.Conv2d(channels, out_dim, kernel_size=1))
        self._windowed = WindowedDownsampling(self.encoder, total_stride)

    def forward(self, mask: torch.Tensor, background: float = 0.0, tolerance: float | None = None) -> torch.Tensor:
        """mask (B, 1, S, S) -> (B, out_dim, S / total_stride, S / total_stride). tolerance: without
        gradients, downsample only a window around each object, taking the pixels within
        `tolerance` of `background` as background (model/mask_windows.py); None: the whole mask."""
        if tolerance is not None and not torch.is_grad_enabled():
            return self._windowed(mask, background, tolerance)
        return self.encoder(mask)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7x7 conv, LayerNorm, pointwise MLP, layer scale, residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = LayerNorm2d(dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # channels last for the Linear layers
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    def __init__(self, dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim)
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)
        self.position_encoding = SinePositionEncoding2d(out_dim)

    def forward(self, features: torch.Tensor, mask_input: torch.Tensor, background: float = 0.0,
                tolerance: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B or 1, C, h, w); mask_input (B, 1, 16h, 16w), already squashed to the range
        the encoder expects (see frame_steps.encode_memory), `background` where no object is.
        Returns memory (B, mem_dim, h, w) and its position encoding. Features of batch 1 (B objects
        on one frame) are projected once. tolerance: see MaskDownSampler."""
        x = self.pix_feat_proj(features) + self.mask_downsampler(mask_input, background, tolerance)
        memory = self.out_proj(self.fuser(x))
        return memory, self.position_encoding(memory)
