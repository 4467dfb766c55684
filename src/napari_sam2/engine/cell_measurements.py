"""Each cell on each frame measured (scikit-image regionprops_table): where it is, how large, how
bright, and which track and parent it belongs to. The one table the measurements CSV, the GEFF
nodes and the napari Tracks layer are all made from."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage.measure import regionprops_table

from .cell_lineage import NO_PARENT, Lineage

# The table's columns, in order; "mean_intensity" only when the frames were given, and after it, for
# frames of several channels, each channel's mean: "mean_intensity_c0", "mean_intensity_c1", ...
COLUMNS = ("frame", "track_id", "parent", "y", "x", "area", "mean_intensity")
CHANNEL_MEAN = "mean_intensity_c{}"


def measure_frame(frame: int, labels: np.ndarray, lineage: Lineage, image: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The cells of one frame: labels (H, W), one id per track; image (H, W), or (H, W, C): the mean
    intensity, of the channels averaged and of each (a reporter's brightness in each tracked nucleus).
    One row per label, by ascending id."""
    labels = np.asarray(labels)
    intensity = None if image is None else _channels_last(np.asarray(image), labels.shape)
    props = regionprops_table(labels, intensity_image=intensity,
                              properties=("label", "centroid", "area") + (() if intensity is None else ("intensity_mean",)))
    track_ids = props["label"].astype(np.int64)
    table = {
        "frame": np.full(len(track_ids), frame, np.int64),
        "track_id": track_ids,
        "parent": np.array([_parent(lineage, i) for i in track_ids], np.int64),
        "y": props["centroid-0"].astype(np.float64),
        "x": props["centroid-1"].astype(np.float64),
        "area": props["area"].astype(np.int64),
    }
    if intensity is not None:
        means = np.stack([props[f"intensity_mean-{c}"] for c in range(intensity.shape[-1])], axis=-1) \
            if intensity.ndim == 3 else props["intensity_mean"][:, None]  # (cells, channels)
        table["mean_intensity"] = means.mean(axis=-1).astype(np.float64)
        if means.shape[-1] > 1:
            table.update({CHANNEL_MEAN.format(c): means[:, c].astype(np.float64) for c in range(means.shape[-1])})
    return table


def measure_cells(labels: Iterable[np.ndarray], lineage: Lineage, frames=None) -> dict[str, np.ndarray]:
    """Every cell on every frame: labels (T, H, W) (or any iterable of frames, read one at a time);
    frames: the images (T, H, W) for the mean intensity, or None. Rows by frame, then track id."""
    tables = [measure_frame(t, frame_labels, lineage, None if frames is None else frames[t])
              for t, frame_labels in enumerate(labels)]
    return concatenate(tables, with_intensity=frames is not None)


def concatenate(tables: list[dict[str, np.ndarray]], with_intensity: bool = False) -> dict[str, np.ndarray]:
    """Tables of single frames as one (an empty table still has its columns)."""
    if tables:
        return {name: np.concatenate([t[name] for t in tables]) for name in tables[0]}
    return {name: np.zeros(0, np.float64 if name in ("y", "x", "mean_intensity") else np.int64)
            for name in (COLUMNS if with_intensity else COLUMNS[:-1])}


def _parent(lineage: Lineage, track_id: int) -> int:
    track = lineage.tracks.get(int(track_id))
    return NO_PARENT if track is None else track.parent


def _channels_last(image: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """The frame's intensity: (H, W), or (H, W, C) with its channels last."""
    if image.shape == frame_hw or (image.ndim == 3 and image.shape[:2] == frame_hw):
        return image
    raise ValueError(f"an image frame of shape {image.shape} does not fit labels of shape {frame_hw}: "
                     "give the frames the labels were tracked on")
