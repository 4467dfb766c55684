import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from napari_sam2.model import SAM2Model  # noqa: E402
from tiny_config import MICRO_TEST_CONFIG  # noqa: E402


@pytest.fixture(scope="session")
def micro_model() -> SAM2Model:
    torch.manual_seed(0)
    return SAM2Model(MICRO_TEST_CONFIG).eval()


@pytest.fixture(scope="session")
def dividing_sequence():
    """A simulated time-lapse (30 frames, 128 px) with at least one division and cells entering."""
    from napari_sam2.simulation import SimulationConfig, simulate_timelapse

    config = SimulationConfig(num_frames=30, division_probability=0.06, enter_rate=0.1)
    for seed in range(20):
        sim = simulate_timelapse(config, seed=seed)
        if sim.lineage:
            return sim
    raise AssertionError("no simulated sequence with a division in 20 seeds")
