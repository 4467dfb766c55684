"""The memory attention's projections of stored memories, kept with their memory bank entries.

Every frame, each layer's cross-attention projects every memory token to keys (then rotated by
its grid position) and values, although a stored memory does not change: only the temporal
encoding added to its keys depends on the frame it is seen from. The key projection and the
rotation are linear, so the keys of memory + position + temporal encoding are the kept keys of
memory + position plus what the temporal encoding adds (the same for every object); values
depend on the memory alone. With few frame tokens (the embedded model: 256 queries for 1,824
memory tokens) projecting the memories took a third of the memory attention (issue 23).

Kept projections take 2 x layers x h x w x d_model floats an entry (embedded model: 256 KiB, 8 times
the bfloat16 memory); official models at 1024 would need 32 MiB an entry for a saving of about 1%
of their attention (4,096 queries): they are kept only up to MAX_BYTES_PER_ENTRY. Results agree
with projecting every frame to float32 rounding (outputs: tests/test_memory_projection.py).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..model import SAM2Model
from ..model.memory_attention import LayerMemory
from .memory_bank import MemoryEntry, MemorySources

MAX_BYTES_PER_ENTRY = 2**20
FLOAT_BYTES = 4


def keeps_projections(model: SAM2Model) -> bool:
    """Whether an entry's projections fit MAX_BYTES_PER_ENTRY (the one rule for keeping them)."""
    cfg = model.cfg
    entry_bytes = 2 * cfg.memory.attention_layers * cfg.embedding_size**2 * cfg.d_model * FLOAT_BYTES
    return entry_bytes <= MAX_BYTES_PER_ENTRY


def keep_projections(model: SAM2Model, entries: list[MemoryEntry], memory_pe: torch.Tensor) -> None:
    """Project the memories of the entries that have no projections yet, in one call, and keep each
    layer's (heads, hw, c) keys (without temporal encoding) and values in its entry.
    memory_pe (1, mem_dim, h, w): the memories' position encoding."""
    missing = list({id(e): e for e in entries if not e.projections}.values())
    if not missing:
        return
    memory = torch.cat([e.memory for e in missing]).float().flatten(2).transpose(1, 2)  # (K, hw, mem_dim)
    layers = model.memory_attention.spatial_projections(memory, memory_pe.flatten(2).transpose(1, 2))
    for k, entry in enumerate(missing):  # copies: an entry's projections must not hold the others' alive
        entry.projections.extend(LayerMemory(layer.keys[k].clone(), layer.values[k].clone()) for layer in layers)


def projected_layers(model: SAM2Model, sources: list[MemorySources], memory_pe: torch.Tensor) -> Callable[[int], LayerMemory]:
    """Layer i -> the (B, heads, M, c) keys and values of B objects' memories of one layout
    (MemorySources.layout), assembled from the kept projections: what the memory attention's
    own projection of the same tokens gives (MemoryAttention.projector), to float32 rounding."""
    keep_projections(model, [e for s in sources for e in s.spatial], memory_pe)
    attention = model.memory_attention
    slots, grid_tokens = sources[0].slots, memory_pe.shape[-2] * memory_pe.shape[-1]
    temporal = attention.temporal_keys(model.maskmem_tpos_enc[list(slots)].flatten(1), grid_tokens)  # (S, heads, hw, c) each
    pointers = None
    if sources[0].num_pointer_tokens:
        tokens = torch.cat([s.pointer_tokens for s in sources])  # (B, P', mem_dim)
        encodings = [s.pointer_encoding for s in sources]
        encoding = encodings[0] if all(e is encodings[0] for e in encodings) else torch.cat(encodings)
        pointers = attention.pointer_projections(tokens, encoding)

    def layer_memory(i: int) -> LayerMemory:
        kept = sources[0].spatial[0].projections[i].keys  # (heads, hw, c)
        heads, spatial, head_dim = kept.shape[0], len(slots) * grid_tokens, kept.shape[-1]
        shape = (len(sources), heads, spatial + sources[0].num_pointer_tokens, head_dim)
        keys, values = kept.new_empty(shape), kept.new_empty(shape)
        for b, source in enumerate(sources):  # written in place: (heads, S, hw, c) each
            grids = (heads, len(slots), grid_tokens, head_dim)
            torch.stack([e.projections[i].keys for e in source.spatial], dim=1, out=keys[b, :, :spatial].view(grids))
            torch.stack([e.projections[i].values for e in source.spatial], dim=1, out=values[b, :, :spatial].view(grids))
        keys[:, :, :spatial].view(len(sources), *grids).add_(temporal[i].transpose(0, 1))
        if pointers is not None:
            keys[:, :, spatial:], values[:, :, spatial:] = pointers[i]
        return LayerMemory(keys, values)

    return layer_memory
