"""One training sequence: the model tracks K objects through T frames under a SequencePlan,
with corrective clicks, and every decoder step is scored against the ground truth."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..engine.memory_bank import MemoryEntry, ObjectMemory
from ..engine.memory_selection import FORWARD
from ..model import ImageEmbedding, SAM2Model
from ..model.frame_steps import (
    Candidates,
    TrackOutput,
    chosen_output,
    condition_on_memory,
    decode_candidates,
    encode_memory,
    mask_as_output,
    without_memory,
)
from .losses import LossWeights, embedding_scale_loss, step_loss, total
from .prompt_simulation import noisy_boxes, uniform_clicks
from .recipe import RecipeConfig, SequencePlan


def frame_features(features: ImageEmbedding, t: int) -> ImageEmbedding:
    return ImageEmbedding(features.embedding[t : t + 1], [h[t : t + 1] for h in features.high_res],
                          features.position_encoding[t : t + 1])


class SequenceRun:
    """State of one sequence: the K objects' memory (one ObjectMemory for the batch), the running loss."""

    def __init__(self, model: SAM2Model, features: ImageEmbedding, gt: torch.Tensor, plan: SequencePlan,
                 recipe: RecipeConfig, weights: LossWeights, generator: torch.Generator):
        self.model, self.features, self.gt, self.plan = model, features, gt, plan  # gt (K, T, S, S) bool
        self.recipe, self.weights, self.generator = recipe, weights, generator
        self.memory = ObjectMemory(obj_id=0)  # every object is prompted and tracked on the same frames
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
        else:
            embedding = without_memory(self.model, raw) if t in self.plan.prompted else self._conditioned(raw, t, K)
            points = self._first_prompt(gt) if t in self.plan.prompted else None
            out = self._decode_and_correct(embedding, raw.high_res, points, gt, t)
        separate = self.recipe.separate_memories and t not in self.plan.prompted
        memory = encode_memory(self.model, raw, out.low_res_logits, out.object_score_logits, binarize=False, separate=separate)
        self.memory_pe = memory.position_encoding
        if t in self.plan.prompted:
            self.memory.prompt(t, MemoryEntry(*out))
            self.memory.condition(t, memory.features)
        else:
            self.memory.passed(t, FORWARD, MemoryEntry(*out, memory.features))

    def _first_prompt(self, gt):
        if self.plan.prompt_kind == "box":
            return noisy_boxes(gt, self.generator)
        return uniform_clicks(gt, None, self.generator)

    def _decode_and_correct(self, embedding, high_res, points, gt, t) -> TrackOutput:
        """Decode, then (on corrected frames) add a click where the kept mask is wrong and decode
        again from it; every decoding is scored."""
        corrections = self.recipe.corrections_per_frame if t in self.plan.corrected else 0
        out = candidates = high = None  # the previous decoding's, from the second step on
        for step in range(1 + corrections):
            if step:
                from_gt = float(torch.rand((), generator=self.generator)) < self.recipe.prob_correction_from_gt
                kept = high[torch.arange(high.shape[0]), candidates.best()]  # (K, S, S)
                click = uniform_clicks(gt, None if from_gt else kept > 0, self.generator)
                points = click if points is None else (torch.cat([points[0], click[0]], 1), torch.cat([points[1], click[1]], 1))
            multimask = points is None or points[0].shape[1] <= 1
            previous = None if out is None else out.low_res_logits
            candidates = decode_candidates(self.model, embedding, high_res, points, previous, multimask)
            high = self._score(candidates, gt)
            out = chosen_output(self.model, candidates)
        return out

    def _score(self, candidates: Candidates, gt) -> torch.Tensor:
        """Adds the loss of every candidate mask; returns them at model-input size (K, M, S, S)."""
        size = self.model.cfg.image_size
        high = F.interpolate(candidates.mask_logits, size=(size, size), mode="bilinear", align_corners=False)
        for k, v in step_loss(high, candidates.iou_scores, candidates.object_score_logits, gt, self.weights).items():
            self.parts[k] = self.parts[k] + v
        self.num_steps += 1
        return high

    def _conditioned(self, raw: ImageEmbedding, t: int, K: int) -> torch.Tensor:
        tokens = self.memory.memory_tokens(self.model, t, FORWARD, self.plan.num_frames, self.memory_pe, training=True)
        batched = ImageEmbedding(raw.embedding.expand(K, -1, -1, -1), raw.high_res, raw.position_encoding)
        return condition_on_memory(self.model, batched, *tokens)


def sequence_loss(model, frames: torch.Tensor, gt: torch.Tensor, plan: SequencePlan, recipe: RecipeConfig,
                  weights: LossWeights, generator: torch.Generator):
    """frames (T, 3, S, S) preprocessed; gt (K, T, S, S) bool. Returns (loss, parts)."""
    features = model.encode_image_raw(frames)
    loss, parts = SequenceRun(model, features, gt, plan, recipe, weights, generator).run()
    parts["embedding_rms"] = float(features.embedding.detach().pow(2).mean().sqrt())
    if weights.embedding_scale > 0:
        loss = loss + weights.embedding_scale * embedding_scale_loss(features.embedding)
    return loss, parts
