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

from .preprocessing import imagenet_normalize
from .prompts import Prompt


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
    def length_factor(self) -> float:
        """Scaled pixels per original pixel along a length (the factors' geometric mean)."""
        fy, fx = self.factors
        return math.sqrt(fy * fx)

    @property
    def tiles(self) -> list[tuple[int, int]]:
        return [(top, left) for top in self.tops for left in self.lefts]

    def to_scaled(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) original (x, y) -> scaled (x, y)."""
        fy, fx = self.factors
        return (np.asarray(xy, np.float64) + 0.5) * np.array([fx, fy]) - 0.5

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) scaled (x, y) -> original (x, y): to_scaled's inverse."""
        fy, fx = self.factors
        return (np.asarray(xy, np.float64) + 0.5) / np.array([fx, fy]) - 0.5

    def tile_for(self, xy: np.ndarray, current: tuple[int, int] | None = None, keep: float = 0.0) -> tuple[int, int]:
        """The tile whose centre is nearest the centre of the (N, 2) original points' extent.
        With a `current` tile, along each axis it is kept unless another tile's centre is nearer
        by more than `keep` scaled px: an object moving along a tile border is not handed to
        and fro (keep <= 2 * halo still leaves it halo - keep / 2 from the current tile's edge)."""
        scaled = self.to_scaled(xy)
        cx, cy = (scaled.min(axis=0) + scaled.max(axis=0)) / 2
        now_top, now_left = current if current is not None else (None, None)
        return _nearest(self.tops, cy, self.tile, now_top, keep), _nearest(self.lefts, cx, self.tile, now_left, keep)

    def in_tile(self, xy: np.ndarray, top: int, left: int) -> np.ndarray:
        """Original (N, 2) points -> the tile's (x, y); refused if one falls outside the tile."""
        inside = self.to_scaled(xy) - np.array([left, top])
        if (inside < -0.5).any() or (inside > self.tile - 0.5).any():
            raise ValueError(f"the prompts of one object span more than one tile ({self.tile} px after resampling, "
                             f"{self.tile / self.factors[1]:.0f} px of the image); prompt a single cell, or give a "
                             "larger cell_diameter")
        return inside.astype(np.float32)

    def prompt_in_tile(self, prompt: Prompt, top: int, left: int):
        """A click/box prompt in the tile's coordinates: (points or None, labels or None, box or None)."""
        points = self.in_tile(prompt.points, top, left) if len(prompt.points) else None
        box = self.in_tile(prompt.box.reshape(2, 2), top, left).reshape(4) if prompt.box is not None else None
        return points, (prompt.labels if points is not None else None), box

    def mask_in_tile(self, mask: np.ndarray, top: int, left: int) -> np.ndarray:
        """(H, W) bool original mask -> (S, S) bool in the tile (nearest original pixel of each
        scaled pixel's centre); refused if the mask reaches outside the tile."""
        rows, cols = np.nonzero(mask)
        if len(rows):
            self.in_tile(np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]]), top, left)
        (fy, fx), (height, width) = self.factors, self.image_hw
        ys = np.arange(top, top + self.tile)
        xs = np.arange(left, left + self.tile)
        rows = np.clip(np.floor((ys + 0.5) / fy).astype(int), 0, height - 1)
        cols = np.clip(np.floor((xs + 0.5) / fx).astype(int), 0, width - 1)
        out = mask[np.ix_(rows, cols)].copy()
        out[ys >= self.scaled_hw[0]] = False  # the padding past the scaled image
        out[:, xs >= self.scaled_hw[1]] = False
        return out


def prompt_extent(prompt: Prompt) -> np.ndarray:
    """(N, 2) original (x, y) points a click/box prompt covers: its clicks and its box's corners."""
    xy = np.concatenate([prompt.points] + ([prompt.box.reshape(2, 2)] if prompt.box is not None else []))
    if len(xy) == 0:
        raise ValueError("give points or a box: the tiled predictor and tracker need a place to decode")
    return xy


def plan_tiles(image_hw: tuple[int, int], factor: float, tile: int, halo: int) -> TilePlan:
    """Tiles covering the image resampled by `factor`, consecutive ones overlapping by at least
    2 * halo, so that any point is at least `halo` from the inner edges of the nearest tile."""
    if not 0 <= 2 * halo < tile:
        raise ValueError(f"a halo of {halo} px leaves nothing of a {tile} px tile")
    scaled_hw = tuple(max(1, round(n * factor)) for n in image_hw)
    return TilePlan(tuple(image_hw), scaled_hw, tile, halo, *(_starts(n, tile, tile - 2 * halo) for n in scaled_hw))


def _nearest(starts: tuple[int, ...], centre: float, tile: int, current: int | None, keep: float) -> int:
    """The start of the tile (along one axis) whose centre is nearest `centre`, or `current`
    unless that one is nearer by more than `keep`."""
    best = min(starts, key=lambda s: abs(s + tile / 2 - centre))
    if current is not None and abs(current + tile / 2 - centre) - abs(best + tile / 2 - centre) <= keep:
        return current
    return best


def _starts(length: int, tile: int, stride: int) -> tuple[int, ...]:
    if length <= tile:
        return (0,)
    count = math.ceil((length - tile) / stride) + 1
    return tuple(int(round(v)) for v in np.linspace(0, length - tile, count))


def cut_tile(scaled: torch.Tensor, top: int, left: int, tile: int) -> torch.Tensor:
    """(1, C, H', W') -> (1, C, S, S), zero-padded past the scaled image's bottom and right."""
    piece = scaled[..., top:top + tile, left:left + tile]
    return F.pad(piece, (0, tile - piece.shape[-1], 0, tile - piece.shape[-2]))


def tile_input(scaled: torch.Tensor, top: int, left: int, tile: int) -> torch.Tensor:
    """(1, 3, H', W') in [0, 1] -> the tile's (1, 3, S, S) model input."""
    return imagenet_normalize(cut_tile(scaled, top, left, tile))


def resample(unit: np.ndarray, scaled_hw: tuple[int, int]) -> torch.Tensor:
    """(H, W, 3) float image in [0, 1] -> (1, 3, H', W') resampled (bilinear, antialiased)."""
    tensor = torch.from_numpy(np.ascontiguousarray(unit.transpose(2, 0, 1)))[None]
    return F.interpolate(tensor, size=scaled_hw, mode="bilinear", align_corners=False, antialias=True)


def shift_to_tile(tile_map: torch.Tensor, source: tuple[int, int], target: tuple[int, int], fill: float) -> torch.Tensor:
    """(S, S) values of the tile at `source` (top, left) -> the same scaled pixels seen from the
    tile at `target`, `fill` where the source tile does not reach. Tiles are on one scaled grid,
    so this is a whole-pixel shift: nothing is resampled."""
    side = tile_map.shape[-1]
    dy, dx = target[0] - source[0], target[1] - source[1]
    out = torch.full_like(tile_map, fill)
    if abs(dy) >= side or abs(dx) >= side:
        return out
    ys, xs = slice(max(0, -dy), min(side, side - dy)), slice(max(0, -dx), min(side, side - dx))
    out[ys, xs] = tile_map[ys.start + dy:ys.stop + dy, xs.start + dx:xs.stop + dx]
    return out


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
