"""Small synthetic fluorescence images for tests: bright blobs (nuclei) on a dark, noisy background."""
from __future__ import annotations

import numpy as np


def nuclei_image(height: int = 240, width: int = 320, num: int = 6, seed: int = 0, dtype=np.uint16):
    """Returns (image, labels): elliptical nuclei with texture, blur-like falloff and Poisson-
    Gaussian noise; labels (H, W) int32 with 0 = background, 1..num the nuclei."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    signal = np.zeros((height, width), np.float32)
    labels = np.zeros((height, width), np.int32)
    margin = 30
    for i in range(1, num + 1):
        cy, cx = rng.uniform(margin, height - margin), rng.uniform(margin, width - margin)
        ry, rx = rng.uniform(10, 20), rng.uniform(10, 20)
        angle = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / rx
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / ry
        r2 = u**2 + v**2
        inside = r2 <= 1.0
        labels[inside & (labels == 0)] = i
        brightness = rng.uniform(0.5, 1.0)
        signal += brightness / (1.0 + np.exp((np.sqrt(r2) - 1.0) * 12.0))
    signal *= 1.0 + 0.15 * rng.standard_normal(signal.shape).astype(np.float32)
    photons = rng.poisson(np.clip(signal, 0, None) * 800 + 50).astype(np.float32)
    image = photons + rng.normal(0, 10, photons.shape)
    if dtype == np.uint8:
        image = image / image.max() * 255
    image = np.clip(image, 0, np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else None)
    return image.astype(dtype), labels


def rgb_uint8(seed: int = 0, height: int = 240, width: int = 320) -> np.ndarray:
    """A 3-channel uint8 image: nuclei in blue, a second stain in green, faint red."""
    blue, _ = nuclei_image(height, width, 6, seed, np.uint8)
    green, _ = nuclei_image(height, width, 4, seed + 1, np.uint8)
    red = (green // 4).astype(np.uint8)
    return np.stack([red, green, blue], axis=-1)
