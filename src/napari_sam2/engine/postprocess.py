"""Post-processing of predicted mask logits, on the CPU, without compiled extensions: the
reference's filling of small holes, and the optional clean-up (one piece, no holes; on tracked
frames, no mask that is not brighter than its surroundings) used by the image predictor and the
video tracker alike."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..model.prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT
from .contrast import RING_PX, too_dim
from .mask_choice import chosen_by_outline
from .neighbour_clicks import with_neighbour_clicks
from .preprocessing import input_unit
from .prompts import Prompt, with_box_centre_click
from .touching_split import split_touching

HOLE_FILL_LOGIT = 0.1  # a filled hole becomes just-positive, like the reference's CUDA path
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """(B, 1, h, w) mask logits: every 8-connected region of non-positive logits whose area is
    at most max_area becomes HOLE_FILL_LOGIT. Returns a new tensor; max_area 0 returns logits."""
    if max_area <= 0:
        return logits
    out = logits.clone()
    background = (logits <= 0).cpu().numpy()
    for b in range(background.shape[0]):
        labels, count = ndimage.label(background[b, 0], structure=_EIGHT_CONNECTED)
        if count == 0:
            continue
        areas = np.bincount(labels.ravel())
        small = (areas <= max_area) & (np.arange(len(areas)) > 0)
        holes = torch.from_numpy(small[labels]).to(out.device)
        out[b, 0][holes] = HOLE_FILL_LOGIT
    return out


REMOVED_LOGIT = -10.0  # a removed piece becomes clearly background, in masks and in memories alike


@dataclass(frozen=True)
class MaskCleanup:
    """Optional clean-up of every predicted mask (issue 19), on by default; turn it off with
    MaskCleanup.off() (scripting), `--no-cleanup` (command line) or the plugin's setting.

    keep_one_piece: keep only the connected piece under the positive clicks (one piece per
    click), or the largest piece for a box, a mask prompt or a tracked frame: a nucleus is one
    piece, and stray bits on neighbours or on bright speckles are not it.
    fill_holes: fill every hole of the kept mask (dark nucleoli, chromatin gaps): a nucleus has none.
    drop_dim: on tracked frames, a mask not brighter than its surroundings (`dim_masks`) means
    the object is absent there, and the tracker marks it absent as the model marks an object it
    does not find: out-of-focus haze at the ends of a z-stack is not the nucleus. The cell tracker
    also starts no track on a found cell that is not clearly brighter than the background around
    it (contrast.py: the same rule, at twice the contrast).
    split_touching: on tracked frames, where masks of tracked objects touch, their union is split
    at its necks into cells and each cell goes wholly to the object holding most of it
    (`touching_split`): a mask creeping over a touching neighbour gives the band back.

    Boxes (the embedded model reads a box alone poorly: masks of nucleus-like texture in and
    around the box, README "Box prompts"):
    box_centre_click: a box without a positive click is given to the model with one at its
    centre (`prompts.with_box_centre_click`); the clean-up then keeps the piece under it.
    inside_box: a box's mask holds no pixel outside the box (a box drawn says where the object
    is), removed before the piece is chosen.

    choose_by_outline: in the image predictors, of the model's three masks for one click, keep the
    highest predicted IoU times the strength of the image's edge along the mask's outline,
    relative to the other candidates' (`mask_choice.py`: the embedded model's predicted IoU alone
    often keeps a part of the nucleus); off: the highest predicted IoU, as the reference. The
    trackers keep the model's choice (why: README, "Choosing among a click's masks").

    exclude_neighbours: a mask from positive clicks alone that is larger than a cell and spreads
    over other nuclei: the model is asked again with a negative click on each of them, as a user
    would correct it (neighbour_clicks.py); where the cells' diameter is known (the tiled
    predictor and tracker: the plugin, segment, track).

    grow_to_outline: in click mode (the plugin's clicks and propagations, the command line's track
    with clicks and segment), the labels written for the objects are grown to their cells' outlines in the image,
    never onto another label or an untracked neighbour (clicked_outlines.py); the model's memory
    keeps its own masks. Automatic tracking grows its labels by CellTrackingParams.outline_reach."""

    keep_one_piece: bool = True
    fill_holes: bool = True
    drop_dim: bool = True
    split_touching: bool = True
    box_centre_click: bool = True
    inside_box: bool = True
    choose_by_outline: bool = True
    exclude_neighbours: bool = True
    grow_to_outline: bool = True

    @classmethod
    def off(cls) -> MaskCleanup:
        """The model's masks as they are, from the prompts as given (as the reference)."""
        return cls(keep_one_piece=False, fill_holes=False, drop_dim=False, split_touching=False, box_centre_click=False,
                   inside_box=False, choose_by_outline=False, exclude_neighbours=False, grow_to_outline=False)

    def model_prompt(self, prompt: Prompt) -> Prompt:
        """The prompt the model is given for `prompt` (box_centre_click)."""
        return with_box_centre_click(prompt) if self.box_centre_click else prompt

    def asked_again(self, prompt: Prompt | None, mask: np.ndarray, model_input: torch.Tensor,
                    diameter: float | None) -> Prompt | None:
        """The prompt to decode again for a click's (H, W) bool mask that spreads over other nuclei
        (exclude_neighbours: neighbour_clicks.with_neighbour_clicks), or None to keep the mask."""
        return with_neighbour_clicks(prompt, mask, model_input, diameter) if self.exclude_neighbours else None

    def chosen_candidates(self, iou_scores: torch.Tensor, logits: torch.Tensor, model_input: torch.Tensor,
                          anchors: np.ndarray | None = None) -> torch.Tensor:
        """(B,) the candidate each object keeps of its (B, M, h, w) mask logits for one click on the
        (1, 3, S, S) model input: by predicted IoU (B, M) and outline (choose_by_outline), or by
        predicted IoU alone. anchors: the click in the logits' pixels (`apply`), whose masks are
        judged as they will be kept."""
        if not self.choose_by_outline:
            return iou_scores.argmax(-1)
        return chosen_by_outline(iou_scores, logits, model_input, lambda masks: self.apply(masks, anchors))

    def touching_split(self, logits: torch.Tensor) -> torch.Tensor:
        """A tracked frame's (B, 1, h, w) mask logits with touching objects' cells given back
        (split_touching; the same logits with it off)."""
        return split_touching(logits) if self.split_touching else logits

    def dim_masks(self, logits: torch.Tensor, model_input: torch.Tensor) -> torch.Tensor:
        """(B,) bool: which of the (B, 1, h, w) mask logits are less than MIN_CONTRAST brighter
        than the median of a ring around them on the frame's (1, 3, S, S) model input (always
        False with drop_dim off, or for an empty mask). Each mask is upsampled only around its
        positive cells (`_windows`): the whole map at S x S took 32% of tracking 20 cells."""
        dim = torch.zeros(logits.shape[0], dtype=torch.bool)
        if not self.drop_dim:
            return dim
        unit = input_unit(model_input)  # (S, S) the stretched frame, in [0, 1]
        low = logits.float().cpu()
        factor = unit.shape[-1] // low.shape[-1]
        if low.shape[-2] != low.shape[-1] or factor * low.shape[-1] != unit.shape[-1]:
            raise ValueError(f"mask logits of {tuple(low.shape[-2:])} do not scale to the {tuple(unit.shape)} input "
                             "by a whole factor")
        for (hc, wc), starts in _windows(low[:, 0], factor, RING_PX[1]).items():
            objects, top, left = (torch.tensor(column) for column in zip(*starts))  # (K,) each
            rows, cols = top[:, None] + torch.arange(hc), left[:, None] + torch.arange(wc)  # (K, hc), (K, wc) cells
            crops = low[objects[:, None, None], 0, rows[:, :, None], cols[:, None, :]]  # (K, hc, wc)
            size = (hc * factor, wc * factor)
            masks = F.interpolate(crops[:, None], size=size, mode="bilinear", align_corners=False)[:, 0] > 0
            inner, outer = (torch.from_numpy(ndimage.maximum_filter(masks.numpy(), (1, 2 * r + 1, 2 * r + 1), mode="constant"))
                            for r in RING_PX)  # the masks grown by r
            rows, cols = top[:, None] * factor + torch.arange(size[0]), left[:, None] * factor + torch.arange(size[1])
            seen = unit[rows[:, :, None], cols[:, None, :]]  # (K, Hc, Wc) the frame under each window
            for k, b in enumerate(objects.tolist()):
                inside, ring = seen[k][masks[k]], seen[k][outer[k] & ~inner[k]]
                if len(inside) and len(ring):
                    brightness = inside.mean()
                    dim[b] = too_dim(float(brightness), float(ring.median()))
        return dim

    @property
    def active(self) -> bool:
        return any(getattr(self, rule.name) for rule in fields(self))  # every field is a rule, on or off

    def apply(self, logits: torch.Tensor, anchors: np.ndarray | None = None, box: np.ndarray | None = None) -> torch.Tensor:
        """(B, 1, h, w) or (B, h, w) mask logits -> a cleaned copy. anchors: (N, 2) (x, y) positive
        clicks in the logits' continuous pixel coordinates (pixel j spans [j, j + 1)), or None
        (the largest piece); box: the box prompt's (4,) XYXY in the same coordinates, or None."""
        clip = self.inside_box and box is not None
        if not (self.keep_one_piece or self.fill_holes or clip):
            return logits
        out = logits.clone()
        flat = out.reshape(-1, *out.shape[-2:])  # (B, h, w) view of the copy
        if clip:
            flat[:, ~torch.from_numpy(overlapping_box(box, flat.shape[-2:])).to(out.device)] = REMOVED_LOGIT
        positive = (flat > 0).cpu().numpy()
        for b in range(flat.shape[0]):
            kept = self._kept(positive[b], anchors)
            removed = torch.from_numpy(positive[b] & ~kept).to(out.device)
            flat[b][removed] = REMOVED_LOGIT
            if self.fill_holes:
                holes = torch.from_numpy(ndimage.binary_fill_holes(kept) & ~kept).to(out.device)
                flat[b][holes] = HOLE_FILL_LOGIT
        return out

    def _kept(self, mask: np.ndarray, anchors: np.ndarray | None) -> np.ndarray:
        """The pieces of an (h, w) bool mask to keep."""
        if not self.keep_one_piece or not mask.any():
            return mask
        pieces, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        h, w = mask.shape
        under = set()
        for x, y in np.asarray(anchors if anchors is not None else np.zeros((0, 2))).reshape(-1, 2):
            row, col = min(max(int(np.floor(y)), 0), h - 1), min(max(int(np.floor(x)), 0), w - 1)
            if pieces[row, col]:
                under.add(int(pieces[row, col]))
        if not under:  # no click, or clicks off the mask: the largest piece
            under = {int(np.argmax(np.bincount(pieces.ravel())[1:]) + 1)}
        return np.isin(pieces, sorted(under))


def overlapping_box(box: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(h, w) bool: the pixels (pixel j spans [j, j + 1)) with some part inside the XYXY box."""
    x0, y0, x1, y1 = np.asarray(box, np.float64).reshape(4)
    cols, rows = np.arange(hw[1]), np.arange(hw[0])
    return ((rows + 1 > y0) & (rows < y1))[:, None] & ((cols + 1 > x0) & (cols < x1))[None, :]


def prompt_in_logits(points: tuple[torch.Tensor, torch.Tensor] | None, image_hw: tuple[int, int], input_size: int,
                     logits_hw: tuple[int, int]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The clean-up's anchors and box for a map of logits_hw logits over the whole image: the
    one place they are derived, from the prompt as the model is given it (`prompts.model_points`:
    ((1, N, 2) coords at the input_size square input, (1, N) labels), box corners labelled 2 and 3).
    Returns (anchors: (K, 2) (x, y) of the positive clicks, None without one; box: (4,) XYXY,
    None without one), in the logits' continuous pixels (pixel j spans [j, j + 1))."""
    if points is None:
        return None, None
    coords, labels = np.asarray(points[0], np.float32).reshape(-1, 2), np.asarray(points[1]).reshape(-1)
    height, width = image_hw
    edges = coords + 0.5 * input_size / np.array([width, height], np.float32)  # an image pixel j spans [j, j + 1)
    to_logits = np.array([logits_hw[1], logits_hw[0]], np.float32) / input_size  # per axis: x, y
    anchors = edges[labels == 1] * to_logits
    box = None
    if (labels == BOX_TOP_LEFT).any():
        box = (np.stack([edges[labels == BOX_TOP_LEFT][-1], edges[labels == BOX_BOTTOM_RIGHT][-1]]) * to_logits).reshape(4)
    return (anchors if len(anchors) else None), box


PLAIN_BOXES = MaskCleanup(box_centre_click=False, inside_box=False)  # the clean-up, boxes read by the model alone


WINDOW_STEP = 8  # cells: window sides are rounded up to a multiple, so that masks of similar size go together


def _windows(low: torch.Tensor, factor: int, reach: int) -> dict[tuple[int, int], list[tuple[int, int, int]]]:
    """(rows, columns) -> (b, top, left) of windows of that many cells, one for each of the
    (B, h, w) logits with a positive cell, whose bilinear upsampling by `factor` holds every
    positive pixel of the whole map's and every pixel within `reach` of one, each with the whole
    map's value. Upsampling a crop gives the whole map's values but where the crop clamps the
    sources (about factor / 2 pixels at each edge); positive pixels lie within factor / 2 pixels
    of their cells. Two cells of margin beyond `reach` keep both apart (and no source near the
    crop's edge is positive); a larger window, kept inside the map, only adds margin."""
    B, h, w = low.shape
    margin = 2 + -(-reach // factor)
    positive = low > 0
    spans = []  # per axis, (first, end) of each window
    for along, size in ((positive.any(2), h), (positive.any(1), w)):  # (B, h) rows, (B, w) columns holding one
        first = (along.float().argmax(1) - margin).clamp(min=0)
        end = (size - along.flip(1).float().argmax(1) + margin).clamp(max=size)
        side = (-(-(end - first) // WINDOW_STEP) * WINDOW_STEP).clamp(max=size)
        first = torch.minimum(first, size - side)  # the rounded-up window inside the map
        spans.append(list(zip(first.tolist(), side.tolist())))
    windows: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for b in positive.flatten(1).any(1).nonzero()[:, 0].tolist():
        (top, rows), (left, cols) = spans[0][b], spans[1][b]
        windows.setdefault((rows, cols), []).append((b, top, left))
    return windows


def add_cleanup_flag(command) -> None:
    """`--no-cleanup`, `--keep-dim-masks`, `--keep-touching-masks`, `--choose-by-iou`, `--keep-spread-masks`
    and `--plain-boxes` on an argparse command: args.cleanup is MaskCleanup(), MaskCleanup.off(),
    MaskCleanup(drop_dim=False), MaskCleanup(split_touching=False), MaskCleanup(choose_by_outline=False),
    MaskCleanup(exclude_neighbours=False) or PLAIN_BOXES."""
    command.add_argument("--no-cleanup", dest="cleanup", action="store_const", const=MaskCleanup.off(),
                         default=MaskCleanup(), help="keep the model's masks as they are, from the prompts as given "
                                                     "(default: each mask is the one piece under its click, or the "
                                                     "largest, holes filled, of a click's masks in segment the one on the "
                                                     "strongest edge; a box is given with a click at its centre "
                                                     "and its mask kept inside it; a tracked mask no brighter than "
                                                     "around it means the cell is absent)")
    command.add_argument("--keep-dim-masks", dest="cleanup", action="store_const", const=MaskCleanup(drop_dim=False),
                         help="clean up, but keep tracked masks that are no brighter than around them")
    command.add_argument("--keep-touching-masks", dest="cleanup", action="store_const",
                         const=MaskCleanup(split_touching=False),
                         help="clean up, but leave tracked masks that touch as the model gives them (by default their "
                              "union is split at its necks and each cell goes to the object holding most of it)")
    command.add_argument("--choose-by-iou", dest="cleanup", action="store_const",
                         const=MaskCleanup(choose_by_outline=False),
                         help="clean up, but keep the model's mask of highest predicted IoU for one click (by default "
                              "weighted by the image's edge along each mask's outline)")
    command.add_argument("--keep-spread-masks", dest="cleanup", action="store_const",
                         const=MaskCleanup(exclude_neighbours=False),
                         help="clean up, but keep a click's mask that spreads over neighbouring nuclei (by default the "
                              "model is asked again with a negative click on each of them)")
    command.add_argument("--plain-boxes", dest="cleanup", action="store_const", const=PLAIN_BOXES,
                         help="clean up, but give the model a box alone and keep what it gives outside the box")
