"""Axial 2-D rotary position encoding (RoPE) for square token grids.

Channels are taken in adjacent pairs (2j, 2j+1); the first half of the pairs rotate with the
token's column x, the second half with its row y, at frequencies theta ** (-4j / dim).
A pair is a complex number, so a rotation is one complex product (one pass over the tensor).
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


def rotations(angles: torch.Tensor) -> torch.Tensor:
    """(N, dim / 2) angles -> (N, dim / 2) complex64 unit rotations e^(i * angle)."""
    return torch.polar(torch.ones_like(angles), angles)


def rotate(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rotate (..., R * N, dim) by (N, dim / 2) complex rotations, repeated over R grids of N
    tokens one after another (memories of several frames). Computed in float32 (position
    encodings stay exact under reduced precision), returned in x's dtype."""
    n, half = rotation.shape
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-2], -1, n, half, 2))  # (..., R, N, dim / 2)
    return torch.view_as_real(pairs * rotation).reshape(x.shape).to(x.dtype)


def rotate_(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """rotate, in place where x is float32 and no gradient is recorded (one pass: no rotated copy
    to write back; the memory attention's keys of many objects are larger than the CPU's caches);
    x must then be the caller's own (a fresh projection). Returns the rotated tensor."""
    if x.dtype != torch.float32 or torch.is_grad_enabled():
        return rotate(x, rotation)
    n, half = rotation.shape
    torch.view_as_complex(x.view(*x.shape[:-2], -1, n, half, 2)).mul_(rotation)
    return x


def apply_rope_2d(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate (..., N, dim) by (N, dim / 2) angles, computed in float32, returned in x's dtype."""
    return rotate(x, rotations(angles))
