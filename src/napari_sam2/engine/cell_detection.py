"""Finding the cells of a frame without clicks, with the model itself (SAM's automatic mask
generation, for cells): a grid of one-click prompts decoded in batches over one image embedding,
candidates kept by predicted IoU, stability, object score and cell-like size, then overlap
suppression and a label image with one id per cell."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..model import ImageEmbedding, SAM2Model
from .cell_candidates import centre_points
from .device import autocast, check_precision
from .instance_masks import label_image, mask_overlap_matrices, suppress_overlaps
from .preprocessing import Normalization, as_channels_last, is_blank, preprocess
from .prompts import Prompt, model_points
from .scale import scaled_area, scaled_length, size_ratio

PROMPT_PLACES = ("grid", "centres")


@dataclass(frozen=True)
class DetectionParams:
    """How cells are found. Defaults chosen with the embedded model on held-out simulated nuclei
    (seeds 2^30 + 0..9, benchmarks/bench_cell_detection.py: radius 6-14 px in 128 px frames); sizes
    are in pixels of the frame as given, for cells about TRAINED_MEAN_DIAMETER (20 px) across:
    `for_cells` gives them for other cells (scale.size_ratio). detect_cells uses them as they are
    (large frames or large cells want resampling first); the automatic tracker resamples and tiles
    (tiled_detection.py) and scales them to its cells' diameter."""

    prompts: str = "grid"  # where the model is clicked: "grid" (points_per_side**2 clicks over the frame,
    # SAM's automatic mask generation) or "centres" (one click at each probable nucleus centre found the
    # classical way, cell_candidates.py: the model still draws every mask and the filters still apply)
    points_per_side: int = 16  # grid of points_per_side**2 one-click prompts spread over the frame
    points_per_batch: int = 128  # prompts decoded at once (memory: 3 x this many frame-sized masks)
    multimask: bool = True  # keep the model's 3 masks per click as candidates (whole / part / cluster)
    min_predicted_iou: float = 0.5  # the model's own estimate of its mask's IoU
    min_stability: float = 0.9  # IoU of the mask at logit thresholds +-stability_offset
    stability_offset: float = 1.0  # logit shift for the stability score
    min_object_score: float = 0.0  # object-score logit: > 0 where the model sees an object
    click_inside: bool = True  # keep a mask only if it holds its own click (clicks on background
    # give masks elsewhere or nothing: the embedded model's predicted IoU does not tell them apart)
    min_area: int = 30  # smallest cell, px (also applied after overlaps are resolved)
    min_distance: int = 5  # closest two probable nucleus centres (prompts="centres"), px: about a radius
    max_area_fraction: float = 0.1  # largest cell as a fraction of the area decoded: the frame's
    # (detect_cells) or a tile's (the tiled detection of the automatic tracker)
    max_overlap_iou: float = 0.5  # mask IoU above which the lower-scored of two candidates goes
    max_contained: float = 0.5  # ... or this fraction of the smaller one inside the other (a part of a cell)
    refinements: int = 1  # times to click again at the deepest point of each kept mask, then suppress
    # again (a central click gives the model's best mask; grid clicks near a cell's edge give parts)
    precision: str = "auto"  # bfloat16 where the hardware runs it fast, else float32 (device.resolve_precision)

    def __post_init__(self) -> None:
        if self.points_per_side < 1 or self.points_per_batch < 1:
            raise ValueError(f"points_per_side and points_per_batch must be >= 1, got "
                             f"{self.points_per_side} and {self.points_per_batch}")
        if self.prompts not in PROMPT_PLACES:
            raise ValueError(f"prompts must be one of {', '.join(PROMPT_PLACES)}, got {self.prompts!r}")
        if self.refinements < 0:
            raise ValueError(f"refinements counts second clicks: 0 or more, got {self.refinements}")
        if not 0.0 < self.max_area_fraction <= 1.0:
            raise ValueError(f"max_area_fraction is a fraction of the frame (0, 1], got {self.max_area_fraction}")
        check_precision(self.precision)

    def for_cells(self, cell_diameter: float) -> DetectionParams:
        """These settings for cells `cell_diameter` px across (sizes scaled by scale.size_ratio)."""
        ratio = size_ratio(cell_diameter)
        return replace(self, min_area=scaled_area(self.min_area, ratio),
                       min_distance=scaled_length(self.min_distance, ratio))


class CellDetections(NamedTuple):
    """The cells found in one frame."""

    labels: np.ndarray  # (H, W) int32, 0 background, cells 1..K numbered by decreasing score
    scores: np.ndarray  # (K,) float32 score of cell k + 1: predicted IoU x stability score


class _Candidates(NamedTuple):
    masks: np.ndarray  # (N, H, W) bool
    scores: np.ndarray  # (N,) predicted IoU x stability


def grid_points(hw: tuple[int, int], per_side: int) -> np.ndarray:
    """(per_side**2, 2) (x, y) pixel centres of a per_side x per_side grid of equal cells."""
    steps = (np.arange(per_side) + 0.5) / per_side  # fractions of the side, never on the border
    ys, xs = np.meshgrid(steps * hw[0] - 0.5, steps * hw[1] - 0.5, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def stability_scores(logits: torch.Tensor, threshold: float, offset: float) -> torch.Tensor:
    """(B, H, W) logits -> (B,): IoU of the mask at threshold + offset with the one at threshold - offset
    (the first lies inside the second, so the IoU is a ratio of areas)."""
    inner = (logits > threshold + offset).flatten(1).sum(1)
    outer = (logits > threshold - offset).flatten(1).sum(1)
    return inner.float() / outer.float().clamp(min=1)


@torch.no_grad()
def _decode_batch(model: SAM2Model, embedding: ImageEmbedding, points: np.ndarray, hw: tuple[int, int],
                  params: DetectionParams) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One click per prompt -> ((B*M, H, W) logits at the frame's size, (B*M,) predicted IoU,
    (B*M,) object-score logits)."""
    grid = Prompt(points, np.ones(len(points), np.int32), None, None)
    xy, labels = model_points(grid, hw, model.cfg.image_size)  # (1, B, 2), (1, B)
    xy, labels = xy.reshape(-1, 1, 2), labels.reshape(-1, 1)  # B prompts of one click each
    device = model.device
    with autocast(params.precision, model):
        out = model.decode(embedding, (xy.to(device), labels.to(device)), None, None, params.multimask)
    b, m = out.iou_scores.shape
    logits = F.interpolate(out.mask_logits.float(), size=hw, mode="bilinear", align_corners=False)
    object_scores = out.object_score_logits.float().expand(b, m)
    return logits.reshape(b * m, *hw), out.iou_scores.float().reshape(-1), object_scores.reshape(-1)


def _at_clicks(logits: torch.Tensor, points: np.ndarray) -> torch.Tensor:
    """(B*M, H, W) logits of B clicks x M masks -> (B*M,) logit at each mask's own click."""
    hw = logits.shape[-2:]
    cols = np.clip(np.rint(points[:, 0]), 0, hw[1] - 1).astype(np.int64)
    rows = np.clip(np.rint(points[:, 1]), 0, hw[0] - 1).astype(np.int64)
    per_click = len(logits) // len(points)
    index = torch.arange(len(logits))
    return logits[index, torch.from_numpy(rows).repeat_interleave(per_click),
                  torch.from_numpy(cols).repeat_interleave(per_click)]


def _keep(logits: torch.Tensor, ious: torch.Tensor, stability: torch.Tensor, object_scores: torch.Tensor,
          points: np.ndarray, threshold: float, params: DetectionParams) -> torch.Tensor:
    """(B*M,) bool: the candidates that pass every filter."""
    area = (logits > threshold).flatten(1).sum(1)
    max_area = params.max_area_fraction * logits.shape[-2] * logits.shape[-1]
    inside = _at_clicks(logits, points) > threshold if params.click_inside else torch.ones_like(ious, dtype=torch.bool)
    return (inside & (ious >= params.min_predicted_iou) & (stability >= params.min_stability)
            & (object_scores > params.min_object_score) & (area >= params.min_area) & (area <= max_area))


def central_points(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool -> (N, 2) (x, y) of each mask's pixel farthest from its edge (N may be 0)."""
    points = np.zeros((len(masks), 2), np.float32)
    for index, mask in enumerate(masks):
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        if not len(rows):
            continue
        window = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]  # the mask's box: the transform's cost
        depth = ndimage.distance_transform_edt(np.pad(window, 1))[1:-1, 1:-1]
        y, x = np.unravel_index(np.argmax(depth), depth.shape)
        points[index] = x + cols[0], y + rows[0]
    return points


def _candidates(model: SAM2Model, embedding: ImageEmbedding, hw: tuple[int, int], points: np.ndarray,
                params: DetectionParams, threshold: float) -> _Candidates:
    """The masks answering one click at each of points (N, 2) that pass every filter."""
    masks, scores = [], []
    for start in range(0, len(points), params.points_per_batch):
        batch = points[start:start + params.points_per_batch]
        logits, ious, object_scores = _decode_batch(model, embedding, batch, hw, params)
        stability = stability_scores(logits, threshold, params.stability_offset)
        keep = _keep(logits, ious, stability, object_scores, batch, threshold, params)
        masks.append((logits[keep] > threshold).cpu().numpy())
        scores.append((ious * stability)[keep].cpu().numpy())  # the embedded model's IoU alone ranks poorly
    if not masks:
        return _Candidates(np.zeros((0, *hw), bool), np.zeros(0, np.float32))
    return _Candidates(np.concatenate(masks), np.concatenate(scores))


def _suppress(found: _Candidates, params: DetectionParams) -> _Candidates:
    iou, contained = mask_overlap_matrices(found.masks)  # (N, N) each
    kept = suppress_overlaps((iou > params.max_overlap_iou) | (contained > params.max_contained), found.scores)
    return _Candidates(found.masks[kept], found.scores[kept])


def _prompt_points(hwc: np.ndarray, params: DetectionParams) -> np.ndarray:
    """(N, 2) (x, y) of the first clicks on an (H, W, C) frame (candidates from the channels' mean)."""
    if params.prompts == "centres":
        return probable_centres(hwc, params)
    return grid_points(hwc.shape[:2], params.points_per_side)


def probable_centres(hwc: np.ndarray, params: DetectionParams) -> np.ndarray:
    """(N, 2) (x, y) of the probable nucleus centres of an (H, W, C) frame (the channels' mean)."""
    return centre_points(hwc.mean(axis=-1), params.min_distance, params.min_area)


def cells_at(model: SAM2Model, embedding: ImageEmbedding, hw: tuple[int, int], points: np.ndarray,
             params: DetectionParams, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The cells one image embedding shows at the clicks `points` (N, 2) (x, y) of an image of hw:
    ((K, H, W) bool masks, (K,) scores), filtered, overlaps suppressed, clicked again at their
    deepest point `params.refinements` times."""
    found = _suppress(_candidates(model, embedding, hw, points, params, threshold), params)
    for _ in range(params.refinements):
        central = _candidates(model, embedding, hw, central_points(found.masks), replace(params, multimask=False),
                              threshold)
        found = _suppress(central, params)
    return found.masks, found.scores


@torch.no_grad()
def detect_cells(model: SAM2Model, image: np.ndarray, params: DetectionParams = DetectionParams(),
                 channel_axis: int | None = None, channels: tuple[int, ...] | None = None,
                 normalization: Normalization = Normalization(), mask_threshold: float = 0.0) -> CellDetections:
    """Find the cells of one frame (2-D, or (H, W, C)) with no prompt: the image is embedded once,
    then a grid of clicks is decoded in batches. Returns a label image with one id per cell (no
    overlaps: a shared pixel goes to the better-scored cell) and each cell's score."""
    hwc = as_channels_last(image, channel_axis)
    if is_blank(hwc):  # a blank frame holds no cell; in a time-lapse it must not stop the run
        return CellDetections(np.zeros(hwc.shape[:2], np.int32), np.zeros(0, np.float32))
    tensor, hw = preprocess(image, model.cfg.image_size, channel_axis, channels, normalization)
    with autocast(params.precision, model):
        embedding = model.encode_image(tensor.to(model.device))
    masks, scores = cells_at(model.eval(), embedding, hw, _prompt_points(hwc, params), params, mask_threshold)
    labels, scores = label_image(masks, scores, params.min_area)
    return CellDetections(labels, scores)
