"""Averaged views of one image for the image predictor (issue 19): the image as it is, flipped
left-right, up-down and both, each also moved by half a patch; every prompt is decoded in every
view with its points and box moved alike, and the masks' logits are brought back and averaged.
The embedded model's masks follow its 16 px patch grid (straight cuts through a nucleus, square
patches on a neighbour) and under-segment large nuclei, in ways that differ between views of one
cell; their mean does not. Measured with one click per nucleus at its centre
(`cd benchmarks; python bench_real_images.py`, README "Averaged views").

Coordinates are the model's input's, where the prompt encoder reads a point x as the continuous
position x + 0.5 of the S x S input: mirrored, it lies at S - (x + 0.5), the point S - 1 - x; a
view moved by d px down and right holds it at x + d. Mask logits are S/4 a side, so half a patch
(8 px) is 2 of their cells and every view maps back onto them exactly."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from ..model import ImageEmbedding, SAM2Model
from ..model.frame_steps import TrackOutput, chosen_output, decode_candidates, without_memory
from ..model.mask_decoder import DecoderOutput
from ..model.prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT
from .preprocessing import imagenet_normalize

HALF_PATCH = 8  # px of the model's input: half the backbone's 16 px patch
LOGITS_PER_INPUT = 4  # input px per cell of the mask logits (S/4 a side)


@dataclass(frozen=True)
class View:
    rows_flipped: bool
    columns_flipped: bool
    shift: int  # px the flipped input is moved down and right; the uncovered band is the image's low level


MIRRORS = ((False, False), (False, True), (True, False), (True, True))
VIEWS = tuple(View(rows, columns, shift) for shift in (0, HALF_PATCH) for rows, columns in MIRRORS)
ONE_VIEW = VIEWS[:1]
# Averaged views by default only for models whose input is at most this many px a side: 8 embeddings
# of the embedded model's 256 px input take about what one 1024 px embedding of an official model
# does on a CPU, while 8 of those would make every new image several seconds slower, and the gain
# was measured on the embedded model only.
MAX_AVERAGED_INPUT = 512


def views_for(model_input_size: int, averaged_views: bool | None = None) -> tuple[View, ...]:
    """The views an image predictor (and a tracker, on a frame clicked with no memory) decodes:
    all VIEWS if averaged_views, the image alone if False; None (the default everywhere): VIEWS
    for models of input <= MAX_AVERAGED_INPUT."""
    if averaged_views is None:
        averaged_views = model_input_size <= MAX_AVERAGED_INPUT
    return VIEWS if averaged_views else ONE_VIEW


def view_inputs(tensor: torch.Tensor, views=VIEWS) -> torch.Tensor:
    """(1, 3, S, S) normalised model input -> (V, 3, S, S), the image as each view sees it."""
    low = imagenet_normalize(torch.zeros(1, 3, 1, 1, dtype=tensor.dtype, device=tensor.device))[0]
    return torch.stack([_moved(_flipped(tensor[0], view), view.shift, low) for view in views])


def view_mask_logits(logits: torch.Tensor, views=VIEWS) -> torch.Tensor:
    """(1, 1, S/4, S/4) mask logits prompt -> (V, 1, S/4, S/4) as each view sees it."""
    return torch.stack([_moved(_flipped(logits[0], view), view.shift // LOGITS_PER_INPUT, logits.min())
                        for view in views])


def view_points(points: tuple[torch.Tensor, torch.Tensor], size: int, views=VIEWS):
    """((1, N, 2) coords on the S x S input, (1, N) labels) -> ((V, N, 2), (V, N), (V,) bool: the
    view is used, unmoved or all its points on its input). A box's corners stay top-left
    (label 2) and bottom-right (label 3)."""
    coords, labels = points
    corner = (labels[0] == BOX_TOP_LEFT) | (labels[0] == BOX_BOTTOM_RIGHT)  # (N,)
    seen = []
    for view in views:
        moved = coords[0].clone()  # (N, 2) x, y
        for axis, flip in ((1, view.rows_flipped), (0, view.columns_flipped)):
            if flip:
                moved[:, axis] = size - 1 - moved[:, axis]
                if corner.any():  # the box's two corners trade this coordinate
                    moved[corner, axis] = moved[corner, axis].flip(0)
        seen.append(moved + view.shift)
    coords = torch.stack(seen)
    unmoved = torch.tensor([view.shift == 0 for view in views])
    inside = unmoved | (coords <= size - 0.5).flatten(1).all(1)  # a moved view may lose a point past its edge
    return coords, labels.expand(len(views), -1), inside


def mean_of_views(logits: torch.Tensor, used: torch.Tensor, views=VIEWS) -> torch.Tensor:
    """(V, M, h, w) mask logits of the views -> (1, M, h, w): each view's brought back in place
    and averaged, per cell over the `used` (V,) views that see it."""
    total, count = torch.zeros_like(logits[0]), torch.zeros_like(logits[0, :1])
    for view_logits, view, use in zip(logits, views, used.tolist()):
        if not use:
            continue
        cells = view.shift // LOGITS_PER_INPUT
        total += _flipped(_moved_back(view_logits, cells, 0.0), view)
        count += _flipped(_moved_back(torch.ones_like(view_logits[:1]), cells, 0.0), view)
    return (total / count)[None]


def averaged_output(out: DecoderOutput, used: torch.Tensor, views=VIEWS) -> DecoderOutput:
    """The decoder's output for the V views of one object (batch V) -> that of the object
    (batch 1): mask logits brought back and averaged (mean_of_views), predicted IoU and object
    score averaged over the `used` views; the output tokens (object pointers) are the image's
    own (view 0), since the memory is encoded from the image as it is."""
    return DecoderOutput(
        mean_of_views(out.mask_logits.float(), used, views),
        out.iou_scores.float()[used].mean(0, keepdim=True),
        out.mask_tokens[:1],
        out.object_score_logits.float()[used].mean(0, keepdim=True),
    )


def decode_in_views(model: SAM2Model, frame_input: torch.Tensor, raw: ImageEmbedding, views, points, prev_logits,
                    multimask: bool) -> TrackOutput:
    """A tracker's first prompt on a frame (no memory) decoded in every view and the views'
    outputs averaged into one. frame_input (1, 3, S, S) the frame's model input; raw its
    features (view 0's, cached by the tracker); points ((1, N, 2), (1, N)) on the input;
    prev_logits (1, 1, S/4, S/4) or None."""
    others = model.encode_image_raw(view_inputs(frame_input, views[1:]))
    all_views = ImageEmbedding(torch.cat([raw.embedding, others.embedding]),
                               [torch.cat(pair) for pair in zip(raw.high_res, others.high_res)], None)
    *viewed, used = view_points(points, model.cfg.image_size, views)
    prev = None if prev_logits is None else view_mask_logits(prev_logits, views)
    average = partial(averaged_output, used=used.to(frame_input.device), views=views)
    candidates = decode_candidates(model, without_memory(model, all_views), all_views.high_res, tuple(viewed), prev,
                                   multimask, combine=average)
    return chosen_output(model, candidates)


def _flipped(maps: torch.Tensor, view: View) -> torch.Tensor:
    dims = [d for d, flipped in ((-2, view.rows_flipped), (-1, view.columns_flipped)) if flipped]
    return maps.flip(dims) if dims else maps


def _moved(maps: torch.Tensor, by: int, fill) -> torch.Tensor:
    """(C, h, w) moved `by` cells down and right, `fill` (a scalar or (C, 1, 1)) where uncovered."""
    if by == 0:
        return maps
    out = torch.empty_like(maps)
    out[...] = fill
    out[:, by:, by:] = maps[:, :-by, :-by]
    return out


def _moved_back(maps: torch.Tensor, by: int, fill: float) -> torch.Tensor:
    """_moved's inverse where the view saw the image; `fill` on the band it did not."""
    if by == 0:
        return maps
    out = torch.full_like(maps, fill)
    out[:, :-by, :-by] = maps[:, by:, by:]
    return out
