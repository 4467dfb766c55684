"""The model calls of one tracked frame, in two halves (VideoTracker.decode_step, remember_step):
decode the objects' outputs from their memories, then encode the memories of the masks chosen.
With separate memories each pixel of a frame's memory belongs to at most one object, the one with
the highest logit there (the winner rule), among the objects decoded, the tracker's others and
those tracked elsewhere (other tiles)."""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from ..model import ImageEmbedding, SAM2Model
from ..model.frame_steps import (
    OVERLAP_LOGIT,
    SpatialMemory,
    TrackOutput,
    concat_outputs,
    condition_on_memory,
    decode_for_tracking,
    encode_masks,
    memory_masks,
)
from .batching import in_chunks, objects_per_call
from .memory_bank import MemoryTokens, batch_tokens, group_by_layout
from .postprocess import fill_small_holes


class DecodedFrame(NamedTuple):
    """A frame decoded by `VideoTracker.decode_step`, its memories not yet encoded."""

    frame: int
    sign: int
    tracked_ids: tuple[int, ...]  # the objects the propagation passes on this frame
    decoded_ids: tuple[int, ...]  # those with a new output here (not prompted here), in `output`'s order
    output: TrackOutput | None


def decode_with_memory(model: SAM2Model, raw: ImageEmbedding, memory: MemoryTokens) -> TrackOutput:
    """Decode a batch of objects (one per row of `memory`) on one frame without prompts."""
    conditioned = condition_on_memory(model, raw, *memory)
    return decode_for_tracking(model, conditioned, raw.high_res, None, None, multimask=True)


def decode_objects(model: SAM2Model, raw: ImageEmbedding, memories: dict[int, MemoryTokens], limit: int | None,
                   fill_hole_area: int, between_calls: Callable[[], None]) -> tuple[list[int], TrackOutput | None]:
    """The objects' outputs on a frame from their memories (obj_id -> tokens), decoded in calls of
    objects with the same memory layout, at most objects_per_call(limit) at a time; the ids in the
    output's order."""
    ids, outputs = [], []
    for group in group_by_layout(memories):
        tokens = memories[group[0]].memory.shape[1]
        for chunk in in_chunks(group, objects_per_call(model, tokens, limit)):
            out = decode_with_memory(model, raw, batch_tokens([memories[i] for i in chunk]))
            # tracked frames are not cleaned: with no click to say which piece is the cell, keeping
            # the largest lost cells (issue 19: J&F 0.879 -> 0.866 with one click on frame 0)
            outputs.append(out._replace(low_res_logits=fill_small_holes(out.low_res_logits, fill_hole_area)))
            ids += chunk
            between_calls()
    return ids, concat_outputs(outputs) if ids else None


def frame_memory(model: SAM2Model, raw: ImageEmbedding, logits: torch.Tensor, scores: torch.Tensor, binarize: bool,
                 separate: bool, others: torch.Tensor | None, limit: int | None,
                 between_calls: Callable[[], None]) -> SpatialMemory:
    """The memory of B objects on a frame from their chosen masks' logits (B, 1, 4h, 4w) and score
    logits (B, 1) (binarize: prompted masks, as the user saw them), separated from `others` (see
    logits_of_others), encoded in calls of objects_per_call(limit) objects (the separation of
    memories sees all of them at once). Objects predicted absent all have the same empty mask,
    hence the same memory: it is encoded once for all of them. The others' memory masks are not
    made at all where their logits are nowhere above the separation's cap (NO_OBJECT_LOGIT, a
    mask prompt's empty OVERLAP_LOGIT): they take no pixel from anyone."""
    absent = (scores[:, 0] <= 0).nonzero()[:, 0].tolist()
    encoded = sorted(set(range(len(logits))) - set(absent)) + absent[:1]
    below_cap = (logits.flatten(1).amax(1) <= OVERLAP_LOGIT).tolist()  # (B,)
    unseparated = {k for k in absent[1:] if below_cap[k]}
    separated = [k for k in range(len(logits)) if k not in unseparated]  # (in order: a tie goes to the first)
    masks = memory_masks(model, logits[separated], binarize=binarize, separate=separate, others=others)
    row_of = {k: row for row, k in enumerate(separated)}
    memory = None
    for chunk in in_chunks(encoded, objects_per_call(model, 0, limit)):
        spatial = encode_masks(model, raw, masks[[row_of[k] for k in chunk]], scores[chunk])
        if memory is None:
            memory = spatial.features.new_empty((len(logits), *spatial.features.shape[1:]))
        memory[chunk] = spatial.features
        between_calls()
    if absent:
        memory[absent] = memory[absent[0]].clone()
    return SpatialMemory(memory, spatial.position_encoding)


def logits_of_others(own: list[torch.Tensor], elsewhere: torch.Tensor | None) -> torch.Tensor | None:
    """(R, 1, 4h, 4w) logits on a frame of the tracker's other objects (`own`, each (1, 1, 4h, 4w));
    with objects tracked elsewhere ((1, 1, S, S), VideoTracker.logits_elsewhere), all at the
    input's size (S, S)."""
    if elsewhere is not None:
        size = elsewhere.shape[-2:]
        own = [F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in own] + [elsewhere]
    return torch.cat(own) if own else None
