"""What the tiles of a tiled tracker see of each other on a frame: the objects other tiles hold
(to separate a tile's memories from them), and the hand-over of an object whose mask came nearer
another tile's centre, with the pixels it wins there as the mask prompt (tiled_tracker.py)."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..model.frame_steps import NO_OBJECT_LOGIT
from .frame_result import FrameResult
from .label_rule import winning_labels
from .tiling import LocalLogits, TilePlan, shift_to_tile

Tile = tuple[int, int]  # (top, left) in scaled pixels
TileOutputs = dict[int, tuple[Tile, torch.Tensor]]  # obj_id -> (its tile, its (S, S) logits there)


def tile_outputs(results: dict[Tile, FrameResult], by_tile: dict[Tile, list[int]]) -> TileOutputs:
    """obj_id -> (its tile, its (S, S) logits there) for the objects listed per tile."""
    outputs = {}
    for tile, ids in by_tile.items():
        result = results[tile]
        for obj_id in ids:
            k = result.object_ids.index(obj_id)
            outputs[obj_id] = (tile, to_tile_side(result.low_res_logits[k:k + 1], result.video_hw[0]))
    return outputs


def to_tile_side(low_res: torch.Tensor, side: int) -> torch.Tensor:
    """(1, 1, 4h, 4w) logits -> (S, S) over the tile's pixels."""
    return F.interpolate(low_res, size=(side, side), mode="bilinear", align_corners=False)[0, 0]


def tiles_overlap(a: Tile, b: Tile, side: int) -> bool:
    return abs(a[0] - b[0]) < side and abs(a[1] - b[1]) < side


def highest_elsewhere(tile: Tile, outputs: TileOutputs, excluded: list[int], side: int) -> torch.Tensor | None:
    """(1, 1, S, S): the highest logit over `tile`'s pixels of the objects other tiles hold in
    `outputs` (but `excluded`), NO_OBJECT_LOGIT where none reaches; None if none is near."""
    best = None
    for obj_id, (where, logits) in outputs.items():
        if where == tile or obj_id in excluded or not tiles_overlap(where, tile, side):
            continue
        shifted = shift_to_tile(logits, where, tile, fill=NO_OBJECT_LOGIT)
        best = shifted if best is None else torch.maximum(best, shifted)
    return None if best is None else best[None, None]


def won_in(target: Tile, obj_id: int, outputs: TileOutputs, side: int) -> np.ndarray:
    """(S, S) bool: the pixels of the `target` tile the object wins among all objects on the
    frame (the label rule, label_rule.winning_labels, as in the stitched label image)."""
    pieces = [(i, LocalLogits((0, side, 0, side), shift_to_tile(logits, where, target, fill=NO_OBJECT_LOGIT)[None]))
              for i, (where, logits) in outputs.items() if tiles_overlap(where, target, side)]
    return winning_labels((side, side), pieces) == obj_id


def hand_overs(plan: TilePlan, outputs: TileOutputs, on_frame: TileOutputs) -> Iterator[tuple[int, Tile, Tile, np.ndarray]]:
    """(obj_id, its tile, the tile it goes on in, the (S, S) mask prompt there) for each object of
    `outputs` whose mask came nearer another tile's centre (by more than half a halo), the mask
    being the pixels it wins there among `on_frame` (every object's output on the frame)."""
    keep = plan.halo / 2  # scaled px: a cell on a border stays where it is
    for obj_id, (tile, logits) in outputs.items():
        rows, cols = torch.nonzero(logits > 0, as_tuple=True)
        if not len(rows):
            continue  # gone, or hidden: it stays where it was last seen
        extent = np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]], np.float64) + [tile[1], tile[0]]
        target = plan.tile_for(plan.to_original(extent), current=tile, keep=keep)
        if target != tile:
            mask = won_in(target, obj_id, on_frame, plan.tile)
            if not mask.any():
                continue  # its neighbours win every pixel: it stays where it is
            yield obj_id, tile, target, mask
