"""Axial 2-D rotary position encoding (RoPE) for square token grids.

Channels are taken in adjacent pairs (2j, 2j+1); the first half of the pairs rotate with the
token's column x, the second half with its row y, at frequencies theta ** (-4j / dim).
"""
from __future__ import annotations

import torch


def rope_angles_2d(dim: int, width: int, height: int, theta: float = 10000.0) -> torch.Tensor:
    """(width * height, dim / 2) rotation angles for a row-major grid of tokens."""
    quarter = dim // 4
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 4)[:quarter].float() / dim))  # (dim / 4,)
    index = torch.arange(width * height, dtype=torch.float32)
    xs = index % width
    ys = torch.div(index, width, rounding_mode="floor")
    return torch.cat([torch.outer(xs, freqs), torch.outer(ys, freqs)], dim=-1)


def apply_rope_2d(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate (..., N, dim) by (N, dim / 2) angles, computed in float32, returned in x's dtype."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    real, imag = pairs[..., 0], pairs[..., 1]
    cos, sin = angles.cos(), angles.sin()
    rotated = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)
    return rotated.flatten(-2).type_as(x)
