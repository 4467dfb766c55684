"""Peer cell trackers from PyPI, as a biologist would run them without napari-sam2: the classical
segmentation of every frame (scikit-image Otsu + distance-transform watershed), then the cells'
centroids linked by

- laptrack (linear assignment, with gap closing and splitting: divisions), or
- trackpy (nearest-neighbour linking with memory: no divisions).

Each returns what our tracker returns: a (T, H, W) label stack with one id per track (Cell Tracking
Challenge semantics: daughters get new ids) and its Lineage, so that the same scores apply."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from skimage.measure import regionprops_table

from ..engine.cell_lineage import Lineage
from ..evaluation.classical_segmentation import otsu_watershed


@dataclass(frozen=True)
class LinkingParams:
    """How the peers segment and link, in pixels and frames of the time-lapse."""

    max_step: float = 15.0  # farthest a cell's centroid moves from one frame to the next, px
    max_gap: int = 2  # frames a cell may be missed and still continue its track
    max_split_step: float = 15.0  # farthest a daughter's first centroid lies from its parent's last, px
    min_distance: int = 5  # the segmentation's closest two nuclei centres, px (about a nucleus' radius:
    # 5 fits the simulator's nuclei of radius 6-14 px; larger nuclei want more, or they are cut in parts)


def segment_frames(frames: np.ndarray, min_distance: int = LinkingParams.min_distance) -> np.ndarray:
    """(T, H, W) frames -> (T, H, W) int32 labels of the classical segmentation, numbered per frame."""
    return np.stack([otsu_watershed(np.asarray(frame), min_distance=min_distance) for frame in frames])


def centroids(segmentation: np.ndarray) -> pd.DataFrame:
    """One row per cell per frame: frame, label (in that frame's segmentation), y, x."""
    tables = []
    for t, frame in enumerate(segmentation):
        props = pd.DataFrame(regionprops_table(frame, properties=("label", "centroid")))
        tables.append(props.rename(columns={"centroid-0": "y", "centroid-1": "x"}).assign(frame=t))
    return pd.concat(tables, ignore_index=True)[["frame", "label", "y", "x"]]


def laptrack_cells(frames: np.ndarray, params: LinkingParams = LinkingParams()) -> tuple[np.ndarray, Lineage]:
    """Classical segmentation linked by laptrack with splitting."""
    from laptrack import LapTrack

    segmentation = segment_frames(frames, params.min_distance)
    cells = centroids(segmentation)
    if cells.empty:
        return np.zeros_like(segmentation), Lineage()
    tracker = LapTrack(cutoff=params.max_step ** 2, gap_closing_cutoff=params.max_step ** 2,
                       gap_closing_max_frame_count=params.max_gap, splitting_cutoff=params.max_split_step ** 2)
    tracks, splits, _ = tracker.predict_dataframe(cells, coordinate_cols=["y", "x"], frame_col="frame",
                                                  only_coordinate_cols=False)
    tracks = tracks.assign(track=tracks["track_id"] + 1)  # laptrack numbers tracks from 0; labels from 1
    parents = {int(c) + 1: int(p) + 1 for p, c in zip(splits.get("parent_track_id", []), splits.get("child_track_id", []))}
    return _tracked(segmentation, tracks, parents)


def trackpy_cells(frames: np.ndarray, params: LinkingParams = LinkingParams()) -> tuple[np.ndarray, Lineage]:
    """Classical segmentation linked by trackpy (a daughter starts a track with no parent)."""
    import trackpy

    trackpy.quiet()
    segmentation = segment_frames(frames, params.min_distance)
    cells = centroids(segmentation)
    if cells.empty:
        return np.zeros_like(segmentation), Lineage()
    linked = trackpy.link(cells, search_range=params.max_step, memory=params.max_gap, pos_columns=["y", "x"],
                          t_column="frame")
    return _tracked(segmentation, linked.assign(track=linked["particle"] + 1), {})


def _tracked(segmentation: np.ndarray, cells: pd.DataFrame, parents: dict[int, int]) -> tuple[np.ndarray, Lineage]:
    """The segmentation relabelled by track (`cells`: frame, label, track) and its lineage."""
    labels = np.zeros(segmentation.shape, np.int32)
    for t, in_frame in cells.groupby("frame"):
        lookup = np.zeros(int(segmentation[t].max()) + 1, np.int32)  # frame label -> track id
        lookup[in_frame["label"].to_numpy(int)] = in_frame["track"].to_numpy(int)
        labels[t] = lookup[segmentation[t]]
    return labels, Lineage.from_labels(labels, parents)
