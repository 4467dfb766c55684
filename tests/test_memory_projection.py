"""Kept projections of stored memories (engine/memory_projection.py): the same masks as projecting
every memory on every frame, and they go with their memory bank entries."""
from __future__ import annotations

import dataclasses
import gc
import weakref

import numpy as np
import pytest
import torch

from napari_sam2 import VideoTracker, load_model
from napari_sam2.engine.memory_bank import MemoryEntry, MemorySources, _pointer_encodings, position_encodings, token_values
from napari_sam2.engine.memory_projection import keeps_projections, projected_layers
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model
from napari_sam2.simulation import SimulationConfig, simulate_timelapse


@pytest.fixture(scope="module")
def embedded():
    return load_model(device="cpu")


@pytest.fixture(scope="module")
def timelapse():
    config = SimulationConfig(height=128, width=128, num_frames=12, num_cells=(6, 6), division_probability=0.0,
                              enter_rate=0.0)
    return simulate_timelapse(config, seed=5)


def tracked(model, sim, keep: bool):
    tracker = VideoTracker(model, sim.frames, precision="float32", keep_projections=keep)
    for obj_id in [int(i) for i in np.unique(sim.labels[0]) if i]:
        tracker.add_mask(0, obj_id, sim.labels[0] == obj_id)
    return tracker, {r.frame: r for r in tracker.propagate()}


def test_kept_projections_give_the_masks_of_projecting_every_frame(embedded, timelapse):
    assert keeps_projections(embedded)
    plain_tracker, plain = tracked(embedded, timelapse, keep=False)
    kept_tracker, kept = tracked(embedded, timelapse, keep=True)
    entries = kept_tracker.memory_view(kept_tracker.object_ids[0]).tracked
    last = max(entries)  # (no frame has attended to the last one's memory yet)
    recent = range(last - embedded.cfg.memory.num_maskmem + 2, last)  # spatial memories of the next frame
    assert all(entries[frame].projections for frame in recent)  # the kept path was taken
    assert not any(e.projections for e in plain_tracker.memory_view(plain_tracker.object_ids[0]).tracked.values())
    for frame, result in plain.items():
        assert result.object_ids == kept[frame].object_ids
        # float32 rounding in another order, through 11 recurrent frames; a wrong memory is O(1)
        assert torch.allclose(result.low_res_logits, kept[frame].low_res_logits, atol=1e-2)
        for obj_id, mask in result.masks.items():
            other = kept[frame].masks[obj_id]
            union = (mask | other).sum()
            assert union == 0 or (mask & other).sum() / union >= 0.999


def test_projections_go_with_their_entries(embedded, timelapse):
    tracker, _ = tracked(embedded, timelapse, keep=True)
    first, second = tracker.object_ids[:2]
    view = tracker.memory_view(first)
    kept = [weakref.ref(entry.projections[0].keys) for entry in [*view.conditioning.values(), *view.tracked.values()]
            if entry.projections]
    assert len(kept) >= 6
    survivor = weakref.ref(tracker.memory_view(second).conditioning[0].projections[0].keys)
    tracker.remove_object(first)
    del view
    gc.collect()
    assert all(ref() is None for ref in kept)  # dropping an object drops its projections
    assert survivor() is not None  # (each entry holds its own copy, not a view of a batch's)


def test_pruned_entries_take_their_projections_along(embedded):
    config = SimulationConfig(height=96, width=96, num_frames=24, num_cells=(2, 2), division_probability=0.0,
                              enter_rate=0.0)
    sim = simulate_timelapse(config, seed=6)  # longer than the 16 frames object pointers reach back
    tracker = VideoTracker(embedded, sim.frames, precision="float32", keep_projections=True)
    tracker.add_mask(0, 1, sim.labels[0] == int(np.unique(sim.labels[0])[1]))
    steps = tracker.propagate()
    for _ in range(3):
        next(steps)
    early = weakref.ref(tracker.memory_view(1).tracked[1].projections[0].keys)
    for _ in steps:
        pass
    gc.collect()
    assert 1 not in tracker.memory_view(1).tracked and early() is None  # bounded: only the window's are kept
    tracked = tracker.memory_view(1).tracked
    last = max(tracked)
    only_pointers = [f for f in tracked if f <= last - embedded.cfg.memory.num_maskmem + 1]
    assert len(only_pointers) >= 5  # frames kept for their object pointers alone keep no projections
    assert all(not tracked[f].projections for f in only_pointers)
    assert all(tracked[f].projections for f in tracked if f not in only_pointers and f != last)


@torch.inference_mode()
@pytest.mark.parametrize("name", ["napari_sam2_micro", "sam2.1_hiera_tiny"])
def test_assembled_projections_equal_the_attention_s_own(embedded, name):
    """Layer by layer, keys and values from kept projections equal MemoryAttention.projector's of
    the same tokens (memories of two objects on three frames, with pointers), to rounding."""
    model = embedded if name == "napari_sam2_micro" else SAM2Model(dataclasses.replace(OFFICIAL_CONFIGS[name],
                                                                                          image_size=256)).eval()
    cfg, g = model.cfg, torch.Generator().manual_seed(0)
    side, mem_dim = cfg.embedding_size, cfg.memory.mem_dim
    memory_pe = torch.randn(1, mem_dim, side, side, generator=g)
    slots, offsets = (0, 5, 6), (1, 2, 3)
    sources, tokens = [], []
    for _ in range(2):
        entries = tuple(MemoryEntry(None, None, None, torch.randn(1, mem_dim, side, side, generator=g).bfloat16())
                        for _ in slots)
        pointers = torch.randn(1, len(offsets), cfg.d_model, generator=g)
        pointer_pe = _pointer_encodings(model, list(offsets), 16, "cpu")
        sources.append(MemorySources(entries, slots, pointers.reshape(1, -1, mem_dim), pointer_pe))
        tokens.append(token_values(model, [e.memory for e in entries], pointers))
    pe = position_encodings(model, memory_pe, slots, offsets, 16)
    own = model.memory_attention.projector(torch.cat(tokens), pe, pointer_pe.shape[1], side * side)
    assembled = projected_layers(model, sources, memory_pe)
    for i in range(cfg.memory.attention_layers):
        for ours, theirs in zip(assembled(i), own(i)):
            assert ours.shape == theirs.shape
            assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)
