"""Segmentation of one image of any size with cells at the size the model prefers: the image is
resampled by (preferred diameter / cell diameter), cut into overlapping tiles of the model's
input (engine/tiling.py), and each prompt is decoded in the tile that holds it nearest its
centre. A tile's features are computed the first time a prompt falls in it, once. Masks come
back at the image's resolution."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..model import SAM2Model
from .device import resolve_precision
from .image_predictor import ImagePredictor, Prediction
from .postprocess import MaskCleanup
from .preprocessing import Normalization, as_channels_last, check_values, pick_channels, to_unit_rgb
from .prompts import Prompt, check_prompt
from .scale import check_cell_diameter, diameter_to_use, plan_for_cells
from .tiling import LocalLogits, TilePlan, prompt_extent, resample, tile_input, tile_logits_to_original


class TiledImagePredictor:
    """`set_image` then `predict(points, labels)` (or a box), like `ImagePredictor`, at any image size.

    cell_diameter: a typical cell's width in pixels of the images to come; None estimates it from
    each image (`cell_diameter_used` tells what was used). Coordinates are (x, y) pixels of the
    original image, boxes XYXY, labels 1 positive / 0 negative."""

    def __init__(self, model: SAM2Model, cell_diameter: float | None = None, mask_threshold: float = 0.0,
                 normalization: Normalization = Normalization(), precision: str = "auto",
                 cleanup: MaskCleanup = MaskCleanup(), averaged_views: bool | None = None):
        self.model = model.eval()
        self.cleanup = cleanup  # applied to each tile's masks (see ImagePredictor)
        self.averaged_views = averaged_views  # each tile's masks averaged over views of it (see ImagePredictor)
        self.cell_diameter = None if cell_diameter is None else check_cell_diameter(cell_diameter)
        self.mask_threshold = mask_threshold
        self.normalization = normalization
        self.precision = resolve_precision(precision, model)  # "auto" decided once, see device.py
        self.cell_diameter_used: float | None = None
        self.plan: TilePlan | None = None
        self._scaled: torch.Tensor | None = None  # (1, 3, H', W') in [0, 1]
        self._unit: np.ndarray | None = None  # (H, W) in [0, 1]
        self._tile_predictors: dict[tuple[int, int], ImagePredictor] = {}

    @property
    def tiles_embedded(self) -> list[tuple[int, int]]:
        """(top, left) of the tiles whose features have been computed, in that order."""
        return list(self._tile_predictors)

    def set_image(self, image: np.ndarray, channel_axis: int | None = None, channels: tuple[int, ...] | None = None) -> None:
        """Resample the image and plan its tiles (features come later, per tile, with prompts)."""
        hwc = as_channels_last(image, channel_axis)
        check_values(hwc)
        picked = pick_channels(hwc, channels, self.normalization.mode)
        unit = to_unit_rgb(picked, self.normalization)  # (H, W, 3)
        diameter = diameter_to_use(self.cell_diameter, picked)
        self.plan = plan_for_cells(unit.shape[:2], diameter, self.model.cfg)
        self._scaled = resample(unit, self.plan.scaled_hw)
        self._unit = unit.max(-1)  # (H, W): the labels written for clicks grow into its cells (outline_image)
        self.cell_diameter_used = diameter
        self._tile_predictors = {}

    def outline_image(self) -> np.ndarray | None:
        """(H, W) the image as the model reads it (its channels' maximum, in [0, 1]), to grow the labels
        written for clicks to the cells' outlines (clicked_outlines.py); None with the clean-up off."""
        return self._unit if self.cleanup.grow_to_outline else None

    def predict(self, points=None, labels=None, box=None, multimask: bool = True,
                return_logits: bool = False) -> Prediction:
        """Masks (M, H, W) at the image's resolution, decoded in one tile; `low_res_logits` are
        that tile's. Prompts of one object must fit in one tile (a few cells across)."""
        local, prediction = self.predict_local(points, labels, box, multimask)
        full = local.full(self.plan.image_hw)
        masks = full if return_logits else full > self.mask_threshold
        return prediction._replace(masks=masks.numpy())

    def predict_local(self, points=None, labels=None, box=None, multimask: bool = True) -> tuple[LocalLogits, Prediction]:
        """The masks' logits over the original pixels of the tile used only (cheap on large images),
        and the tile's Prediction."""
        if self.plan is None:
            raise RuntimeError("no image set: call set_image(image) before predict(...)")
        prompt = check_prompt(self.plan.image_hw, points, labels, box)
        top, left = self.plan.tile_for(prompt_extent(prompt))
        tile_points, tile_labels, tile_box = self.plan.prompt_in_tile(prompt, top, left)
        prediction = self._tile_predictor(top, left).predict(tile_points, tile_labels, tile_box, multimask=multimask,
                                                             return_logits=True)
        to_image = 1 / self.plan.length_factor  # the warnings in the image's pixels, not the tile's
        prediction = prediction._replace(warnings=tuple(w and w.in_pixels_of(to_image) for w in prediction.warnings))
        local = tile_logits_to_original(torch.from_numpy(prediction.masks), self.plan, top, left)
        return self._cleaned(local, prompt), prediction

    def _cleaned(self, local: LocalLogits, prompt: Prompt) -> LocalLogits:
        """The clean-up once more on the logits at the original pixels: resampled from the tile's,
        a mask kept in one piece there may fall apart at a thin neck."""
        given = self.cleanup.model_prompt(prompt)  # as the model was given it: a box's centre click anchors too
        y0, _, x0, _ = local.box
        to_local = np.array([x0, y0], np.float32) - 0.5  # an original pixel j spans [j, j + 1) of the logits
        positive = given.points[given.labels == 1] - to_local
        box = None if given.box is None else given.box - np.tile(to_local, 2)
        return replace(local, logits=self.cleanup.apply(local.logits, positive if len(positive) else None, box))

    def _tile_predictor(self, top: int, left: int) -> ImagePredictor:
        """The tile's predictor, its features computed on first use."""
        if (top, left) not in self._tile_predictors:
            predictor = ImagePredictor(self.model, self.mask_threshold, self.normalization, self.precision, self.cleanup,
                                       self.cell_diameter_used * self.plan.length_factor, self.averaged_views)
            predictor.set_model_input(tile_input(self._scaled, top, left, self.plan.tile), (self.plan.tile, self.plan.tile))
            self._tile_predictors[(top, left)] = predictor
        return self._tile_predictors[(top, left)]
