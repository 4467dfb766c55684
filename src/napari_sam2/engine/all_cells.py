"""Every cell of a stack tracked in one call: automatic tracking (cell_tracker.py) run to the end,
its frames gathered."""
from __future__ import annotations

import numpy as np

from ..model import SAM2Model
from .cell_lineage import Lineage
from .cell_tracker import CellTracker


def track_all_cells(model: SAM2Model, frames, **kwargs) -> tuple[np.ndarray, Lineage]:
    """Every cell of frames tracked: ((T, H, W) uint32 labels, one id per track; the lineage).
    kwargs go to CellTracker (params, seeds, normalization, precision, divisions, channels, cell_diameter,
    z_stack)."""
    tracker = CellTracker(model, frames, **kwargs)
    labels = np.zeros((tracker.num_frames, *tracker.video.video_hw), np.uint32)
    for finished in tracker.run():
        labels[finished.frame] = finished.labels
    return labels, tracker.lineage
