"""Small synthetic fluorescence images and videos for tests and benchmarks: bright blobs (nuclei) on a
dark, noisy background, with their labels."""
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


def moving_nuclei_video(num_frames: int = 12, height: int = 200, width: int = 260, num: int = 4, seed: int = 0,
                        leaving: bool = True, dtype=np.uint16):
    """Returns (frames (T, H, W), labels (T, H, W)): nuclei drifting with random velocities; with
    `leaving`, nucleus 1 crosses the right border, is out of view for a few frames, and returns."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    centres = np.stack([rng.uniform(40, height - 40, num), rng.uniform(40, width - 60, num)], 1)
    velocity = rng.normal(0, 2.5, (num, 2))
    radii = rng.uniform(12, 20, (num, 2))
    frames = np.zeros((num_frames, height, width), np.float32)
    labels = np.zeros((num_frames, height, width), np.int32)
    for t in range(num_frames):
        for i in range(num):
            cy, cx = centres[i] + velocity[i] * t
            if leaving and i == 0:  # out past the right border and back
                cx = width - 30 + 60 * np.sin(np.pi * t / max(num_frames - 1, 1))
            r2 = ((yy - cy) / radii[i, 0]) ** 2 + ((xx - cx) / radii[i, 1]) ** 2
            frames[t] += 1.0 / (1.0 + np.exp((np.sqrt(r2) - 1.0) * 10.0))
            labels[t][(r2 <= 1.0) & (labels[t] == 0)] = i + 1
    photons = rng.poisson(np.clip(frames, 0, None) * 600 + 40).astype(np.float32) + rng.normal(0, 8, frames.shape)
    if dtype == np.uint8:
        photons = photons / photons.max() * 255
    return np.clip(photons, 0, None).astype(dtype), labels
