"""The tile plan of a resampled image: square tiles of the model's input size that overlap by
twice a halo, which tile holds a prompt, and the way back from a tile's masks to the original
image's pixels.

Coordinates: "original" is the user's image (H, W); "scaled" is that image resampled by the
plan's factors (H', W'); a tile is S x S scaled pixels from (top, left), zero-padded where it
passes the scaled image's edge (only when the scaled image is smaller than S). Points are
continuous (x, y) with pixel i's centre at i, as the model reads them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class TilePlan:
    image_hw: tuple[int, int]  # original (H, W)
    scaled_hw: tuple[int, int]  # resampled (H', W')
    tile: int  # S: the model's input side
    halo: int  # a prompt is at least this far (scaled px) from the inner edges of its tile
    tops: tuple[int, ...]  # tile rows' first scaled row
    lefts: tuple[int, ...]  # tile columns' first scaled column

    @property
    def factors(self) -> tuple[float, float]:
        """(fy, fx): scaled pixels per original pixel."""
        return self.scaled_hw[0] / self.image_hw[0], self.scaled_hw[1] / self.image_hw[1]

    @property
    def tiles(self) -> list[tuple[int, int]]:
        return [(top, left) for top in self.tops for left in self.lefts]

    def to_scaled(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) original (x, y) -> scaled (x, y)."""
        fy, fx = self.factors
        return (np.asarray(xy, np.float64) + 0.5) * np.array([fx, fy]) - 0.5

    def tile_for(self, xy: np.ndarray) -> tuple[int, int]:
        """The tile whose centre is nearest the centre of the (N, 2) original points' extent."""
        scaled = self.to_scaled(xy)
        cx, cy = (scaled.min(axis=0) + scaled.max(axis=0)) / 2
        top = min(self.tops, key=lambda t: abs(t + self.tile / 2 - cy))
        left = min(self.lefts, key=lambda t: abs(t + self.tile / 2 - cx))
        return top, left


def plan_tiles(image_hw: tuple[int, int], factor: float, tile: int, halo: int) -> TilePlan:
    """Tiles covering the image resampled by `factor`, consecutive ones overlapping by at least
    2 * halo, so that any point is at least `halo` from the inner edges of the nearest tile."""
    if not 0 <= 2 * halo < tile:
        raise ValueError(f"a halo of {halo} px leaves nothing of a {tile} px tile")
    scaled_hw = tuple(max(1, round(n * factor)) for n in image_hw)
    return TilePlan(tuple(image_hw), scaled_hw, tile, halo, *(_starts(n, tile, tile - 2 * halo) for n in scaled_hw))


def _starts(length: int, tile: int, stride: int) -> tuple[int, ...]:
    if length <= tile:
        return (0,)
    count = math.ceil((length - tile) / stride) + 1
    return tuple(int(round(v)) for v in np.linspace(0, length - tile, count))


def cut_tile(scaled: torch.Tensor, top: int, left: int, tile: int) -> torch.Tensor:
    """(1, C, H', W') -> (1, C, S, S), zero-padded past the scaled image's bottom and right."""
    piece = scaled[..., top:top + tile, left:left + tile]
    return F.pad(piece, (0, tile - piece.shape[-1], 0, tile - piece.shape[-2]))


@dataclass(frozen=True)
class LocalLogits:
    """Logits of a tile, brought back to the original pixels it covers."""

    box: tuple[int, int, int, int]  # (y0, y1, x0, x1) original pixels, end exclusive
    logits: torch.Tensor  # (M, y1 - y0, x1 - x0) float32

    def full(self, image_hw: tuple[int, int], fill: float = -math.inf) -> torch.Tensor:
        """(M, H, W): the logits in place, `fill` outside the tile."""
        y0, y1, x0, x1 = self.box
        out = torch.full((self.logits.shape[0], *image_hw), fill, dtype=torch.float32)
        out[:, y0:y1, x0:x1] = self.logits
        return out


def tile_logits_to_original(logits: torch.Tensor, plan: TilePlan, top: int, left: int) -> LocalLogits:
    """(M, S, S) logits of the tile at (top, left) -> the original pixels inside the scaled image's
    part of the tile, each sampled (bilinear) at its centre's place in the tile."""
    (fy, fx), (H, W) = plan.factors, plan.image_hw
    valid_h, valid_w = min(plan.tile, plan.scaled_hw[0] - top), min(plan.tile, plan.scaled_hw[1] - left)
    y0, y1 = _covered(top, valid_h, fy, H)
    x0, x1 = _covered(left, valid_w, fx, W)
    ys = ((torch.arange(y0, y1) + 0.5) * fy - 0.5 - top).clamp(0, valid_h - 1)
    xs = ((torch.arange(x0, x1) + 0.5) * fx - 0.5 - left).clamp(0, valid_w - 1)
    side = max(plan.tile - 1, 1)
    grid = torch.stack(torch.meshgrid(2 * xs / side - 1, 2 * ys / side - 1, indexing="xy"), dim=-1)  # (h, w, 2)
    sampled = F.grid_sample(logits.float()[None], grid[None].float(), mode="bilinear", align_corners=True)
    return LocalLogits((y0, y1, x0, x1), sampled[0])


def _covered(start: int, valid: int, factor: float, length: int) -> tuple[int, int]:
    """Original pixels whose centres fall in scaled [start - 0.5, start + valid - 0.5]."""
    first = max(0, math.ceil(start / factor - 0.5))
    end = min(length, math.floor((start + valid) / factor - 0.5) + 1)
    return first, max(first, end)
