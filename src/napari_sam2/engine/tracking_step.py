"""One frame of tracking for many objects: memory assembly per object, batched model calls."""
from __future__ import annotations

import torch

from ..model import ImageEmbedding, SAM2Model
from ..model.tracking import (
    SpatialMemory,
    TrackOutput,
    condition_on_memory,
    decode_for_tracking,
    memory_tokens,
)
from .memory_selection import max_pointer_offset, pointer_frames, spatial_memory_frames
from .object_track import FrameOutput, ObjectTrack

MEMORY_DTYPE = torch.bfloat16  # stored memories: half the RAM, and what the reference does


def object_memory(model: SAM2Model, track: ObjectTrack, frame: int, direction: int, num_frames: int, memory_pe: torch.Tensor):
    """The memory one object's frame attends to: (memory, memory_pe, num_pointer_tokens)."""
    cfg = model.cfg
    conditioning = track.conditioning
    is_tracked = track.tracked.__contains__
    spatial = []
    for frame_idx, slot in spatial_memory_frames(frame, direction, conditioning, is_tracked, cfg.memory.num_maskmem):
        out = conditioning.get(frame_idx) or track.tracked[frame_idx]
        spatial.append((SpatialMemory(out.memory, memory_pe), slot))
    ptr_slots = pointer_frames(
        frame, direction, conditioning, is_tracked, num_frames, cfg.pointers.max_pointers,
        cfg.pointers.signed_temporal_encoding, cfg.pointers.only_past_in_eval,
    )
    pointers = None
    if ptr_slots:
        pointers = torch.stack([(conditioning.get(s.frame) or track.tracked[s.frame]).pointer[0] for s in ptr_slots])[None]
    offsets = [s.offset for s in ptr_slots]
    return memory_tokens(model, spatial, pointers, offsets, max_pointer_offset(num_frames, cfg.pointers.max_pointers))


def decode_objects(model: SAM2Model, raw: ImageEmbedding, memories: list[tuple]) -> TrackOutput:
    """Decode a batch of objects whose memories have the same layout on one frame."""
    memory = torch.cat([m[0] for m in memories])
    memory_pe = torch.cat([m[1] for m in memories])
    num_pointer_tokens = memories[0][2]
    batch = memory.shape[0]
    batched_raw = ImageEmbedding(raw.embedding.expand(batch, -1, -1, -1), raw.high_res, raw.position_encoding)
    conditioned = condition_on_memory(model, batched_raw, memory, memory_pe, num_pointer_tokens)
    return decode_for_tracking(model, conditioned, raw.high_res, None, None, multimask=True)


def concat_outputs(outputs: list[TrackOutput]) -> TrackOutput:
    return TrackOutput(*(torch.cat(parts) for parts in zip(*outputs)))


def group_by_layout(memories: dict[int, tuple]) -> list[list[int]]:
    """Object ids whose memories can be batched: same number of tokens and pointer tokens."""
    groups: dict[tuple, list[int]] = {}
    for obj_id, (memory, _, num_pointers) in memories.items():
        groups.setdefault((memory.shape[1], num_pointers), []).append(obj_id)
    return list(groups.values())


def split_outputs(out: TrackOutput, spatial: SpatialMemory) -> list[FrameOutput]:
    return [
        FrameOutput(
            out.low_res_logits[k : k + 1], out.pointer[k : k + 1], out.object_score_logits[k : k + 1],
            spatial.features[k : k + 1].to(MEMORY_DTYPE),
        )
        for k in range(out.pointer.shape[0])
    ]
