"""A simulator of fluorescence microscopy with ground truth and lineage (numpy and scipy only:
no torch, napari or Qt): time-lapses of moving, dividing nuclei and z-stacks."""
from .config import Simulation, SimulationConfig, realistic_config
from .lineage import descendants, family_masks, ground_truth_masks, read_lineage, write_lineage
from .seeds import EVALUATION_SEEDS, TRAINING_SEEDS
from .simulator import simulate_timelapse, simulate_zstack

__all__ = [
    "EVALUATION_SEEDS", "Simulation", "SimulationConfig", "TRAINING_SEEDS", "descendants", "family_masks",
    "ground_truth_masks", "read_lineage", "realistic_config", "simulate_timelapse", "simulate_zstack", "write_lineage",
]
