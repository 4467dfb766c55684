"""Interactive segmentation of one image: embed it once, then answer prompts quickly."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..model import ImageEmbedding, SAM2Model
from .averaged_views import averaged_output, view_inputs, view_mask_logits, view_points, views_for
from .device import autocast, resolve_precision
from .mask_check import MaskWarning, mask_warning
from .postprocess import MaskCleanup, prompt_in_logits
from .preprocessing import Normalization, preprocess
from .prompts import check_prompt, mask_to_logits, model_points


class Prediction(NamedTuple):
    """Masks for one prompt (M = 3 or 1); `masks[best]` is the one to keep."""

    masks: np.ndarray  # (M, H, W) bool at the image's resolution (or float logits with return_logits)
    scores: np.ndarray  # (M,) predicted IoU of each mask
    low_res_logits: np.ndarray  # (M, 4h, 4w) logits, to pass back as `mask_logits` to refine
    object_score: float  # logit; > 0 where the model believes the object is present
    warnings: tuple[MaskWarning | None, ...] = ()  # (M,) per mask: empty or implausibly large (mask_check.py)
    best: int = 0  # the mask to keep: for one click, by predicted IoU and outline (MaskCleanup.choose_by_outline)


class ImagePredictor:
    """Set an image once with `set_image`, then call `predict` with points, a box and/or a mask.

    Coordinates are (x, y) pixels of the original image; boxes are XYXY; labels 1 = positive,
    0 = negative. Images: 2-D, or (H, W, C) with any number of channels, uint8/uint16/float (see
    `napari_sam2.engine.preprocessing` for the normalisation rule).
    """

    def __init__(self, model: SAM2Model, mask_threshold: float = 0.0, normalization: Normalization = Normalization(),
                 precision: str = "auto", cleanup: MaskCleanup = MaskCleanup(), cell_diameter: float | None = None,
                 averaged_views: bool | None = None):
        """precision: "auto" (bfloat16 where the hardware runs it fast, else float32: see
        device.resolve_precision), "float32", "bfloat16" or "float16"; `self.precision` is the
        one chosen. cleanup: the masks' post-processing (one piece, no holes;
        engine/postprocess.py); MaskCleanup.off() for the model's masks as they are.
        cell_diameter: a typical cell's width in the image's pixels, if known: a click's mask is
        then judged against that cell's area rather than the image's (engine/mask_check.py).
        averaged_views: decode the image, its mirror images and these moved by half a patch, and
        average the masks (engine/averaged_views.py: better masks, at 8 times the embedding
        time); False for the model's masks of the image alone; None: averaged for models of
        small input (the embedded one), the image alone for the official 1024 px models
        (averaged_views.views_for)."""
        self.model = model.eval()
        self.views = views_for(model.cfg.image_size, averaged_views)
        self.cleanup = cleanup
        self.cell_diameter = cell_diameter
        self.precision = resolve_precision(precision, model)
        self.mask_threshold = mask_threshold
        self.normalization = normalization
        self._embedding: ImageEmbedding | None = None
        self._image_hw: tuple[int, int] | None = None
        self._input: torch.Tensor | None = None

    @property
    def image_size(self) -> int:
        return self.model.cfg.image_size

    @property
    def image_hw(self) -> tuple[int, int] | None:
        return self._image_hw

    def set_image(self, image: np.ndarray, channel_axis: int | None = None, channels: tuple[int, ...] | None = None) -> None:
        """Compute the image embedding (the slow step, once per image)."""
        tensor, hw = preprocess(image, self.image_size, channel_axis, channels, self.normalization)
        self.set_model_input(tensor, hw)

    @torch.no_grad()
    def set_model_input(self, tensor: torch.Tensor, image_hw: tuple[int, int]) -> None:
        """Embed an already preprocessed (1, 3, S, S) tensor standing for an image of size image_hw."""
        expected = (1, 3, self.image_size, self.image_size)
        if tuple(tensor.shape) != expected:
            raise ValueError(f"model input must have shape {expected}, got {tuple(tensor.shape)}")
        with autocast(self.precision, self.model):
            self._embedding = self.model.encode_image(view_inputs(tensor.to(self.model.device), self.views))  # one per view
        self._image_hw = image_hw
        self._input = tensor.cpu()  # (1, 3, S, S): choosing among a click's masks reads its edges

    def predict(
        self,
        points=None,
        labels=None,
        box=None,
        mask=None,
        mask_logits=None,
        multimask: bool = True,
        return_logits: bool = False,
    ) -> Prediction:
        """points (N, 2) (x, y) with labels (N,); box (4,) XYXY; mask (H, W) bool; or
        mask_logits (1, 4h, 4w) from a previous Prediction. One click is ambiguous: keep
        `multimask=True` then and pick by score; several prompts are not: use False."""
        if self._embedding is None:
            raise RuntimeError("no image set: call set_image(image) before predict(...)")
        hw = self._image_hw
        logits_prompt = self._check_mask_logits(mask_logits)
        has_other = any(p is not None for p in (points, labels, box, mask))
        prompt = check_prompt(hw, points, labels, box, mask) if has_other or logits_prompt is None else None
        return self._decode(prompt, logits_prompt, multimask, return_logits)

    def _check_mask_logits(self, mask_logits) -> torch.Tensor | None:
        if mask_logits is None:
            return None
        side = 4 * self.model.cfg.embedding_size
        m = torch.as_tensor(np.asarray(mask_logits), dtype=torch.float32)
        if m.shape[-2:] != (side, side) or m.numel() != side * side:
            raise ValueError(f"mask_logits must be (1, {side}, {side}) low-resolution logits from a previous prediction, "
                             f"got {tuple(m.shape)}")
        return m.reshape(1, 1, side, side)

    @torch.no_grad()
    def _decode(self, prompt, logits_prompt, multimask: bool, return_logits: bool) -> Prediction:
        device, size = self.model.device, self.image_size
        given, logits_given = prompt, logits_prompt is not None
        prompt = None if prompt is None else self.cleanup.model_prompt(prompt)
        points = model_points(prompt, self._image_hw, size) if prompt is not None else None
        if prompt is not None and prompt.mask is not None:
            logits_prompt = mask_to_logits(prompt.mask, 4 * self.model.cfg.embedding_size)
        used = torch.ones(len(self.views), dtype=torch.bool)  # (V,) the views averaged
        viewed = None
        if points is not None:
            *viewed, used = view_points(points, size, self.views)
            viewed = tuple(t.to(device) for t in viewed)
        if logits_prompt is not None:
            logits_prompt = view_mask_logits(logits_prompt.to(device), self.views)
        with autocast(self.precision, self.model):
            out = averaged_output(self.model.decode(self._embedding, viewed, None, logits_prompt, multimask),
                                  used.to(device), self.views)
        low = out.mask_logits.cpu().float()  # (1, M, 4h, 4w)
        low_anchors, _ = prompt_in_logits(points, self._image_hw, size, tuple(low.shape[-2:]))
        best = int(self.cleanup.chosen_candidates(out.iou_scores.cpu(), low, self._input, low_anchors)[0])
        model_full = F.interpolate(low, size=self._image_hw, mode="bilinear", align_corners=False)[0]
        anchors, box = prompt_in_logits(points, self._image_hw, size, self._image_hw)
        full = self.cleanup.apply(model_full, anchors, box)
        binary = (full > self.mask_threshold).cpu().numpy()
        model_binary = (model_full > self.mask_threshold).cpu().numpy()  # (M, H, W): what the clean-up may not hide
        prediction = Prediction(
            full.cpu().numpy() if return_logits else binary,
            out.iou_scores[0].cpu().numpy(),
            low[0].clamp(-32.0, 32.0).cpu().numpy(),
            float(out.object_score_logits),
            tuple(mask_warning(mask, given, self.image_size, model_mask, self.cell_diameter)
                  for mask, model_mask in zip(binary, model_binary)),
            best,
        )
        again = None if logits_given else self.cleanup.asked_again(given, binary[best], self._input, self.cell_diameter)
        if again is None:
            return prediction
        # the mask spreads over other nuclei: asked again with them as negative clicks, the answer kept in its place
        return with_best_replaced(prediction, self._decode(again, None, False, return_logits))


def with_best_replaced(prediction: Prediction, corrected: Prediction) -> Prediction:
    """`prediction` with its kept mask (`best`) replaced by the single mask of `corrected`: the other
    candidates stay, so a one-click prediction keeps its M masks."""
    best = prediction.best
    masks, scores, low = prediction.masks.copy(), prediction.scores.copy(), prediction.low_res_logits.copy()
    masks[best], scores[best], low[best] = corrected.masks[0], corrected.scores[0], corrected.low_res_logits[0]
    warnings = list(prediction.warnings)
    warnings[best] = corrected.warnings[0]
    return prediction._replace(masks=masks, scores=scores, low_res_logits=low, object_score=corrected.object_score,
                               warnings=tuple(warnings))
