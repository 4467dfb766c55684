"""Where automatic cell tracking (cell_tracker.py) takes cells from besides the model's detection:
seed labels (an image of the first frame, or a stack of every frame), checked against the video and
the tiles before any work; the second look, the classical cells of a frame; and the cells partly
outside the frame, seen by their rim."""
from __future__ import annotations

import numpy as np

from .cell_candidates import edge_cells, otsu_watershed
from .cell_tracking_params import CellTrackingParams
from .label_seeds import label_ids
from .tile_fit import check_objects_fit, objects_beyond_a_tile
from .tiling import TilePlan


def checked_seeds(seeds, num_frames: int, hw: tuple[int, int]) -> np.ndarray | None:
    """Seeds as given (None, an (H, W) label image or a (T, H, W) stack), checked against the video."""
    if seeds is None:
        return None
    seeds = np.asarray(seeds)
    if seeds.shape not in (tuple(hw), (num_frames, *hw)):
        raise ValueError(f"the seeds have shape {seeds.shape} but the video is {num_frames} frames of {tuple(hw)} "
                         f"(height, width): give the labels of the first frame {tuple(hw)} or a label stack "
                         f"{(num_frames, *hw)} of the same video, not resized or cropped")
    return label_ids(seeds)  # every frame's ids checked before any work


def check_seeds_fit(seeds: np.ndarray | None, plan: TilePlan, cell_diameter: float) -> None:
    """Every seed label (of every frame of a stack) fits in a tile, checked before any work."""
    stack = [] if seeds is None else [seeds] if seeds.ndim == 2 else seeds
    for frame, labels in enumerate(stack):
        check_objects_fit(labels, plan, cell_diameter, "seed label", "" if seeds.ndim == 2 else f" on frame {frame}")


def second_look(image: np.ndarray, params: CellTrackingParams, seeded: bool, plan: TilePlan) -> np.ndarray | None:
    """(H, W) classical labels of a single-channel frame looked at for cells, or None (off, seeds
    given, or a multi-channel frame)."""
    if not params.second_look or not _classical(image, seeded):
        return None
    labels = otsu_watershed(image, min_distance=params.detection.min_distance, min_area=params.min_area)
    return _no_larger_than_a_cell(labels, params, plan)


def cells_at_edge(image: np.ndarray, tracked: np.ndarray, params: CellTrackingParams, seeded: bool,
                  plan: TilePlan) -> np.ndarray | None:
    """(H, W) labels of the cells partly outside a single-channel frame that no track is next to
    (cell_candidates.edge_cells; larger than any cell: none), or None (off, seeds given, or a
    multi-channel frame)."""
    if not params.edge_cells or not _classical(image, seeded):
        return None
    return _no_larger_than_a_cell(edge_cells(image, tracked, params.edge_contrast), params, plan)


def _classical(image: np.ndarray, seeded: bool) -> bool:
    """Whether a frame is looked at the classical way: a single-channel frame (brightness is the
    stain) with no seeds stack (the user's segmentation gives the cells)."""
    return image.ndim == 2 and not seeded


def _no_larger_than_a_cell(labels: np.ndarray, params: CellTrackingParams, plan: TilePlan) -> np.ndarray:
    """(H, W) labels, in place, without the regions larger than any cell or wider than a tile holds
    (bright debris, haze, a streak: none is a cell, and none could be tracked)."""
    areas = np.bincount(labels.ravel())
    labels[(areas > largest_cell(params, plan))[labels]] = 0
    wide = list(objects_beyond_a_tile(labels, plan))
    if wide:
        labels[np.isin(labels, wide)] = 0
    return labels


def largest_cell(params: CellTrackingParams, plan: TilePlan) -> float:
    """The largest area (px of the frames) a cell may have: the model's detection's largest, a
    max_area_fraction of a tile (so a cell fits in the tile that tracks it)."""
    return params.detection.max_area_fraction * plan.tile**2 / (plan.factors[0] * plan.factors[1])
