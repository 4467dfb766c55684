"""Held-out simulated time-lapses the tests of automatic cell tracking share."""
from dataclasses import replace

from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

QUIET = SimulationConfig(height=96, width=96, num_frames=8, division_probability=0.0, enter_rate=0.0)
DIVIDING = replace(QUIET, num_frames=16, division_probability=0.15, division_min_age=3, num_cells=(3, 5))


def first_sequence(config: SimulationConfig, wanted, tries: int = 40):
    """The first held-out time-lapse of `config` (from EVALUATION_SEEDS + 700) that has what `wanted` asks."""
    for seed in range(EVALUATION_SEEDS + 700, EVALUATION_SEEDS + 700 + tries):
        sim = simulate_timelapse(config, seed)
        if wanted(sim):
            return sim
    raise AssertionError(f"no held-out sequence of {config} in {tries} seeds has what the test needs")
