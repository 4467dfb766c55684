"""Frame 0 of held-out simulated time-lapses (simulator defaults) with its cells: the data the
single-image accuracy tests score clicks and boxes on."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from napari_sam2.evaluation import central_click
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


def held_out_first_frames(sequences: int) -> Iterator[tuple[np.ndarray, list[tuple[np.ndarray, tuple[float, float]]]]]:
    """Per sequence: its (H, W) frame 0 and, per cell, the cell's (H, W) mask and the (x, y) click
    at its centre."""
    config = SimulationConfig(num_frames=1)
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + sequences):
        sim = simulate_timelapse(config, seed)
        truths = [sim.labels[0] == cell for cell in np.unique(sim.labels[0]) if cell]
        yield sim.frames[0], [(truth, central_click(truth)[0]) for truth in truths]
