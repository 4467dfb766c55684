"""What automatic cell tracking (cell_tracker.py) hands out: one finished frame, or an earlier
frame revised (new cells tracked back onto it, backward_cells.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CellFrame:
    """One finished frame of automatic tracking."""

    frame: int
    labels: np.ndarray  # (H, W) uint32 label image of this frame, one id per track
    started: tuple[int, ...]  # tracks that begin on this frame (new cells and daughters)
    ended: tuple[int, ...]  # tracks found ended on this frame: divided parents (last frame: the one
    # before) and tracks absent end_after frames in a row (last frame: lineage.tracks[id].end)
    again: bool = False  # a frame handed out before, revised (new cells tracked back onto it): its
    # labels replace those handed out then; `started` are the tracks that begin on it now
