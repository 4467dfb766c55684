"""The classical baseline for nuclei: Otsu threshold, then a watershed on the distance transform
to split touching nuclei (scikit-image). Peers are measured over this segmentation."""
from __future__ import annotations

import numpy as np
from skimage.segmentation import watershed

from ..engine.cell_candidates import foreground_peaks


def otsu_watershed(image: np.ndarray, smoothing: float = 1.0, min_distance: int = 5, min_area: int = 30) -> np.ndarray:
    """(H, W) image -> (H, W) int32 labels. smoothing: Gaussian sigma before thresholding, px;
    min_distance: the closest two nuclei centres may be, px; min_area: smallest nucleus, px."""
    found = foreground_peaks(image, smoothing, min_distance, min_area)
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(found.peaks.T)] = np.arange(1, len(found.peaks) + 1)
    return watershed(-found.distance, markers, mask=found.mask).astype(np.int32)
