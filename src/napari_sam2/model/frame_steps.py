"""The model calls that make one frame of video tracking, as pure functions of a SAM2Model:
decode (and choose among the candidate masks), condition on memory, encode a new memory.

Which memories a frame sees, and their assembly into tokens, is the engine's memory bank;
these functions only turn given memories, features and prompts into masks, object pointers
and new memories. Batches hold several objects on the same frame.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from .mask_decoder import DecoderOutput
from .sam2 import ImageEmbedding, SAM2Model

NO_OBJECT_LOGIT = -1024.0  # mask logits of an object predicted absent
OVERLAP_LOGIT = -10.0  # where another object's mask is stronger (sigmoid 4.5e-5, as the reference)
MASK_AS_OUTPUT_SCALE, MASK_AS_OUTPUT_BIAS = 20.0, -10.0  # a binary mask prompt as logits
# Memory masks' pixels within this of the memory encoder's background input (its sigmoid bias) are
# taken as background, so that it downsamples only a window around each object
# (model/mask_windows.py): logits below about -9.9, among them the separation's OVERLAP_LOGIT.
MASK_WINDOW_TOLERANCE = 1e-3


class TrackOutput(NamedTuple):
    low_res_logits: torch.Tensor  # (B, 1, 4h, 4w) the chosen mask, NO_OBJECT_LOGIT where absent
    pointer: torch.Tensor  # (B, C) object pointer for later frames' memory
    object_score_logits: torch.Tensor  # (B, 1)


class SpatialMemory(NamedTuple):
    """One frame's memory of a batch of objects."""

    features: torch.Tensor  # (B, mem_dim, h, w) (the tracker stores them in bfloat16, like the reference)
    position_encoding: torch.Tensor  # (1 or B, mem_dim, h, w)


def _pointer_for_presence(model: SAM2Model, pointer: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Absent objects get the learnt "no object" pointer instead of their own."""
    present = present.float()
    return present * pointer + (1 - present) * model.no_obj_ptr


def no_click(batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM 2 always decodes with at least one point: without clicks, a padding point."""
    return torch.zeros(batch, 1, 2, device=device), -torch.ones(batch, 1, dtype=torch.int32, device=device)


class Candidates(NamedTuple):
    """The decoder's candidate masks for a batch of objects on one frame (one, or three with
    multimask), absent objects' masks set to NO_OBJECT_LOGIT."""

    mask_logits: torch.Tensor  # (B, M, 4h, 4w)
    iou_scores: torch.Tensor  # (B, M) predicted IoU
    mask_tokens: torch.Tensor  # (B, M, C)
    object_score_logits: torch.Tensor  # (B, 1)

    def best(self) -> torch.Tensor:
        """(B,) the candidate each object keeps: the highest predicted IoU (the only one
        without multimask)."""
        return self.iou_scores.argmax(dim=-1)


def decode_candidates(
    model: SAM2Model,
    embedding: torch.Tensor,
    high_res: list[torch.Tensor],
    points: tuple[torch.Tensor, torch.Tensor] | None,
    mask_logits: torch.Tensor | None,
    multimask: bool,
    combine: Callable[[DecoderOutput], DecoderOutput] | None = None,
) -> Candidates:
    """Decode a batch of objects on one frame. embedding (B, C, h, w) is the memory-conditioned
    (or no-memory) embedding; points ((B, N, 2), (B, N)) in model-input pixels or None;
    mask_logits (B, 1, H', W') or None. combine: turns the decoder's output of the batch into
    that of fewer objects before presence is decided (e.g. views of one object averaged)."""
    batch = embedding.shape[0]
    if points is None:
        points = no_click(batch, embedding.device)
    input_hw = model.sam_prompt_encoder.mask_input_hw
    if mask_logits is not None and tuple(mask_logits.shape[-2:]) != input_hw:
        mask_logits = F.interpolate(mask_logits.float(), size=input_hw, mode="bilinear", align_corners=False, antialias=True)
    out = model.decode(ImageEmbedding(embedding, high_res, None), points, None, mask_logits, multimask)
    if combine is not None:
        out = combine(out)
    present = out.object_score_logits > 0  # (B, 1)
    logits = torch.where(present[:, :, None, None], out.mask_logits, NO_OBJECT_LOGIT).float()
    return Candidates(logits, out.iou_scores, out.mask_tokens, out.object_score_logits)


def chosen_output(model: SAM2Model, candidates: Candidates) -> TrackOutput:
    """The kept candidate of each object, with its object pointer."""
    rows = torch.arange(candidates.mask_logits.shape[0], device=candidates.mask_logits.device)
    best = candidates.best()
    present = candidates.object_score_logits > 0
    pointer = _pointer_for_presence(model, model.obj_ptr_proj(candidates.mask_tokens[rows, best]), present)
    logits = candidates.mask_logits[rows, best].unsqueeze(1)
    return TrackOutput(logits, pointer.float(), candidates.object_score_logits.float())


def as_absent(model: SAM2Model, out: TrackOutput, absent: torch.Tensor) -> TrackOutput:
    """`out` with the objects where `absent` (B,) bool marked absent as the model marks those it
    does not find: NO_OBJECT_LOGIT masks, the no-object pointer, a score logit <= 0."""
    if not bool(absent.any()):
        return out
    gone = absent.to(out.pointer.device).view(-1, 1)  # (B, 1)
    logits = torch.where(gone[:, :, None, None], torch.full_like(out.low_res_logits, NO_OBJECT_LOGIT), out.low_res_logits)
    pointer = torch.where(gone, model.no_obj_ptr.to(out.pointer.dtype).expand_as(out.pointer), out.pointer)
    scores = torch.where(gone, -out.object_score_logits.abs(), out.object_score_logits)
    return TrackOutput(logits, pointer, scores)


def decode_for_tracking(model: SAM2Model, embedding, high_res, points, mask_logits, multimask: bool) -> TrackOutput:
    """decode_candidates, keeping each object's best candidate."""
    return chosen_output(model, decode_candidates(model, embedding, high_res, points, mask_logits, multimask))


def concat_outputs(outputs: list[TrackOutput]) -> TrackOutput:
    return TrackOutput(*(torch.cat(parts) for parts in zip(*outputs)))


def mask_as_output(model: SAM2Model, raw: ImageEmbedding, mask: torch.Tensor) -> TrackOutput:
    """A mask prompt (B, 1, S, S) in {0, 1} at model-input size is taken as the output itself;
    the decoder only provides its object pointer (from the raw, memory-free features)."""
    mask = mask.float()
    full = mask * MASK_AS_OUTPUT_SCALE + MASK_AS_OUTPUT_BIAS
    low_hw = (full.shape[-2] // 4, full.shape[-1] // 4)
    low = F.interpolate(full, size=low_hw, mode="bilinear", align_corners=False, antialias=True)
    decoded = decode_for_tracking(model, raw.embedding, raw.high_res, None, model.mask_downsample(mask), multimask=False)
    present = mask.flatten(1).gt(0).any(dim=1, keepdim=True)
    score = MASK_AS_OUTPUT_SCALE * present.float() + MASK_AS_OUTPUT_BIAS
    return TrackOutput(low, _pointer_for_presence(model, decoded.pointer, present), score)


def condition_on_memory(model: SAM2Model, raw: ImageEmbedding, memory, memory_pe, num_pointer_tokens: int) -> torch.Tensor:
    """raw.embedding (B or 1, C, h, w) attends to memory (B, M, mem_dim) -> (B, C, h, w)."""
    _, C, h, w = raw.embedding.shape
    B = memory.shape[0]
    features = raw.embedding.flatten(2).transpose(1, 2)
    pe = raw.position_encoding.flatten(2).transpose(1, 2)
    out = model.memory_attention(features, pe, memory, memory_pe, num_pointer_tokens)  # (B, hw, C)
    return out.transpose(1, 2).reshape(B, C, h, w)


def only_where_highest(logits: torch.Tensor, others: torch.Tensor | None = None) -> torch.Tensor:
    """logits (B, 1, H, W) capped at OVERLAP_LOGIT wherever another object's logit is higher,
    among the batch and `others` (R, 1, H, W); a tie goes to the first (the reference's argmax).
    Capping everything, then putting each pixel's winner back, takes fewer passes over a batch
    of full-size masks than choosing per object; the winners are found object by object (a
    running maximum: max over the batch's dimension with its indices took 5x longer)."""
    B = logits.shape[0]
    flat = logits.reshape(B, -1)  # (B, HW)
    with torch.no_grad():  # (in training the gradient goes to each pixel's winner, as before)
        best = flat[0].clone()  # (HW,) the highest logit so far, and its first holder
        owner = torch.zeros_like(best, dtype=torch.long)
        for k in range(1, B):
            owner.masked_fill_(flat[k] > best, k)
            best = torch.maximum(best, flat[k])
        owned = torch.ones_like(best, dtype=torch.bool) if others is None else best >= others.reshape(len(others), -1).amax(0)
        pixels = owned.nonzero()[:, 0]  # where a batch member is the highest of everyone
        winners = owner[pixels]
    capped = logits.clamp(max=OVERLAP_LOGIT)
    capped.view(B, -1)[winners, pixels] = flat[winners, pixels]
    return capped


def without_memory(model: SAM2Model, raw: ImageEmbedding) -> torch.Tensor:
    """The embedding of a frame decoded without memory (a first prompt)."""
    return raw.embedding + model.no_mem_embed.view(1, -1, 1, 1)


def encode_memory(
    model: SAM2Model,
    raw: ImageEmbedding,
    low_res_logits: torch.Tensor,
    object_score_logits: torch.Tensor,
    binarize: bool,
    separate: bool = False,
    others: torch.Tensor | None = None,
) -> SpatialMemory:
    """Memory of a frame from its features and chosen masks (B, 1, 4h, 4w): encode_masks of
    memory_masks (see both)."""
    masks = memory_masks(model, low_res_logits, binarize, separate, others)
    return encode_masks(model, raw, masks, object_score_logits)


def memory_masks(
    model: SAM2Model,
    low_res_logits: torch.Tensor,
    binarize: bool,
    separate: bool = False,
    others: torch.Tensor | None = None,
) -> torch.Tensor:
    """The memory encoder's mask inputs (B, 1, S, S) for chosen masks (B, 1, 4h, 4w). Masks
    from clicks are binarised (the memory then holds exactly what the user saw); tracked masks
    go in soft.

    separate: each object's memory holds only the pixels where its logit is the highest of the
    batch's and of `others` (R, 1, 4h, 4w: objects on this frame outside the batch), as SAM 2's
    `non_overlap_masks_for_mem_enc` does, so touching objects do not pass each other's pixels
    on to later frames."""
    size = model.cfg.image_size
    full = F.interpolate(low_res_logits, size=(size, size), mode="bilinear", align_corners=False)
    if separate:
        if others is not None:
            others = F.interpolate(others, size=(size, size), mode="bilinear", align_corners=False)
        full = only_where_highest(full, others)
    scale, bias = model.cfg.memory.sigmoid_scale, model.cfg.memory.sigmoid_bias
    if full.requires_grad:  # (training) autograd keeps the sigmoid's output
        return torch.sigmoid(full) * scale + bias
    # in place on this function's own copy: each new tensor of 100 full-size masks costs as much again
    mask = (full > 0).float() if binarize else full.sigmoid_()
    return mask.mul_(scale).add_(bias)


def encode_masks(model: SAM2Model, raw: ImageEmbedding, masks: torch.Tensor,
                 object_score_logits: torch.Tensor) -> SpatialMemory:
    """Memory of B objects on one frame from its features (batch 1 or B) and their memory_masks
    (B, 1, S, S); absent objects (score logit <= 0) get the learnt no-object embedding."""
    # one frame's features serve every object; each mask downsampled over a window around its object
    memory, pe = model.memory_encoder(raw.embedding, masks, model.cfg.memory.sigmoid_bias, MASK_WINDOW_TOLERANCE)
    if model.no_obj_embed_spatial is not None:
        absent = (object_score_logits <= 0).float()[..., None, None]  # (B, 1, 1, 1)
        memory = memory + absent * model.no_obj_embed_spatial[..., None, None]
    return SpatialMemory(memory, pe[:1])
