"""Where cells probably are, found the classical way (scikit-image): an Otsu foreground and the
peaks of its distance transform, one per nucleus even where nuclei touch. Used as the places the
model is clicked at to find cells (cell_detection.py, prompts="centres") and, with a watershed
from the peaks, as the classical segmentation: the baseline peers are measured over
(evaluation/classical_segmentation.py) and the second look for cells the model missed
(cell_tracker.py)."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed

from .frame_edge import edge_ids


class Foreground(NamedTuple):
    mask: np.ndarray  # (H, W) bool: Otsu foreground without pieces under min_area
    distance: np.ndarray  # (H, W) float: distance of each foreground pixel to the background, px
    peaks: np.ndarray  # (N, 2) (row, col) of the distance peaks, one per probable nucleus


def foreground_peaks(image: np.ndarray, smoothing: float = 1.0, min_distance: int = 5,
                     min_area: int = 30) -> Foreground:
    """(H, W) image -> its foreground and distance peaks. smoothing: Gaussian sigma before
    thresholding, px; min_distance: the closest two nuclei centres may be, px; min_area: smallest
    nucleus, px."""
    smooth = gaussian(image.astype(np.float32), sigma=smoothing, preserve_range=True)
    if smooth.max() == smooth.min():  # a flat frame holds no nucleus
        return Foreground(np.zeros(image.shape, bool), np.zeros(image.shape), np.zeros((0, 2), np.int64))
    mask = remove_small_objects(smooth > threshold_otsu(smooth), max_size=min_area - 1)
    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=ndimage.label(mask)[0], exclude_border=False)
    return Foreground(mask, distance, peaks)


def centre_points(image: np.ndarray, min_distance: int = 5, min_area: int = 30) -> np.ndarray:
    """(N, 2) (x, y) pixel centres of the probable nuclei of an (H, W) image (sizes as foreground_peaks)."""
    peaks = foreground_peaks(image, min_distance=min_distance, min_area=min_area).peaks
    return peaks[:, ::-1].astype(np.float32)


def otsu_watershed(image: np.ndarray, smoothing: float = 1.0, min_distance: int = 5, min_area: int = 30) -> np.ndarray:
    """(H, W) image -> (H, W) int32 labels: the Otsu foreground cut by a watershed on its distance
    transform from the peaks (touching nuclei apart). Parameters as foreground_peaks."""
    found = foreground_peaks(image, smoothing, min_distance, min_area)
    return watershed_from_peaks(found.distance, found.peaks, found.mask).astype(np.int32)


def watershed_from_peaks(distance: np.ndarray, peaks: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) labels 1..N of an (H, W) bool mask cut at its necks: a watershed of its (H, W) distance
    transform from its (N, 2) (row, col) peaks, label k + 1 grown from peaks[k]."""
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=mask)


def edge_cells(image: np.ndarray, tracked: np.ndarray, min_contrast: float, noise_sigmas: float = 6.0,
               smoothing: float = 1.0) -> np.ndarray:
    """(H, W) int32 labels of the cells partly outside the frame that no tracked cell is next to: the
    pieces of an (H, W) image's foreground on the frame's edge, away from the tracked cells ((H, W)
    ids `tracked`, 0 = none) by a pixel or more. A cell entering or leaving shows only its dim rim,
    below the Otsu threshold the frame's whole cells set; so the foreground here is what is brighter
    than the background by min_contrast of the tracked cells' brightness above it (and by
    noise_sigmas of the background's noise): the background is the median of the pixels under
    Otsu's threshold, its noise their median absolute deviation. Empty without tracked cells (no
    brightness to compare with)."""
    none = np.zeros(image.shape, np.int32)
    if not tracked.any():
        return none
    smooth = gaussian(image.astype(np.float32), sigma=smoothing, preserve_range=True)
    if smooth.max() == smooth.min():
        return none
    below = smooth[smooth <= threshold_otsu(smooth)]
    background = float(np.median(below))
    noise = 1.4826 * float(np.median(np.abs(below - background)))  # the MAD as a Gaussian's sigma
    contrast = float(np.median(smooth[tracked != 0])) - background
    if contrast <= 0:
        return none
    level = background + max(min_contrast * contrast, noise_sigmas * noise)
    pieces, _ = ndimage.label((smooth > level) & (tracked == 0))
    beside = set(np.unique(pieces[ndimage.binary_dilation(tracked != 0)]).tolist())  # a tracked cell's rim
    kept = np.isin(pieces, sorted(edge_ids(pieces) - beside))
    return np.where(kept, pieces, 0).astype(np.int32)
