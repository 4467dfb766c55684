"""A click's mask spread over neighbouring nuclei, corrected as a user would correct it
(MaskCleanup.exclude_neighbours).

Given one click on a nucleus in a cluster (touching nuclei, a bright dividing neighbour), the
embedded model often returns the whole cluster: on the real DSB 2018 image shipped with StarDist
(125 manually labelled nuclei), the worst clicked masks held 3 to 11 times their nucleus' area,
and none of the model's three candidates was the nucleus alone. What a user does then, and what
the model was trained to read, is a negative click on each neighbour the mask spilled onto. So
when a mask from positive clicks alone (no negative click, no box, no mask) is larger than
MIN_CLUSTER_AREA cells of the working diameter, the nuclei inside it are found as the bright
blobs of the image (maxima of the image smoothed at BLOB_SMOOTHING of a cell diameter, at least
half a diameter apart); each at least MIN_NEIGHBOUR_DISTANCE diameters from every positive click
is another nucleus, and the model is asked again with those as negative clicks. A mask of
about one cell, or a cluster with no blob apart from the clicked one, stays as it is.

Needs the cells' diameter (the tiled predictor and tracker, as the plugin and the command line
use them, know it; a plain ImagePredictor or VideoTracker given no cell_diameter does not apply
the rule). Measured in benchmarks/README.md ("A click over a cluster: its neighbours as
negative clicks")."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from scipy import ndimage
from skimage.feature import peak_local_max

from .preprocessing import input_unit
from .prompts import Prompt

MIN_CLUSTER_AREA = 1.5  # a mask over this many cells' area (discs of the working diameter) may hold neighbours
BLOB_SMOOTHING = 0.15  # the Gaussian's sigma, in cell diameters: a nucleus becomes one blob, two touching stay two
MIN_NEIGHBOUR_DISTANCE = 0.75  # in cell diameters from every positive click: a blob that far is another nucleus


def neighbour_clicks(mask: np.ndarray, clicks: np.ndarray, image: np.ndarray, diameter: float) -> np.ndarray:
    """(K, 2) (x, y) float32 negative clicks, one on each other nucleus inside the (H, W) bool mask
    of the positive (N, 2) (x, y) clicks, found on the (H, W) image (the frame as the model reads it)
    at cells `diameter` px wide; (0, 2) for a mask no larger than MIN_CLUSTER_AREA cells."""
    if not is_cluster_sized(mask, diameter) or not len(clicks):
        return np.zeros((0, 2), np.float32)
    xy = nuclei_in(mask, image, diameter)
    distance = np.hypot(*(xy[:, None, :] - np.asarray(clicks, np.float32)[None]).transpose(2, 0, 1))  # (P, N)
    return xy[(distance >= MIN_NEIGHBOUR_DISTANCE * diameter).all(axis=1)]


def is_cluster_sized(mask: np.ndarray, diameter: float) -> bool:
    """Whether an (H, W) bool mask is larger than MIN_CLUSTER_AREA cells `diameter` px across."""
    return bool(mask.sum() > MIN_CLUSTER_AREA * math.pi * diameter ** 2 / 4)


def nuclei_in(mask: np.ndarray, image: np.ndarray, diameter: float) -> np.ndarray:
    """(P, 2) (x, y) float32 of the nuclei inside an (H, W) bool mask: the bright blobs of the (H, W)
    image, maxima after smoothing at BLOB_SMOOTHING diameters, at least half a diameter apart."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    if not len(rows):
        return np.zeros((0, 2), np.float32)
    margin = math.ceil(4 * BLOB_SMOOTHING * diameter)  # the smoothing's reach: the mask's box is enough
    top, left = max(rows[0] - margin, 0), max(cols[0] - margin, 0)
    window = (slice(top, rows[-1] + 1 + margin), slice(left, cols[-1] + 1 + margin))
    smooth = ndimage.gaussian_filter(np.asarray(image, np.float32)[window], BLOB_SMOOTHING * diameter)
    blobs = peak_local_max(smooth, min_distance=max(1, int(diameter / 2)), labels=mask[window].astype(np.int32),
                           exclude_border=False)  # (P, 2) row, col in the window
    return blobs[:, ::-1].astype(np.float32).reshape(-1, 2) + np.array([left, top], np.float32)


def with_neighbour_clicks(prompt: Prompt | None, mask: np.ndarray, model_input: torch.Tensor,
                          diameter: float | None) -> Prompt | None:
    """The prompt (image pixels) with a negative click on each other nucleus its (H, W) bool mask
    holds, read on the (1, 3, S, S) model input, to ask the model again; None where the rule does
    not apply: no cells' diameter, a prompt with a box, a mask or a negative click (the user's
    own correction stands), or no other nucleus found."""
    if diameter is None or prompt is None or prompt.box is not None or prompt.mask is not None:
        return None
    if not len(prompt.labels) or (prompt.labels != 1).any() or not is_cluster_sized(mask, diameter):
        return None  # (the frame's image is read only for a mask that may spread: not on every click)
    found = neighbour_clicks(mask, prompt.points, input_unit(model_input, mask.shape).numpy(), diameter)
    if not len(found):
        return None
    return replace(prompt, points=np.concatenate([prompt.points, found]),
                   labels=np.concatenate([prompt.labels, np.zeros(len(found), np.int32)]))
