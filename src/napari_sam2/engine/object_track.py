"""What the tracker keeps for one object: its prompts and the outputs its memory can still use."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class FrameOutput:
    """One object's result on one frame, as the memory bank needs it."""

    low_res_logits: torch.Tensor  # (1, 1, 4h, 4w) float32
    pointer: torch.Tensor  # (1, C)
    object_score: torch.Tensor  # (1, 1) logit
    memory: torch.Tensor | None = None  # (1, mem_dim, h, w) bfloat16, once encoded


@dataclass
class PointPrompt:
    coords: torch.Tensor  # (1, N, 2) (x, y) in model-input pixels; box corners first
    labels: torch.Tensor  # (1, N) int32: 1 positive, 0 negative, 2/3 box corners


@dataclass
class ObjectTrack:
    obj_id: int
    points: dict[int, PointPrompt] = field(default_factory=dict)
    masks: dict[int, torch.Tensor] = field(default_factory=dict)  # frame -> (1, 1, S, S) {0, 1}
    pending: dict[int, FrameOutput] = field(default_factory=dict)  # prompted, memory not yet encoded
    conditioning: dict[int, FrameOutput] = field(default_factory=dict)  # prompted frames
    tracked: dict[int, FrameOutput] = field(default_factory=dict)  # propagated frames still usable
    directions: dict[int, int] = field(default_factory=dict)  # frame -> direction it was tracked in

    @property
    def prompted_frames(self) -> set[int]:
        return set(self.points) | set(self.masks)

    def latest_output(self, frame: int) -> FrameOutput | None:
        """The freshest output on a frame: a new prompt's, else the conditioning, else tracked one."""
        return self.pending.get(frame) or self.conditioning.get(frame) or self.tracked.get(frame)

    def prune(self, keep: range) -> None:
        """Forget tracked outputs outside `keep` (the window the next frames can still use)."""
        for frame in [f for f in self.tracked if f not in keep]:
            del self.tracked[frame]
