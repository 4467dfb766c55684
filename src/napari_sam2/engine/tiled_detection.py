"""Finding the cells of a frame of any size (cell_detection.py's way) tile by tile, as the tiled
tracker sees the frame: resampled so that its cells have the model's preferred size and cut into
tiles with a halo (scale.py, tiling.py). A tile's features are the tiled tracker's
(TiledVideoTracker.tile_features): computed once per tile and frame for detection and tracking.

The probable nucleus centres are found once on the whole frame (cell_candidates.py: one Otsu
threshold for the frame, so a tile of background finds no cells in its noise). Each tile is
clicked at the centres it owns, those nearer its centre than any other tile's (TilePlan.tile_for,
the rule the tiled tracker gives an object its tile by): an owned centre lies at least a halo (one
preferred cell diameter) from the tile's inner edges, so the cell around it is whole in the tile.
A tile that owns no centre is not looked at. The cells of every tile come back to the frame's
pixels and are painted best first (instance_masks.paint_cells): a cell found again from the
neighbouring tile in the halo (two centres on one cell, on both sides of the border between the
tiles' shares) is dropped there as a copy."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .cell_detection import CellDetections, DetectionParams, cells_at, grid_points, probable_centres
from .instance_masks import CellMask, cropped, paint_cells
from .tiled_tracker import TiledVideoTracker
from .tiling import TilePlan, tile_logits_to_original

Tile = tuple[int, int]  # (top, left) in scaled pixels


@torch.no_grad()
def detect_cells_in_tiles(video: TiledVideoTracker, frame: int, params: DetectionParams,
                          mask_threshold: float = 0.0) -> CellDetections:
    """The cells of one frame (not blank: the tracker refuses those) of a tiled tracker's video,
    in the tracker's tiles and with their features (computed once per tile and frame for both);
    params' sizes in the frame's pixels. Returns a label image of the frame's size with one id per
    cell, numbered by decreasing score."""
    plan, model = video.tile_plan, video.model
    centres = probable_centres(video.inputs.picked(frame), params) if params.prompts == "centres" else None
    in_tile = _in_scaled_pixels(params, plan)
    found: list[CellMask] = []
    for tile, points in _clicks_by_tile(plan, centres, params.points_per_side).items():
        embedding = video.tile_features(frame, tile)
        masks, scores = cells_at(model, embedding, (plan.tile, plan.tile), points, in_tile, mask_threshold)
        found += _in_frame(masks, scores, plan, tile)
    labels, scores = paint_cells(plan.image_hw, found, params.min_area, params.max_contained)
    return CellDetections(labels, scores)


def _clicks_by_tile(plan: TilePlan, centres: np.ndarray | None, per_side: int) -> dict[Tile, np.ndarray]:
    """Tile -> (N, 2) (x, y) in the tile of the clicks it owns: the centres (N, 2) original (x, y),
    or, without centres, a grid of per_side x per_side clicks over each tile (on the scaled image)."""
    if centres is None:
        grid = grid_points((plan.tile, plan.tile), per_side)
        candidates = [plan.to_original(grid + [left, top]) for top, left in plan.tiles]
        centres = np.concatenate(candidates)
        on_image = (plan.to_scaled(centres) < np.array(plan.scaled_hw[::-1]) - 0.5).all(axis=1)
        centres = centres[on_image]  # not in the zero padding past the scaled image
    owned: dict[Tile, list[np.ndarray]] = {}
    for point in np.asarray(centres, np.float64).reshape(-1, 2):
        owned.setdefault(plan.tile_for(point[None]), []).append(point)
    return {tile: plan.in_tile(np.array(points), *tile) for tile, points in owned.items()}


def _in_scaled_pixels(params: DetectionParams, plan: TilePlan) -> DetectionParams:
    """params with the smallest cell's area in pixels of the scaled image, where tiles are decoded."""
    fy, fx = plan.factors
    return replace(params, min_area=max(1, round(params.min_area * fy * fx)))


def _in_frame(masks: np.ndarray, scores: np.ndarray, plan: TilePlan, tile: Tile) -> list[CellMask]:
    """(K, S, S) bool masks of a tile -> CellMasks in the frame's pixels (each mask sampled bilinearly
    at the frame's pixel centres, as the tracker's logits are)."""
    if not len(masks):
        return []
    signed = torch.from_numpy(masks).float() - 0.5  # (K, S, S): > 0 inside, the mask's edge at 0
    local = tile_logits_to_original(signed, plan, *tile)
    y0, _, x0, _ = local.box
    cells = []
    for mask, score in zip((local.logits > 0).numpy(), scores):
        cell = cropped(mask, score)
        cells.append(cell._replace(top=cell.top + y0, left=cell.left + x0))
    return cells
