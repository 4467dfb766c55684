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
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"a seeds label image holds integer ids (0 = background), got dtype {labels.dtype}")
    if labels.min(initial=0) < 0:
        raise ValueError(f"seed labels must be >= 0 (0 = background), found {int(labels.min())}")
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
