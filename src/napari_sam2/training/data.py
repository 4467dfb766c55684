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
from ..simulation import TRAINING_SEEDS, SimulationConfig, ground_truth_masks, simulate_timelapse, simulate_zstack

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


def augment_intensities(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """frames (T, H, W) -> float32 in [0, 1] with one random gamma (0.6 to 1.6), Gaussian blur
    (sigma 0 to 1.5 px) and extra Gaussian noise (up to 6% of the range) for the whole sequence:
    other optics and cameras than the simulator's. (Brightness and contrast need no augmenting:
    preprocessing stretches every frame between its percentiles.)"""
    from scipy import ndimage

    lo, hi = np.percentile(frames, (0.5, 99.8))
    unit = np.clip((frames.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    gamma, sigma, noise = rng.uniform(0.6, 1.6), rng.uniform(0.0, 1.5), rng.uniform(0.0, 0.06)
    unit = ndimage.gaussian_filter(unit ** gamma, sigma=(0, sigma, sigma))
    return (unit + rng.normal(0.0, noise, unit.shape)).astype(np.float32)


ZSTACK_SLICES = 24  # slices of a simulated z-stack drawn for a run through it


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
    masks of moving cells lag behind and shrink over long time-lapses).

    `augment`: random gamma, blur and noise per sequence (augment_intensities).

    `zstack_fraction`: this fraction of sequences are runs of slices through a simulated z-stack
    (one direction, every s-th slice), from a slice where the objects are to beyond their ends:
    the model learns to answer "no object" where a nucleus is absent.

    `mixed_config`, `mixed_fraction`: this fraction of sequences is simulated with
    `mixed_config` instead of `config` (e.g. realistic images among default ones, so that a
    fine-tune learns the new without forgetting the old). None of these draws anything from the
    random stream when off (nor the mix at fraction 0 or 1), so earlier runs repeat exactly."""

    def __init__(self, config=None, seed_offset: int = 0, warmup_frames: int = 0, max_frame_step: int = 1,
                 frame_sides: tuple[int, ...] = FRAME_SIDES, augment: bool = False, zstack_fraction: float = 0.0,
                 mixed_config: SimulationConfig | None = None, mixed_fraction: float = 0.0):
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
        for name, fraction in (("zstack_fraction", zstack_fraction), ("mixed_fraction", mixed_fraction)):
            if not 0.0 <= fraction <= 1.0:
                raise ValueError(f"{name} is a fraction from 0 to 1, got {fraction}")
        if mixed_fraction > 0 and mixed_config is None:
            raise ValueError(f"mixed_fraction {mixed_fraction} needs a mixed_config to draw those sequences from")
        self.augment = augment
        self.zstack_fraction = zstack_fraction
        self.mixed_config, self.mixed_fraction = mixed_config, mixed_fraction

    def sample(self, num_frames: int, max_objects: int, size: int, rng: np.random.Generator) -> Sample:
        config = self._config_drawn(rng)
        if self.zstack_fraction > 0 and rng.random() < self.zstack_fraction:
            frames, masks = self._zstack_run(config, num_frames, max_objects, rng)
        else:
            frames, masks = self._timelapse(config, num_frames, max_objects, rng)
        if self.augment:
            frames = augment_intensities(frames, rng)
        return to_sample(frames, masks, size, rng)

    def _config_drawn(self, rng: np.random.Generator) -> SimulationConfig:
        """The simulator settings of one sequence: `mixed_config` for `mixed_fraction` of them."""
        if self.mixed_fraction >= 1.0:
            return self.mixed_config
        if self.mixed_fraction > 0 and rng.random() < self.mixed_fraction:
            return self.mixed_config
        return self.config

    def _timelapse(self, config: SimulationConfig, num_frames: int, max_objects: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """frames (T, H, W) and masks (K, T, H, W) of a simulated time-lapse."""
        while True:
            seed = self.seed_offset + int(rng.integers(TRAINING_SEEDS))
            height, width = (int(rng.choice(self.frame_sides)) for _ in range(2))
            # no draw without frame steps: earlier runs' random streams, and so their stages, repeat exactly
            step = int(rng.integers(1, self.max_frame_step + 1)) if self.max_frame_step > 1 else 1
            kept = slice(self.warmup_frames, None, step)
            sized = replace(config, num_frames=self.warmup_frames + (num_frames - 1) * step + 1, height=height, width=width)
            sim = simulate_timelapse(sized, seed)
            ids = pick_objects(sim.labels[self.warmup_frames], max_objects, rng)
            if ids:
                truth = ground_truth_masks(sim, ids, first_frame=self.warmup_frames)
                return sim.frames[kept], np.stack([truth[i][::step] for i in ids])

    def _zstack_run(self, config: SimulationConfig, num_frames: int, max_objects: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """frames (T, H, W) and masks (K, T, H, W): every s-th slice of a simulated z-stack, up or
        down from a slice where a nucleus is, about half of them past its end (with the other nuclei of that slice)."""
        span_error = f"{num_frames} frames every {self.max_frame_step} slices do not fit in {ZSTACK_SLICES} slices"
        if (num_frames - 1) * self.max_frame_step >= ZSTACK_SLICES:
            raise ValueError(span_error)
        while True:
            seed = self.seed_offset + int(rng.integers(TRAINING_SEEDS))
            height, width = (int(rng.choice(self.frame_sides)) for _ in range(2))
            step = int(rng.integers(1, self.max_frame_step + 1))
            sim = simulate_zstack(replace(config, num_frames=ZSTACK_SLICES, height=height, width=width), seed)
            labels = sim.labels[::-1] if rng.random() < 0.5 else sim.labels  # down or up the stack
            cells = [int(i) for i in np.unique(labels) if i]
            if not cells:
                continue
            last = int(np.flatnonzero((labels == rng.choice(cells)).any(axis=(1, 2))).max())  # the nucleus' end
            span = (num_frames - 1) * step
            start = int(rng.integers(max(last - 2 * span, 0), last + 1))  # about half the runs pass the end
            slices = np.arange(start, start + span + 1, step)
            if slices[-1] >= ZSTACK_SLICES:
                continue
            ids = pick_objects(labels[start], max_objects, rng)
            if ids:
                frames = sim.frames[::-1] if labels is not sim.labels else sim.frames
                return frames[slices], np.stack([labels[slices] == i for i in ids])


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
