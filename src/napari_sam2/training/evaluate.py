"""Evaluation: track objects with the engine's VideoTracker from first-frame prompts and score
them against ground truth with J&F, for several kinds of prompt."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.frames import ArrayFrames
from ..engine.video_tracker import VideoTracker
from ..model import SAM2Model
from .metrics import j_and_f
from .prompt_simulation import central_click

PROMPT_KINDS = ("1 click", "3 clicks", "box", "mask")


@dataclass(frozen=True)
class Score:
    kind: str
    j: float
    f: float
    num_objects: int

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


def prompt_first_frame(tracker: VideoTracker, kind: str, truths: dict[int, np.ndarray]) -> None:
    """Prompts every object on frame 0 the way a user would: a click at the centre; then up to
    two corrective clicks at the centre of the largest error; a tight box; or the mask itself."""
    for obj_id, truth in truths.items():
        first = truth[0]
        if kind == "mask":
            tracker.add_mask(0, obj_id, first)
        elif kind == "box":
            ys, xs = np.nonzero(first)
            tracker.add_box(0, obj_id, [xs.min(), ys.min(), xs.max(), ys.max()])
        else:
            _add_clicks(tracker, obj_id, first, 1 if kind == "1 click" else 3)


def _add_clicks(tracker: VideoTracker, obj_id: int, truth: np.ndarray, count: int) -> None:
    points, labels = [], []
    pred = None
    for _ in range(count):
        click = central_click(truth, pred)
        if click is None:
            break
        points.append(click[0])
        labels.append(click[1])
        result = tracker.add_points(0, obj_id, points, labels)
        pred = result.masks[obj_id]


def track_sequence(model: SAM2Model, frames: np.ndarray, truths: dict[int, np.ndarray], kind: str,
                   separate_memories: bool = True) -> dict[int, np.ndarray]:
    """frames (T, H, W[, C]); truths: object id -> (T, H, W) bool. Returns predicted masks."""
    frame_source = ArrayFrames(frames, channel_axis=3 if frames.ndim == 4 else None)
    tracker = VideoTracker(model, frame_source, separate_memories=separate_memories)
    prompt_first_frame(tracker, kind, truths)
    pred = {obj_id: np.zeros(truth.shape, bool) for obj_id, truth in truths.items()}
    for result in tracker.propagate(start=0):
        for obj_id, mask in result.masks.items():
            pred[obj_id][result.frame] = mask
    return pred


def evaluate_sequence(model, frames, truths, kinds=PROMPT_KINDS, separate_memories: bool = True) -> dict[str, list[tuple[float, float]]]:
    """Per prompt kind, the (J, F) of every object of one sequence."""
    scores = {}
    for kind in kinds:
        pred = track_sequence(model, frames, truths, kind, separate_memories)
        scores[kind] = [j_and_f(pred[i], truths[i]) for i in truths]
    return scores


def summarise(per_sequence: list[dict[str, list[tuple[float, float]]]]) -> list[Score]:
    table = []
    for kind in per_sequence[0]:
        pairs = [p for seq in per_sequence for p in seq[kind]]
        table.append(Score(kind, float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs])), len(pairs)))
    return table


def format_table(scores: list[Score]) -> str:
    lines = ["| prompt on frame 0 | J | F | J&F | objects |", "|---|---|---|---|---|"]
    lines += [f"| {s.kind} | {s.j:.3f} | {s.f:.3f} | {s.jf:.3f} | {s.num_objects} |" for s in scores]
    return "\n".join(lines)


def simulated_benchmark(model: SAM2Model, num_sequences: int = 20, num_frames: int = 32, min_cells: int = 5,
                        kinds=PROMPT_KINDS, first_seed: int | None = None, progress=None, config=None,
                        separate_memories: bool = True) -> list[Score]:
    """J&F on held-out simulated time-lapses (seeds from EVALUATION_SEEDS on, never trained on):
    every cell present in the first frame is an object; after a division its truth is the
    union of its descendants. `config`: a SimulationConfig (default: the simulator's defaults,
    128 x 128 frames); its number of frames is replaced by `num_frames`. `separate_memories`:
    the tracker's setting (see VideoTracker)."""
    from dataclasses import replace

    from .data import EVALUATION_SEEDS
    from .simulator import SimulationConfig, ground_truth_masks, simulate_timelapse

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
        per_sequence.append(evaluate_sequence(model, sim.frames, {i: truths[i] for i in ids}, kinds, separate_memories))
        if progress:
            progress(len(per_sequence), num_sequences)
    return summarise(per_sequence)
