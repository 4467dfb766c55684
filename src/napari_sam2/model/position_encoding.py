"""Position encodings: 2-D sine for feature maps, 1-D sine for time, random Fourier for prompts."""
from __future__ import annotations

import math

import torch
from torch import nn


def sine_frequencies(num_feats: int, temperature: float, device=None) -> torch.Tensor:
    """Wavelengths shared by each (sin, cos) pair: temperature ** (2 * (i // 2) / num_feats)."""
    i = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / num_feats)


def interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """(..., F) angles -> (..., F): sin of the even columns and cos of the odd ones, interleaved."""
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


class SinePositionEncoding2d(nn.Module):
    """Fixed 2-D sine encoding of a feature map's grid (DETR style, normalised to [0, 2*pi]).

    `num_channels` is the total output width: half encodes y, half encodes x.
    """

    def __init__(self, num_channels: int, temperature: float = 10000.0) -> None:
        super().__init__()
        if num_channels % 2:
            raise ValueError(f"num_channels must be even, got {num_channels}")
        self.feats_per_axis = num_channels // 2
        self.temperature = temperature
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}

    @torch.no_grad()
    def grid(self, height: int, width: int, device) -> torch.Tensor:
        """(C, H, W) encoding of an H x W grid, cached per size and device."""
        key = (height, width, str(device))
        if key not in self._cache:
            eps, scale = 1e-6, 2 * math.pi
            ys = torch.arange(1, height + 1, dtype=torch.float32, device=device)
            xs = torch.arange(1, width + 1, dtype=torch.float32, device=device)
            ys = ys / (height + eps) * scale
            xs = xs / (width + eps) * scale
            freqs = sine_frequencies(self.feats_per_axis, self.temperature, device)
            enc_y = interleave_sin_cos(ys[:, None] / freqs)  # (H, F)
            enc_x = interleave_sin_cos(xs[:, None] / freqs)  # (W, F)
            enc = torch.cat(
                (enc_y[:, None, :].expand(height, width, -1), enc_x[None, :, :].expand(height, width, -1)),
                dim=-1,
            )
            self._cache[key] = enc.permute(2, 0, 1).contiguous()
        return self._cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C', H, W) feature map -> (B, C, H, W) encoding of its grid, in float32 whatever x's
        dtype (positions stay exact under reduced precision)."""
        enc = self.grid(x.shape[-2], x.shape[-1], x.device)
        return enc[None].expand(x.shape[0], -1, -1, -1)


def sine_encoding_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """(...,) positions -> (..., dim): all sines, then all cosines (used for temporal positions)."""
    freqs = sine_frequencies(dim // 2, temperature, positions.device)
    angles = positions.unsqueeze(-1) / freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class RandomFourierEncoding(nn.Module):
    """Encodes normalised (x, y) coordinates with fixed random spatial frequencies (SAM's prompt PE)."""

    def __init__(self, num_feats: int, scale: float = 1.0) -> None:
        super().__init__()
        # A buffer, not a parameter: it is part of official checkpoints but never trained. A larger
        # scale gives higher spatial frequencies: finer localisation of clicks on small objects.
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn(2, num_feats))

    def encode(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) coordinates in [0, 1] -> (..., 2 * num_feats)."""
        angles = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        angles = 2 * math.pi * angles
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    def grid(self, height: int, width: int) -> torch.Tensor:
        """(C, H, W) encoding of the centres of an H x W grid's cells."""
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
        xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
        coords = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
        return self.encode(coords).permute(2, 0, 1)

    def encode_pixels(self, coords: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
        """(B, N, 2) (x, y) pixel coordinates in an image of size image_hw -> (B, N, C)."""
        height, width = image_hw
        scale = torch.tensor([width, height], dtype=torch.float32, device=coords.device)
        return self.encode(coords.float() / scale)
