"""How many objects go through the memory path (memory attention, mask decoder, memory encoder)
in one model call: the one rule for batching objects.

Batching saves each call's fixed costs and lets several threads share larger operations, but
the memory path's elementwise passes (activations, normalisations, rotations) are bound by
memory traffic: once a call's activations outgrow the CPU's caches, a batch costs more than the
same objects one call each (measured in issue 23: 10 objects of sam2.1_hiera_tiny at 512 in one
call took 1.10-1.12x the time of one call per object; 20 objects of the embedded model 0.96-0.98x,
40 of them 1.18x). So a call takes as many objects as fit a quarter of the last-level cache,
at least one; on a GPU, all of them.
"""
from __future__ import annotations

import functools
from pathlib import Path

from ..model import SAM2Model

FALLBACK_CACHE_BYTES = 32 * 2**20  # when the CPU's cache size cannot be read
CACHE_SHARE = 4  # a call's activations may fill this fraction (1 / CACHE_SHARE) of the cache
FLOAT_BYTES = 4


@functools.lru_cache(maxsize=1)
def last_level_cache_bytes() -> int:
    """Size of the CPU's largest cache (Linux sysfs), or FALLBACK_CACHE_BYTES."""
    sizes = []
    for size_file in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = size_file.read_text().strip().upper()
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        try:
            sizes.append(int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text))
        except ValueError:
            continue
    return max(sizes, default=FALLBACK_CACHE_BYTES)


def bytes_per_object(model: SAM2Model, memory_tokens: int) -> int:
    """The largest activation one object adds to a call: its attention keys (tokens x d_model),
    the memory attention's hidden layer (frame tokens x FFN width) or the mask encoder's first
    layer (4 channels at half the input size)."""
    cfg = model.cfg
    frame_tokens = cfg.embedding_size**2
    largest = max(memory_tokens * cfg.d_model, frame_tokens * cfg.memory.attention_ffn_dim, cfg.image_size**2)
    return largest * FLOAT_BYTES


def objects_per_call(model: SAM2Model, memory_tokens: int, limit: int | None = None) -> int:
    """How many objects with `memory_tokens` memory tokens each one call of the memory path
    takes (limit: at most this many, e.g. 1 for one call per object as the reference does)."""
    if model.device.type == "cuda":
        count = 2**31
    else:
        count = max(1, last_level_cache_bytes() // CACHE_SHARE // bytes_per_object(model, memory_tokens))
    return count if limit is None else max(1, min(count, limit))


def in_chunks(items: list, size: int) -> list[list]:
    """Consecutive pieces of at most `size` items."""
    return [items[i : i + size] for i in range(0, len(items), size)]
