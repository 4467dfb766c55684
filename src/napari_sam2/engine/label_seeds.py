"""Seeds from an existing segmentation (cellpose, StarDist, a napari Labels layer, ...): one mask
prompt per label."""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def masks_from_labels(labels, frame_hw: tuple[int, int]) -> dict[int, np.ndarray]:
    """(H, W) integer label image -> {label id: (H, W) bool mask}, one mask prompt per object.

    frame_hw: the (height, width) of the frame the seeds are for; the label image must match it."""
    labels = np.asarray(labels)
    frame_hw = tuple(int(s) for s in frame_hw)
    if labels.shape != frame_hw:
        raise ValueError(
            f"the seeds label image has shape {labels.shape} but the frame is {frame_hw} (height, width); "
            "give the labels of this very frame, at the same size (not resized, cropped or another frame)"
        )
    labels = label_ids(labels, "the seeds label image")
    if not labels.any():
        raise ValueError("the seeds label image is empty (all 0): it holds no cell to track; "
                         "check that it is the segmentation of this frame, or detect the cells automatically")
    masks = {}
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is not None:
            mask = np.zeros(frame_hw, bool)
            mask[window] = labels[window] == index
            masks[index] = mask
    return masks


# where float labels are taken as ids: whole numbers up to here (float32 holds every integer up to 2**24 exactly)
LARGEST_FLOAT_ID = 2 ** 24


def label_ids(labels, what: str = "the seeds") -> np.ndarray:
    """`labels` as integer ids (0 = background): as they are, or from floats that are all whole
    numbers (Fiji and some tools save label images as 32-bit float). A ValueError naming `what` and
    saying what to do for anything else: a True/False mask, fractions, NaN, negative ids."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        raise ValueError(f"{what} are a mask (True/False), not labels: give each cell its own id, 0 for background "
                         "(scikit-image: skimage.measure.label(mask); Fiji: Analyze > Analyze Particles, Show: Count Masks)")
    if np.issubdtype(labels.dtype, np.floating):
        labels = _whole_number_ids(labels, what)
    elif not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} hold {labels.dtype} values: a label image holds an integer id per cell (0 = background)")
    if labels.min(initial=0) < 0:
        raise ValueError(f"{what} hold negative ids (the lowest is {int(labels.min())}): ids are 0 (background) "
                         "or more; give the label image the segmentation tool wrote, as it wrote it")
    return labels


def _whole_number_ids(labels: np.ndarray, what: str) -> np.ndarray:
    """Float labels as int64 ids, refused where any value is no whole number or out of range."""
    finite = np.isfinite(labels)
    odd = labels[~finite | (labels != np.round(labels)) | (np.abs(labels) > LARGEST_FLOAT_ID)] if labels.size else labels
    if odd.size:
        raise ValueError(f"{what} are {labels.dtype} images with values that are no label ids ({odd.size} values, e.g. "
                         f"{odd.flat[0]}): a label image holds a whole number per cell, 0 for background; save the "
                         "segmentation's labels as integers (Fiji: Image > Type > 16-bit, without scaling), not a "
                         "probability map or a resized copy")
    return labels.astype(np.int64)
