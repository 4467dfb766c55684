"""One object's memory through a video: its prompts, the outputs later frames can still use,
which of them a frame attends to (memory_selection's rules) and their assembly into tokens.

An output goes through these states, each change a method of ObjectMemory:
prompted (`prompt`: decoded, its memory not yet encoded) -> conditioning (`condition`: memory
encoded; every later frame sees it) ; propagation adds tracked outputs (`passed`), `prune`
forgets those no later frame can use; `unprompt` turns a conditioning frame back into a
tracked one; `forget_tracked` drops every tracked one. The video tracker keeps one
ObjectMemory per object; training keeps one for a batch of objects prompted on the same frames.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterator, Mapping, NamedTuple

import torch

from ..model import SAM2Model
from ..model.frame_steps import SpatialMemory, TrackOutput
from ..model.position_encoding import sine_encoding_1d
from .memory_selection import BACKWARD, FORWARD, max_pointer_offset, pointer_frames, spatial_memory_frames

MEMORY_DTYPE = torch.bfloat16  # stored memories: half the RAM, and what the reference does


@dataclass(frozen=True)
class MemoryEntry:
    """One object's (or a batch's) output on one frame, as its memory needs it."""

    low_res_logits: torch.Tensor  # (B, 1, 4h, 4w) float32
    pointer: torch.Tensor  # (B, C)
    object_score: torch.Tensor  # (B, 1) logit
    memory: torch.Tensor | None = None  # (B, mem_dim, h, w), once encoded (bfloat16 in the tracker)


@dataclass(frozen=True)
class ClickPrompt:
    coords: torch.Tensor  # (1, N, 2) (x, y) in model-input pixels; box corners first
    labels: torch.Tensor  # (1, N) int32: 1 positive, 0 negative, 2/3 box corners


class MemoryTokens(NamedTuple):
    """What a frame's features attend to."""

    memory: torch.Tensor  # (B, M, mem_dim): spatial memories, then pointer tokens
    position_encoding: torch.Tensor  # (1 or B, M, mem_dim)
    num_pointer_tokens: int  # the last tokens of `memory` (no 2-D RoPE for them)


# (spatial memories' temporal slots, pointers' frame offsets, max offset) -> their position
# encodings (1, M, mem_dim): the same for every object with that layout on a frame
EncodingCache = dict


@dataclass
class ObjectMemory:
    obj_id: int
    clicks: dict[int, ClickPrompt] = field(default_factory=dict)  # frame -> the clicks (and box) given
    mask_prompts: dict[int, torch.Tensor] = field(default_factory=dict)  # frame -> (1, 1, S, S) {0, 1}
    pending: dict[int, MemoryEntry] = field(default_factory=dict)  # prompted, memory not yet encoded
    conditioning: dict[int, MemoryEntry] = field(default_factory=dict)  # prompted frames
    tracked: dict[int, MemoryEntry] = field(default_factory=dict)  # propagated frames still usable
    directions: dict[int, int] = field(default_factory=dict)  # frame -> direction a propagation passed it in
    # direction -> frames whose output is up to date for tracking on in that direction
    covered: dict[int, set[int]] = field(default_factory=lambda: {FORWARD: set(), BACKWARD: set()})

    # ---- reading -----------------------------------------------------------------------------

    def conditioning_frames(self) -> list[int]:
        return sorted(set(self.conditioning) | set(self.pending))

    def latest(self, frame: int) -> MemoryEntry | None:
        """The freshest output on a frame: a new prompt's, else the conditioning, else tracked one."""
        return self.pending.get(frame) or self.conditioning.get(frame) or self.tracked.get(frame)

    def start(self, direction: int, num_frames: int, also_covered: frozenset[int] = frozenset()) -> int | None:
        """Where tracking in `direction` should begin for this object: the first frame, from its
        first prompted frame in that direction on, not tracked that way since the prompts before
        it changed (also_covered: frames an earlier run of the same propagation covers). None:
        up to date to the video's end."""
        prompted = self.conditioning_frames()
        if not prompted:
            return None
        first = prompted[0] if direction == FORWARD else prompted[-1]
        end = num_frames if direction == FORWARD else -1
        covered = self.covered[direction] | also_covered
        return next((f for f in range(first, end, direction) if f not in covered), None)

    def view(self) -> "MemoryView":
        return MemoryView(MappingProxyType(self.conditioning), MappingProxyType(self.tracked))

    # ---- transitions -------------------------------------------------------------------------

    def prompt(self, frame: int, entry: MemoryEntry, clicks: ClickPrompt | None = None,
               mask: torch.Tensor | None = None) -> None:
        """A prompt's output on a frame; its memory is encoded before the next propagation.
        clicks or mask: what was given (it replaces the other kind of prompt on that frame)."""
        self._drop_prompts(frame)
        self._outdate_after(frame)
        if clicks is not None:
            self.clicks[frame] = clicks
        if mask is not None:
            self.mask_prompts[frame] = mask
        self.pending[frame] = entry

    def pending_prompts(self) -> Iterator[tuple[int, MemoryEntry]]:
        """Prompted frames waiting for their memory, in frame order (safe to `condition` while iterating)."""
        return iter(sorted(self.pending.items()))

    def condition(self, frame: int, memory: torch.Tensor) -> None:
        """A prompted frame's memory is encoded: it is a conditioning frame from now on."""
        self.conditioning[frame] = dataclasses.replace(self.pending.pop(frame), memory=memory)
        self.tracked.pop(frame, None)

    def passed(self, frame: int, direction: int, entry: MemoryEntry | None = None) -> None:
        """A propagation in `direction` reached `frame`; entry is the object's new output there
        (None on its conditioning frames, which keep theirs)."""
        if entry is not None:
            self.tracked[frame] = entry
        self.directions[frame] = direction
        self.covered[direction].add(frame)
        if frame in self.conditioning:  # a prompt's output does not depend on the direction
            self.covered[-direction].add(frame)

    def tracked_elsewhere(self, direction: int, frames: range) -> None:
        """Another tracker tracks the object on `frames` in `direction` (it moved into another
        tile): a propagation here need not."""
        self.covered[direction].update(frames)

    def prune(self, keep: range) -> None:
        """Forget tracked outputs outside `keep` (the window the next frames can still use)."""
        for frame in [f for f in self.tracked if f not in keep]:
            del self.tracked[frame]

    def unprompt(self, frame: int) -> None:
        """The frame's prompts are removed: what it produced stays as an ordinary tracked frame."""
        self._drop_prompts(frame)
        self._outdate_after(frame)
        self.pending.pop(frame, None)
        entry = self.conditioning.pop(frame, None)
        if entry is not None:
            self.tracked[frame] = entry
            self.directions.pop(frame, None)

    def _drop_prompts(self, frame: int) -> None:
        self.clicks.pop(frame, None)
        self.mask_prompts.pop(frame, None)

    def _outdate_after(self, frame: int) -> None:
        """The prompts on `frame` changed: what was tracked from there on, either way, is out of date."""
        self.covered[FORWARD] = {f for f in self.covered[FORWARD] if f < frame}
        self.covered[BACKWARD] = {f for f in self.covered[BACKWARD] if f > frame}

    def forget_tracked(self) -> None:
        self.tracked.clear()
        self.directions.clear()
        for frames in self.covered.values():
            frames.clear()

    # ---- assembly ----------------------------------------------------------------------------

    def memory_tokens(self, model: SAM2Model, frame: int, direction: int, num_frames: int,
                      memory_pe: torch.Tensor, training: bool = False,
                      encodings: EncodingCache | None = None) -> MemoryTokens:
        """The memory `frame` attends to when tracked in `direction`: the spatial memories and
        object pointers memory_selection picks, with their temporal encodings. memory_pe
        (1, mem_dim, h, w) is the memories' position encoding (the same for every frame).
        In training every conditioning frame gives its pointer, ahead or not (as the reference).
        encodings: position encodings already made on this frame, shared by the objects of a layout
        (the model's weights must not change while it is kept)."""
        cfg = model.cfg
        is_tracked = self.tracked.__contains__
        spatial = spatial_memory_frames(frame, direction, self.conditioning, is_tracked, cfg.memory.num_maskmem)
        only_past = cfg.pointers.only_past_in_eval and not training
        slots = pointer_frames(frame, direction, self.conditioning, is_tracked, num_frames, cfg.pointers.max_pointers,
                               cfg.pointers.signed_temporal_encoding, only_past)
        pointers = torch.stack([self._entry(s.frame).pointer for s in slots], dim=1) if slots else None  # (B, P, C)
        layout = (tuple(slot for _, slot in spatial), tuple(s.offset for s in slots),
                  max_pointer_offset(num_frames, cfg.pointers.max_pointers))
        pe = None if encodings is None else encodings.get(layout)
        if pe is None:
            pe = position_encodings(model, memory_pe, *layout)
            if encodings is not None:
                encodings[layout] = pe
        tokens = token_values(model, [self._entry(t).memory for t, _ in spatial], pointers)
        return MemoryTokens(tokens, pe, len(slots) * (cfg.d_model // cfg.memory.mem_dim))

    def _entry(self, frame: int) -> MemoryEntry:
        return self.conditioning.get(frame) or self.tracked[frame]


class MemoryView(NamedTuple):
    """A read-only look at an object's memory (frame -> MemoryEntry)."""

    conditioning: Mapping[int, MemoryEntry]
    tracked: Mapping[int, MemoryEntry]


def token_values(model: SAM2Model, spatial: list[torch.Tensor], pointers: torch.Tensor | None) -> torch.Tensor:
    """(B, M, mem_dim) float32 tokens: each spatial memory (B, mem_dim, h, w) as h * w tokens,
    then the pointers (B, P, C), each split into C / mem_dim tokens; written in one pass each."""
    mem_dim = model.cfg.memory.mem_dim
    pieces = [memory.flatten(2).transpose(1, 2) for memory in spatial]  # (B, hw, mem_dim) each
    if pointers is not None and pointers.shape[1]:
        pieces.append(pointers.reshape(pointers.shape[0], -1, mem_dim))
    if len(pieces) == 1 or torch.is_grad_enabled():  # (training: as autograd sees it plainly)
        return torch.cat([piece.float() for piece in pieces], dim=1)
    tokens = pieces[0].new_empty((pieces[0].shape[0], sum(p.shape[1] for p in pieces), mem_dim), dtype=torch.float32)
    start = 0
    for piece in pieces:
        tokens[:, start : start + piece.shape[1]] = piece
        start += piece.shape[1]
    return tokens


def position_encodings(model: SAM2Model, memory_pe: torch.Tensor, slots: tuple[int, ...], pointer_offsets: tuple[int, ...],
                       max_offset: int) -> torch.Tensor:
    """(1, M, mem_dim) position encodings of spatial memories with their temporal slots (0 ..
    num_maskmem - 1, each a learnt temporal encoding) added to memory_pe (1, mem_dim, h, w), then
    of the pointers' tokens with their frame offsets."""
    mem_dim = model.cfg.memory.mem_dim
    spatial_pe = memory_pe.flatten(2).transpose(1, 2)  # (1, hw, mem_dim)
    encodings = [spatial_pe + model.maskmem_tpos_enc[slot].view(1, 1, mem_dim) for slot in slots]
    if pointer_offsets:
        encodings.append(_pointer_encodings(model, list(pointer_offsets), max_offset, memory_pe.device))
    return torch.cat(encodings, dim=1)


def _pointer_encodings(model, offsets, max_offset, device) -> torch.Tensor:
    """(1, P * C / mem_dim, mem_dim): each pointer's temporal encoding, for each of the C / mem_dim
    tokens a pointer of C channels is split into."""
    mem_dim = model.cfg.memory.mem_dim
    cfg = model.cfg.pointers
    C = model.cfg.d_model  # a pointer's width
    if cfg.temporal_encoding:
        positions = torch.tensor(offsets, dtype=torch.float32, device=device) / max(max_offset, 1)
        dim = C if cfg.project_temporal_encoding else mem_dim
        pe = model.obj_ptr_tpos_proj(sine_encoding_1d(positions, dim))  # (P, mem_dim)
    else:
        pe = torch.zeros(len(offsets), mem_dim, device=device)
    return pe.repeat_interleave(C // mem_dim, dim=0).unsqueeze(0)


def group_by_layout(memories: Mapping[int, MemoryTokens]) -> list[list[int]]:
    """Object ids whose memories can be batched: same number of tokens and pointer tokens."""
    groups: dict[tuple, list[int]] = {}
    for obj_id, tokens in memories.items():
        groups.setdefault((tokens.memory.shape[1], tokens.num_pointer_tokens), []).append(obj_id)
    return list(groups.values())


def batch_tokens(memories: list[MemoryTokens]) -> MemoryTokens:
    """Memories of one layout (see group_by_layout) as one batch; position encodings that are one
    tensor for all (an EncodingCache's) stay one (1, M, mem_dim)."""
    encodings = [m.position_encoding for m in memories]
    if any(pe is not encodings[0] for pe in encodings):
        encodings = [torch.cat([pe.expand(m.memory.shape[0], -1, -1) for pe, m in zip(encodings, memories)])]
    return MemoryTokens(torch.cat([m.memory for m in memories]), encodings[0], memories[0].num_pointer_tokens)


def entries_of(out: TrackOutput, spatial: SpatialMemory) -> list[MemoryEntry]:
    """A batch's outputs and memories on one frame, one entry per object (memories stored in bfloat16)."""
    stored = spatial.features.to(MEMORY_DTYPE)  # one conversion for the batch; each entry keeps a view of its row
    return [
        MemoryEntry(out.low_res_logits[k : k + 1], out.pointer[k : k + 1], out.object_score_logits[k : k + 1], stored[k : k + 1])
        for k in range(out.pointer.shape[0])
    ]
