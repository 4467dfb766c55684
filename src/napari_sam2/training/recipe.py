"""The interactive training recipe of the paper, as a plan drawn per sequence.

A single image (the pre-training stage, as SAM 2 was first trained on images) always gets a
click or a box, then corrective clicks.

Per 8-frame sequence: 1 or 2 prompted ("initial conditioning") frames, the first always
among them; with probability 0.5 their prompt is the ground-truth mask, otherwise a click
(0.25) or a box (0.25); with clicks or boxes, up to 2 frames (the prompted ones first) get 7
corrective clicks each, sampled from the model's errors.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RecipeConfig:
    num_frames: int = 8
    max_prompted_frames: int = 2
    prob_mask_prompt: float = 0.5
    prob_box_given_not_mask: float = 0.5
    max_corrected_frames: int = 2
    corrections_per_frame: int = 7
    prob_correction_from_gt: float = 0.1  # a click drawn from the ground truth, not the errors
    # Not in the paper: tracked frames' memories keep only the pixels each object wins among the
    # sequence's objects, as the engine's VideoTracker does by default (the same default here, so
    # that a model learns the memories it will be tracked with; tests/test_training.py checks it).
    separate_memories: bool = True


@dataclass(frozen=True)
class SequencePlan:
    prompted: list[int]  # first is frame 0
    prompt_kind: str  # "mask", "click" or "box"
    corrected: list[int]  # frames that get corrective clicks (prompted ones first)

    @property
    def order(self) -> list[int]:
        """Prompted frames first, then the others in time order (as in the reference)."""
        return self.prompted + [t for t in range(self.num_frames) if t not in self.prompted]

    num_frames: int = 8


def draw_plan(cfg: RecipeConfig, num_frames: int, generator: torch.Generator) -> SequencePlan:
    def rand() -> float:
        return float(torch.rand((), generator=generator))

    def choose(pool: list[int], k: int) -> list[int]:
        picks = torch.randperm(len(pool), generator=generator)[:k].tolist()
        return [pool[i] for i in picks]

    num_prompted = int(torch.randint(1, cfg.max_prompted_frames + 1, (), generator=generator)) if num_frames > 1 else 1
    prompted = [0] + choose(list(range(1, num_frames)), num_prompted - 1)
    if num_frames > 1 and rand() < cfg.prob_mask_prompt:  # a single image always gets clicks or a box
        return SequencePlan(prompted, "mask", [], num_frames)
    kind = "box" if rand() < cfg.prob_box_given_not_mask else "click"
    num_corrected = max(num_prompted, int(torch.randint(num_prompted, cfg.max_corrected_frames + 1, (), generator=generator)))
    others = [t for t in range(num_frames) if t not in prompted]
    corrected = prompted + choose(others, num_corrected - num_prompted)
    return SequencePlan(prompted, kind, corrected, num_frames)
