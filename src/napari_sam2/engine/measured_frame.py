"""Which frame of a video the cells' size is estimated on (scale.estimate_cell_diameter): the first,
unless it shows little more than noise or haze."""
from __future__ import annotations

import numpy as np

from .model_inputs import PreprocessedFrames
from .preprocessing import Normalization, is_blank, to_unit_rgb
from .scale import clarity, shows_more_than_noise
from .video_levels import sample_indices


def frame_to_measure(inputs: PreprocessedFrames) -> int:
    """The frame the cells' size is measured on: frame 0, unless it shows only noise or haze
    (scale.shows_more_than_noise: a z-stack's out-of-focus first slices, whose specks measured 4-6
    px where the nuclei are 30-40; a blank frame); then the clearest of 16 frames sampled evenly
    (read only then: a long lazy video is not read to start)."""
    if shows_more_than_noise(frame_clarity(inputs, 0)):
        return 0
    sampled = sample_indices(len(inputs))
    return sampled[int(np.argmax([frame_clarity(inputs, i) for i in sampled]))]


def frame_clarity(inputs: PreprocessedFrames, frame: int) -> float:
    """scale.clarity of a frame as the model sees it; 0 for a blank frame (no cell, and no stretch
    of it is possible)."""
    if is_blank(inputs.frames[frame]):
        return 0.0
    return clarity(to_unit_rgb(inputs.picked(frame), Normalization())[..., 0])

