"""The cells' size of a video, estimated (scale.estimate_cell_diameter) on its first frame, unless that
frame shows little more than noise or haze: then on the clearest of frames sampled through it."""
from __future__ import annotations

from typing import NamedTuple

from .model_inputs import PreprocessedFrames
from .preprocessing import Normalization, is_blank, to_unit_rgb
from .scale import clarity, diameter_to_use, estimate_cell_diameter, shows_more_than_noise
from .video_levels import sample_indices

# Objects measured wider than this share of the frame's shorter side are taken for haze, not cells:
# the smooth out-of-focus blobs of a z-stack's end slices can be as clear as its nuclei to Otsu (a
# held-out realistic simulated stack: clarity 0.76 on its first slice, objects 77 px across in a
# 192 px frame (0.34-0.40 of its side on its first slices), nuclei 19 px). A small crop of a few large
# cells (the tests' 96 x 128 px frames of 30 px nuclei: 0.33) only costs reading 16 frames: frame 0's
# measure stands when none of them shows smaller objects.
MAX_DIAMETER_SHARE = 0.3


class Measure(NamedTuple):
    frame: int
    clarity: float
    diameter: float | None  # None: no object to measure


def estimated_diameter(inputs: PreprocessedFrames) -> float:
    """The cells' diameter (px) measured on frame 0, unless it shows only noise or haze
    (scale.shows_more_than_noise: a z-stack's out-of-focus first slices, whose specks measured 4-6
    px where the nuclei are 30-40; a blank frame) or its objects are implausibly large
    (MAX_DIAMETER_SHARE); then on the clearest of 16 frames sampled evenly that passes both (read
    only then: a long lazy video is not read to start). If none does: frame 0's measure if it shows
    more than noise (large cells in a small frame), else the clearest frame's. Raises ValueError
    (saying why) if no frame looked at has an object to measure."""
    side = min(inputs.hw)
    first = measure(inputs, 0)
    if usable(first, side):
        return first.diameter
    measures = [first if i == 0 else measure(inputs, i) for i in sample_indices(len(inputs))]
    pool = [m for m in measures if usable(m, side)]
    if not pool and first.diameter is not None and shows_more_than_noise(first.clarity):
        return first.diameter
    pool = pool or [m for m in measures if m.diameter is not None]
    if not pool:  # measured again to say why: a constant image, or no object
        return diameter_to_use(None, inputs.picked(max(measures, key=lambda m: m.clarity).frame))
    return max(pool, key=lambda m: m.clarity).diameter


def usable(m: Measure, side: int) -> bool:
    return shows_more_than_noise(m.clarity) and m.diameter is not None and m.diameter <= MAX_DIAMETER_SHARE * side


def measure(inputs: PreprocessedFrames, frame: int) -> Measure:
    """A frame's clarity (scale.clarity, 0 for a blank frame) and its objects' diameter as the model sees it."""
    if is_blank(inputs.frames[frame]):
        return Measure(frame, 0.0, None)
    unit = to_unit_rgb(inputs.picked(frame), Normalization())[..., 0]
    try:
        diameter = estimate_cell_diameter(unit)
    except ValueError:
        diameter = None
    return Measure(frame, clarity(unit), diameter)
