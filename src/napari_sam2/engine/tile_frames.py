"""A video's frames as a tiled tracker's tiles see them: resampled to the cells' preferred size
(scale.py), then one tile of them as a VideoTracker's model inputs (tiled_tracker.py)."""
from __future__ import annotations

import threading

import torch

from .model_inputs import PreprocessedFrames
from .tile_handover import Tile
from .tiling import TilePlan, resample, tile_input


class ScaledFrames:
    """A video's frames resampled by a tile plan's factors, (1, 3, H', W') in [0, 1]. The last
    frame asked for is kept: every tile of a frame reads it, one after the other."""

    def __init__(self, inputs: PreprocessedFrames, plan: TilePlan):
        self.inputs, self.plan = inputs, plan
        self._last: tuple[int, torch.Tensor] | None = None
        self._lock = threading.Lock()  # a prefetch thread and a propagation may ask at once

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> torch.Tensor:
        with self._lock:
            if self._last is None or self._last[0] != index:
                self._last = (index, resample(self.inputs.unit_rgb(index), self.plan.scaled_hw))
            return self._last[1]

    def digest(self, index: int) -> str:
        return f"{self.inputs.digest(index)}-{self.plan.scaled_hw}"

    def blank(self, index: int) -> bool:
        """Whether the whole frame is blank (not one tile of it: a tile of background is no blank frame)."""
        return self.inputs.blank(index)


class TileFrames:
    """One tile of the scaled frames as model inputs (1, 3, S, S): what a VideoTracker reads."""

    def __init__(self, scaled: ScaledFrames, tile: Tile):
        self.scaled, self.tile = scaled, tile
        side = scaled.plan.tile
        self.hw = (side, side)

    def __len__(self) -> int:
        return len(self.scaled)

    def __getitem__(self, index: int) -> torch.Tensor:
        return tile_input(self.scaled[index], *self.tile, self.scaled.plan.tile)

    def digest(self, index: int) -> str:
        return f"{self.scaled.digest(index)}-{self.tile}"

    def blank(self, index: int) -> bool:
        return self.scaled.blank(index)
