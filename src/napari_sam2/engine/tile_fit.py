"""Objects no tile can hold. The tiled tracker tracks each object in one tile: the one
TilePlan.tile_for picks for its extent, where TiledVideoTracker.add_mask puts its mask prompt. An
object wider than that tile cannot be tracked; seeds and stored objects are checked here before
anything is tracked or written, and refused with their id, their size, the tile's size and the
diameter that would hold them."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .tiling import TilePlan

SHOWN = 3  # objects named in the message (the others are counted)


def objects_beyond_a_tile(labels: np.ndarray, plan: TilePlan) -> dict[int, tuple[int, int]]:
    """The objects of an (H, W) label image that the tile picked for each does not hold whole:
    id -> (height, width) px of its bounding box."""
    too_large = {}
    for obj_id, box in enumerate(ndimage.find_objects(np.asarray(labels)), start=1):
        if box is None:
            continue
        corners = np.array([[box[1].start, box[0].start], [box[1].stop - 1, box[0].stop - 1]])  # (x, y)
        try:
            plan.in_tile(corners, *plan.tile_for(corners))
        except ValueError:
            too_large[obj_id] = (box[0].stop - box[0].start, box[1].stop - box[1].start)
    return too_large


def check_objects_fit(labels: np.ndarray, plan: TilePlan, cell_diameter: float, what: str, where: str = "") -> None:
    """ValueError naming the objects of `labels` (`what` they are, e.g. "seed label"; `where`, e.g.
    " on frame 3") that no tile holds. An object at most twice the cell diameter across always fits
    (a tile's halo is one preferred diameter, scale.plan_for_cells), hence the diameter advised."""
    too_large = objects_beyond_a_tile(labels, plan)
    if not too_large:
        return
    fy, fx = plan.factors
    many = len(too_large) > 1
    named = ", ".join(f"{obj_id} ({h} x {w} px)" for obj_id, (h, w) in list(too_large.items())[:SHOWN])
    others = f" and {len(too_large) - SHOWN} more" if len(too_large) > SHOWN else ""
    needed = math.ceil(max(max(size) for size in too_large.values()) / 2)
    raise ValueError(f"{what}{'s' if many else ''} {named}{others}{where} {'are' if many else 'is'} larger than one "
                     f"tile holds ({plan.tile / fy:.0f} x {plan.tile / fx:.0f} px of the image at a cell diameter of "
                     f"{cell_diameter:.1f} px) and cannot be tracked: if these are single cells, give a cell diameter "
                     f"(--cell-diameter) of {needed} px or more; if not (a clump, debris), split or remove them; "
                     "nothing was tracked or written")
