"""Training sequences: simulated time-lapses, or a user's image stack with its label stack.

A sample is K objects followed through T frames: preprocessed frames (T, 3, S, S) and their
ground truth (K, T, S, S) at the model's input size. Every object is present in the first
frame; after a division its ground truth is the union of its descendants.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.preprocessing import Normalization, preprocess
from ..simulation import TRAINING_SEEDS, SimulationConfig, ground_truth_masks, simulate_timelapse

MIN_OBJECT_PIXELS = 20  # smaller objects are not clickable targets


@dataclass
class Sample:
    frames: torch.Tensor  # (T, 3, S, S) float32
    masks: torch.Tensor  # (K, T, S, S) bool


class SequenceSource(Protocol):
    def sample(self, num_frames: int, max_objects: int, size: int, rng: np.random.Generator) -> Sample: ...


def to_sample(frames: np.ndarray, masks: np.ndarray, size: int, rng: np.random.Generator, norm=Normalization()) -> Sample:
    """frames (T, H, W[, C]), masks (K, T, H, W) bool -> Sample at model size, randomly flipped
    and rotated (microscopy has no preferred orientation)."""
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))

    def augment(a: np.ndarray, axes: tuple[int, int]) -> np.ndarray:
        a = np.rot90(a, k, axes=axes)
        return np.flip(a, axis=axes[1]) if flip else a

    frames = augment(frames, (1, 2))
    masks = augment(masks, (2, 3))
    tensor = torch.cat([preprocess(np.ascontiguousarray(f), size, norm=norm)[0] for f in frames])
    gt = torch.from_numpy(np.ascontiguousarray(masks)).float()
    gt = F.interpolate(gt, size=(size, size), mode="nearest") > 0.5
    return Sample(tensor, gt)


def pick_objects(first_labels: np.ndarray, max_objects: int, rng: np.random.Generator) -> list[int]:
    ids, counts = np.unique(first_labels[first_labels > 0], return_counts=True)
    ids = ids[counts >= MIN_OBJECT_PIXELS]
    if len(ids) == 0:
        return []
    return sorted(rng.choice(ids, size=min(max_objects, len(ids)), replace=False).tolist())


FRAME_SIDES = (128, 160, 192, 224, 256)  # varied, so that cells come at varied scales after resizing


class SimulatedSequences:
    """Fresh simulated time-lapses of varied frame sizes; `seed_offset` shifts the seeds.

    `warmup_frames`: frames simulated before the sequence starts, so that short sequences
    also show what only happens to cells that have lived a while (a division takes
    `division_frames` from its start to the split, so without a warm-up a 4-frame sequence
    never shows a split).

    `frame_sides`: the frame heights and widths to draw from (each side drawn on its own); every
    frame is resized to the model's input, so larger frames show smaller cells to the model.

    `max_frame_step`: each sequence keeps every s-th simulated frame, s drawn from
    1..max_frame_step, so cells move and grow up to that many times faster between frames than
    the simulator's own rates. A short sequence of slow cells can be tracked by keeping last
    frame's mask where it was; faster ones teach the model to follow the cell (without it,
    masks of moving cells lag behind and shrink over long time-lapses)."""

    def __init__(self, config=None, seed_offset: int = 0, warmup_frames: int = 0, max_frame_step: int = 1,
                 frame_sides: tuple[int, ...] = FRAME_SIDES):
        if warmup_frames < 0:
            raise ValueError(f"warmup_frames must be 0 or more, got {warmup_frames}")
        if max_frame_step < 1:
            raise ValueError(f"max_frame_step must be 1 or more, got {max_frame_step}")
        if not frame_sides or min(frame_sides) < 32:
            raise ValueError(f"frame_sides must be a non-empty list of sides of 32 px or more, got {tuple(frame_sides)}")
        self.config = config or SimulationConfig()
        self.seed_offset = seed_offset
        self.warmup_frames = warmup_frames
        self.max_frame_step = max_frame_step
        self.frame_sides = tuple(int(side) for side in frame_sides)

    def sample(self, num_frames: int, max_objects: int, size: int, rng: np.random.Generator) -> Sample:
        while True:
            seed = self.seed_offset + int(rng.integers(TRAINING_SEEDS))
            height, width = (int(rng.choice(self.frame_sides)) for _ in range(2))
            # no draw without frame steps: earlier runs' random streams, and so their stages, repeat exactly
            step = int(rng.integers(1, self.max_frame_step + 1)) if self.max_frame_step > 1 else 1
            kept = slice(self.warmup_frames, None, step)
            config = replace(self.config, num_frames=self.warmup_frames + (num_frames - 1) * step + 1, height=height, width=width)
            sim = simulate_timelapse(config, seed)
            ids = pick_objects(sim.labels[self.warmup_frames], max_objects, rng)
            if ids:
                truth = ground_truth_masks(sim, ids, first_frame=self.warmup_frames)
                masks = np.stack([truth[i][::step] for i in ids])
                return to_sample(sim.frames[kept], masks, size, rng)


class LabelledStack:
    """A user's annotated time-lapse: images (T, H, W) or (T, H, W, C) and labels (T, H, W),
    numpy, zarr or TIFF-backed arrays. Windows of frames are drawn at random; an object is one
    label value, followed while it keeps its value."""

    def __init__(self, images, labels):
        images_shape, labels_shape = tuple(images.shape), tuple(labels.shape)
        if images_shape[:3] != labels_shape or len(labels_shape) != 3:
            raise ValueError(
                f"the label stack has shape {labels_shape} but the images have {images_shape}; "
                "they need the same (T, H, W) (images may add a last channel axis)"
            )
        self.images, self.labels = images, labels
        self.frames_with_objects = [t for t in range(labels_shape[0]) if np.asarray(labels[t]).max() > 0]
        if not self.frames_with_objects:
            raise ValueError("the label stack has no objects (every value is 0): label at least one object to train on")

    def sample(self, num_frames: int, max_objects: int, size: int, rng: np.random.Generator) -> Sample:
        total = self.labels.shape[0]
        num_frames = min(num_frames, total)
        starts = [t for t in self.frames_with_objects if t + num_frames <= total] or [max(0, total - num_frames)]
        start = int(rng.choice(starts))
        labels = np.asarray(self.labels[start : start + num_frames])
        ids = pick_objects(labels[0], max_objects, rng) or sorted(np.unique(labels[0][labels[0] > 0]).tolist())[:max_objects]
        if not ids:
            return self.sample(num_frames, max_objects, size, rng)
        masks = np.stack([labels == i for i in ids])
        return to_sample(np.asarray(self.images[start : start + num_frames]), masks, size, rng)
