"""What real fluorescence images of nuclei show beyond smooth textured ellipses (issue 19), added
to a rendered signal from its label image: nucleoli (dark spots) and bright chromatin speckles
inside nuclei, nuclei of widely varied brightness in one frame, a dim cytoplasm halo around each
nucleus (whole-cell stains), and an uneven background.

Every draw comes from its own generator (`appearance_rng`), never from the simulator's, so a
configuration with these features off (the defaults) gives the very same arrays as before they
existed. A cell's features are drawn from its id, so they follow it from frame to frame; they
sit at fixed fractions of its radius from its centroid (they do not turn with it)."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from .config import SimulationConfig

HALO_REACH = 0.7  # the cytoplasm halo reaches this many nucleus radii beyond the nucleus
NUCLEOLUS_SIZE = 0.16  # nucleolus Gaussian sigma, fraction of the nucleus radius
SPECKLE_SIZE = 0.06  # speckle Gaussian sigma, fraction of the nucleus radius (at least 0.7 px)


def appearance_on(config: SimulationConfig) -> bool:
    return (config.nucleoli_per_cell[1] > 0 or config.speckles_per_cell[1] > 0 or config.brightness_sigma > 0
            or config.halo_intensity > 0 or config.background_variation > 0)


def appearance_rng(seed: int, cell_id: int = 0) -> np.random.Generator:
    """The generator of a cell's features (cell_id 0: the background's), apart from the simulator's."""
    return np.random.default_rng((int(seed), 19, int(cell_id)))


def add_appearance(signal: np.ndarray, labels: np.ndarray, config: SimulationConfig, seed: int) -> None:
    """signal, labels (T, H, W): add the features of `config` to `signal` in place."""
    if not appearance_on(config):
        return
    background = uneven_background(signal.shape[1:], config, seed)
    features = {}
    for t in range(signal.shape[0]):
        for cell_id, where in enumerate(ndi.find_objects(labels[t]), start=1):
            if where is None:
                continue
            if cell_id not in features:
                features[cell_id] = CellFeatures(config, appearance_rng(seed, cell_id))
            features[cell_id].apply(signal[t], labels[t], cell_id, config)
        signal[t] += background


def uneven_background(hw: tuple[int, int], config: SimulationConfig, seed: int) -> np.ndarray:
    """(H, W) a smooth, non-negative field of mean `background_variation` (relative units)."""
    if config.background_variation <= 0:
        return np.zeros(hw, np.float32)
    noise = ndi.gaussian_filter(appearance_rng(seed).standard_normal(hw), sigma=max(hw) / 6, mode="reflect")
    field = 1.0 + noise / (noise.std() + 1e-9) * 0.6
    return (config.background_variation * np.clip(field, 0.0, None)).astype(np.float32)


class CellFeatures:
    """One nucleus' brightness factor, nucleoli and speckles (positions in radii from its centre)."""

    def __init__(self, config: SimulationConfig, rng: np.random.Generator):
        self.brightness = float(np.exp(rng.normal(0.0, config.brightness_sigma))) if config.brightness_sigma > 0 else 1.0
        self.nucleoli = _spots(rng, config.nucleoli_per_cell, 0.55)  # (n, 3): dy, dx in radii, strength
        self.speckles = _spots(rng, config.speckles_per_cell, 0.8)

    def apply(self, frame: np.ndarray, labels: np.ndarray, cell_id: int, config: SimulationConfig) -> None:
        """Onto frame (H, W) where labels (H, W) is cell_id, its soft edge and its halo (not onto
        other nuclei)."""
        mask = labels == cell_id
        ys, xs = np.nonzero(mask)
        cy, cx, radius = ys.mean(), xs.mean(), math.sqrt(len(ys) / math.pi)
        reach = int(math.ceil(radius * (1 + HALO_REACH))) + 3
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, frame.shape[0])
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, frame.shape[1])
        patch, inside, free = frame[y0:y1, x0:x1], mask[y0:y1, x0:x1], labels[y0:y1, x0:x1] == 0
        yy, xx = np.mgrid[y0:y1, x0:x1]
        level = float(patch[inside].mean())  # the nucleus' brightness here, before the features
        dark = np.zeros(patch.shape)
        for dy, dx, strength in self.nucleoli:
            dark = np.maximum(dark, strength * _blob(yy, xx, cy + dy * radius, cx + dx * radius, NUCLEOLUS_SIZE * radius))
        bright = np.zeros(patch.shape)
        for dy, dx, strength in self.speckles:
            sigma = max(SPECKLE_SIZE * radius, 0.7)
            bright += 2.0 * strength * _blob(yy, xx, cy + dy * radius, cx + dx * radius, sigma)
        nucleus = patch * (1.0 - 0.75 * dark) + level * bright * inside
        distance = ndi.distance_transform_edt(~inside)  # px from the nucleus
        halo = config.halo_intensity * level * np.clip(1.0 - distance / (HALO_REACH * radius), 0.0, 1.0)
        own = inside | (free & (distance <= max(HALO_REACH * radius if config.halo_intensity > 0 else 0.0, 3.0)))
        patch[own] = (self.brightness * (nucleus + halo * free))[own].astype(patch.dtype)


def _spots(rng: np.random.Generator, count_range: tuple[int, int], spread: float) -> np.ndarray:
    """(n, 3) spots: offsets (dy, dx) within `spread` radii of the centre, strength 0.5..1."""
    lo, hi = count_range
    n = int(rng.integers(lo, hi + 1)) if hi > 0 else 0
    r = spread * np.sqrt(rng.uniform(0, 1, n))
    angle = rng.uniform(0, 2 * math.pi, n)
    return np.stack([r * np.sin(angle), r * np.cos(angle), rng.uniform(0.5, 1.0, n)], axis=1)


def _blob(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, sigma: float) -> np.ndarray:
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma * sigma))
