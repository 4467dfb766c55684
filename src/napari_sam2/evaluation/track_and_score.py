"""Track and score: track objects with the engine's VideoTracker from first-frame prompts and
score them against ground truth with J&F, for several kinds of prompt; on held-out simulated
time-lapses (the model card's benchmark) or on given predictions (the CLI's `track --truth`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..engine import ArrayFrames, MaskCleanup, VideoTracker
from ..model import SAM2Model
from ..simulation import EVALUATION_SEEDS, SimulationConfig, ground_truth_masks, simulate_timelapse
from .metrics import j_and_f
from .prompts import PROMPT_KINDS, prompt_first_frame
from .scores import Score, mean_score


def track_sequence(model: SAM2Model, frames: np.ndarray, truths: dict[int, np.ndarray], kind: str,
                   separate_memories: bool = True, cleanup: MaskCleanup = MaskCleanup()) -> dict[int, np.ndarray]:
    """frames (T, H, W[, C]); truths: object id -> (T, H, W) bool. Returns predicted masks."""
    frame_source = ArrayFrames(frames, channel_axis=3 if frames.ndim == 4 else None)
    tracker = VideoTracker(model, frame_source, separate_memories=separate_memories, cleanup=cleanup)
    prompt_first_frame(tracker, kind, truths)
    pred = {obj_id: np.zeros(truth.shape, bool) for obj_id, truth in truths.items()}
    for result in tracker.propagate(start=0):
        for obj_id, mask in result.masks.items():
            pred[obj_id][result.frame] = mask
    return pred


def object_scores(predicted: dict[int, np.ndarray], truths: dict[int, np.ndarray]) -> list[Score]:
    """One score per object of `predicted` (id -> (T, H, W) bool), then their mean."""
    pairs = {obj_id: j_and_f(pred, truths[obj_id]) for obj_id, pred in predicted.items()}
    rows = [Score(str(obj_id), j, f, 1) for obj_id, (j, f) in pairs.items()]
    return rows + [mean_score("**mean**", list(pairs.values()))]


def evaluate_sequence(model, frames, truths, kinds=PROMPT_KINDS, separate_memories: bool = True,
                      cleanup: MaskCleanup = MaskCleanup()) -> dict[str, list[tuple[float, float]]]:
    """Per prompt kind, the (J, F) of every object of one sequence."""
    scores = {}
    for kind in kinds:
        pred = track_sequence(model, frames, truths, kind, separate_memories, cleanup)
        scores[kind] = [j_and_f(pred[i], truths[i]) for i in truths]
    return scores


def summarise(per_sequence: list[dict[str, list[tuple[float, float]]]]) -> list[Score]:
    """One score per prompt kind over every object of every sequence."""
    return [mean_score(kind, [p for seq in per_sequence for p in seq[kind]]) for kind in per_sequence[0]]


def simulated_benchmark(model: SAM2Model, num_sequences: int = 20, num_frames: int = 32, min_cells: int = 5,
                        kinds=PROMPT_KINDS, first_seed: int | None = None, progress=None, config=None,
                        separate_memories: bool = True, cleanup: MaskCleanup = MaskCleanup()) -> list[Score]:
    """J&F on held-out simulated time-lapses (seeds from EVALUATION_SEEDS on, never trained on):
    every cell present in the first frame is an object; after a division its truth is the
    union of its descendants. `config`: a SimulationConfig (default: the simulator's defaults,
    128 x 128 frames); its number of frames is replaced by `num_frames`. `separate_memories`
    and `cleanup`: the tracker's settings (see VideoTracker)."""
    config = replace(config or SimulationConfig(), num_frames=num_frames)
    if config.num_cells[1] < 1:
        raise ValueError(f"num_cells {config.num_cells} puts no cell in the first frame: nothing to track")
    min_cells = min(min_cells, config.num_cells[1])
    seed = EVALUATION_SEEDS if first_seed is None else first_seed
    per_sequence = []
    while len(per_sequence) < num_sequences:
        sim = simulate_timelapse(config, seed)
        seed += 1
        ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0]
        if len(ids) < min_cells:
            continue
        truths = ground_truth_masks(sim, ids)
        per_sequence.append(evaluate_sequence(model, sim.frames, {i: truths[i] for i in ids}, kinds, separate_memories,
                                              cleanup))
        if progress:
            progress(len(per_sequence), num_sequences)
    return summarise(per_sequence)
