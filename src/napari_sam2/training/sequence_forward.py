"""One training sequence: the model tracks K objects through T frames under a SequencePlan,
with corrective clicks, and every decoder step is scored against the ground truth."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..engine.memory_selection import FORWARD, max_pointer_offset, pointer_frames, spatial_memory_frames
from ..model import ImageEmbedding, SAM2Model
from ..model.tracking import (
    NO_OBJECT_LOGIT,
    SpatialMemory,
    condition_on_memory,
    encode_memory,
    mask_as_output,
    memory_tokens,
    no_click,
    without_memory,
)
from .losses import LossWeights, embedding_scale_loss, step_loss, total
from .prompt_simulation import noisy_boxes, uniform_clicks
from .recipe import RecipeConfig, SequencePlan


def frame_features(features: ImageEmbedding, t: int) -> ImageEmbedding:
    return ImageEmbedding(features.embedding[t : t + 1], [h[t : t + 1] for h in features.high_res], features.position_encoding[t : t + 1])


def decode_step(model: SAM2Model, embedding, high_res, points, mask_logits, multimask):
    """Decoder outputs for the loss (all masks at model-input size) and for tracking (the chosen
    low-res mask and its object pointer), absent objects masked out as in tracking."""
    if points is None:
        points = no_click(embedding.shape[0], embedding.device)
    out = model.decode(ImageEmbedding(embedding, high_res, None), points, None, mask_logits, multimask)
    present = out.object_score_logits > 0
    low = torch.where(present[:, :, None, None], out.mask_logits, torch.full_like(out.mask_logits, NO_OBJECT_LOGIT))
    size = model.cfg.image_size
    high = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    rows = torch.arange(low.shape[0])
    best = out.iou_scores.argmax(-1) if multimask else torch.zeros(low.shape[0], dtype=torch.long)
    token = out.mask_tokens[rows, best]
    pointer = model.obj_ptr_proj(token)
    p = present.float()
    pointer = p * pointer + (1 - p) * model.no_obj_ptr
    return high, out.iou_scores, out.object_score_logits, low[rows, best][:, None], pointer


class SequenceRun:
    """State of one sequence: memories and pointers per frame, the running loss."""

    def __init__(self, model: SAM2Model, features: ImageEmbedding, gt: torch.Tensor, plan: SequencePlan,
                 recipe: RecipeConfig, weights: LossWeights, generator: torch.Generator):
        self.model, self.features, self.gt, self.plan = model, features, gt, plan  # gt (K, T, S, S) bool
        self.recipe, self.weights, self.generator = recipe, weights, generator
        self.memories: dict[int, torch.Tensor] = {}
        self.pointers: dict[int, torch.Tensor] = {}
        self.memory_pe: torch.Tensor | None = None
        self.parts = {"focal": 0.0, "dice": 0.0, "iou": 0.0, "presence": 0.0}
        self.num_steps = 0

    def run(self) -> tuple[torch.Tensor, dict[str, float]]:
        for t in self.plan.order:
            self._frame(t)
        K = self.gt.shape[0]
        loss = total(self.parts, self.weights) / K
        return loss, {k: float(torch.as_tensor(v).detach()) / K for k, v in self.parts.items()}

    def _frame(self, t: int) -> None:
        raw = frame_features(self.features, t)
        gt = self.gt[:, t]
        K = gt.shape[0]
        if t in self.plan.prompted and self.plan.prompt_kind == "mask":
            out = mask_as_output(self.model, raw, gt[:, None].float())
            low, pointer, score = out.low_res_logits, out.pointer, out.object_score_logits
        else:
            embedding = without_memory(self.model, raw) if t in self.plan.prompted else self._conditioned(raw, t, K)
            points = self._first_prompt(gt) if t in self.plan.prompted else None
            low, pointer, score = self._decode_and_correct(embedding, raw.high_res, points, gt, t)
        separate = self.recipe.separate_memories and t not in self.plan.prompted
        memory = encode_memory(self.model, raw, low, score, binarize=False, separate=separate)
        self.memories[t], self.memory_pe, self.pointers[t] = memory.features, memory.position_encoding, pointer

    def _first_prompt(self, gt):
        if self.plan.prompt_kind == "box":
            return noisy_boxes(gt, self.generator)
        return uniform_clicks(gt, None, self.generator)

    def _decode_and_correct(self, embedding, high_res, points, gt, t):
        multimask = points is None or points[0].shape[1] <= 1
        high, ious, score, low, pointer = decode_step(self.model, embedding, high_res, points, None, multimask)
        self._score(high, ious, score, gt)
        if t not in self.plan.corrected:
            return low, pointer, score
        for _ in range(self.recipe.corrections_per_frame):
            from_gt = float(torch.rand((), generator=self.generator)) < self.recipe.prob_correction_from_gt
            click = uniform_clicks(gt, None if from_gt else self._chosen(high, ious, multimask) > 0, self.generator)
            points = click if points is None else (torch.cat([points[0], click[0]], 1), torch.cat([points[1], click[1]], 1))
            multimask = points[0].shape[1] <= 1
            high, ious, score, low, pointer = decode_step(self.model, embedding, high_res, points, low, multimask)
            self._score(high, ious, score, gt)
        return low, pointer, score

    @staticmethod
    def _chosen(high, ious, multimask):
        if not multimask:
            return high[:, 0]
        return high[torch.arange(high.shape[0]), ious.argmax(-1)]

    def _score(self, high, ious, score, gt) -> None:
        for k, v in step_loss(high, ious, score, gt, self.weights).items():
            self.parts[k] = self.parts[k] + v
        self.num_steps += 1

    def _conditioned(self, raw: ImageEmbedding, t: int, K: int) -> torch.Tensor:
        cfg = self.model.cfg
        cond = [f for f in self.plan.prompted if f in self.memories]
        tracked = {f for f in self.memories if f not in self.plan.prompted}.__contains__
        spatial = [
            (SpatialMemory(self.memories[s.frame], self.memory_pe), s.slot)
            for s in spatial_memory_frames(t, FORWARD, cond, tracked, cfg.memory.num_maskmem)
        ]
        slots = pointer_frames(t, FORWARD, cond, tracked, self.plan.num_frames, cfg.pointers.max_pointers,
                               cfg.pointers.signed_temporal_encoding, only_past_conditioning=False)
        pointers = torch.stack([self.pointers[s.frame] for s in slots], dim=1) if slots else None
        memory, memory_pe, num_ptr = memory_tokens(
            self.model, spatial, pointers, [s.offset for s in slots], max_pointer_offset(self.plan.num_frames, cfg.pointers.max_pointers)
        )
        batched = ImageEmbedding(raw.embedding.expand(K, -1, -1, -1), raw.high_res, raw.position_encoding)
        return condition_on_memory(self.model, batched, memory, memory_pe, num_ptr)


def sequence_loss(model, frames: torch.Tensor, gt: torch.Tensor, plan: SequencePlan, recipe: RecipeConfig,
                  weights: LossWeights, generator: torch.Generator):
    """frames (T, 3, S, S) preprocessed; gt (K, T, S, S) bool. Returns (loss, parts)."""
    features = model.encode_image_raw(frames)
    loss, parts = SequenceRun(model, features, gt, plan, recipe, weights, generator).run()
    parts["embedding_rms"] = float(features.embedding.detach().pow(2).mean().sqrt())
    if weights.embedding_scale > 0:
        loss = loss + weights.embedding_scale * embedding_scale_loss(features.embedding)
    return loss, parts
