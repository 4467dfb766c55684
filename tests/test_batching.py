"""How many objects one call of the memory path takes (engine/batching.py, issue 23): batches
that fit the CPU's cache, one object per call where one object's activations already do not,
and the same masks whichever way the objects go through."""
import dataclasses

import numpy as np

from napari_sam2 import VideoTracker
from napari_sam2.engine import batching
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model, micro_config
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


def test_objects_per_call_follows_the_cache(monkeypatch):
    monkeypatch.setattr(batching, "last_level_cache_bytes", lambda: 32 * 2**20)
    official = SAM2Model(OFFICIAL_CONFIGS["sam2.1_hiera_tiny"])
    embedded = SAM2Model(micro_config())
    seven_memories = 7 * embedded.cfg.embedding_size**2 + 64
    assert batching.objects_per_call(official, 7 * 64**2 + 64) == 1  # 1024 input: one object fills the cache
    assert batching.objects_per_call(official, 7 * 64**2 + 64, limit=5) == 1
    many = batching.objects_per_call(embedded, seven_memories)
    assert 8 <= many <= 32  # 16 x 16 tokens of 64 channels: a handful of objects share a call
    assert batching.objects_per_call(embedded, seven_memories, limit=1) == 1
    monkeypatch.setattr(batching, "last_level_cache_bytes", lambda: 4 * 32 * 2**20)
    assert batching.objects_per_call(embedded, seven_memories) >= 4 * many  # a larger cache takes more
    small = SAM2Model(dataclasses.replace(OFFICIAL_CONFIGS["sam2.1_hiera_tiny"], image_size=256))
    assert batching.objects_per_call(small, 64) > 1


def test_cache_size_is_read_from_the_machine():
    assert batching.last_level_cache_bytes() >= 2**16


def test_batched_and_one_by_one_give_the_same_masks(micro_model):
    sim = simulate_timelapse(SimulationConfig(height=96, width=96, num_frames=4, num_cells=(6, 6)), seed=EVALUATION_SEEDS)
    first = sim.labels[0]
    logits = {}
    for per_call in (1, 3, None):
        # the split of touching masks is off: it reads thresholded masks, where a 1e-4 difference
        # between batched and one-by-one arithmetic can move a pixel across 0 and a segment's border
        tracker = VideoTracker(micro_model, sim.frames, objects_per_call=per_call, precision="float32",
                               cleanup=MaskCleanup(split_touching=False))
        for obj_id in np.unique(first)[1:]:
            tracker.add_mask(0, int(obj_id), first == obj_id)
        logits[per_call] = [r.logits().numpy() for r in tracker.propagate()]
    for per_call in (3, None):
        for a, b in zip(logits[1], logits[per_call]):
            np.testing.assert_allclose(a, b, atol=1e-3)


def test_objects_predicted_absent_share_one_memory_equal_to_their_own(micro_model):
    """The memory of objects predicted absent is encoded once per frame for all of them: it must
    be what encoding each alone gives (here 3 of 5 objects on a frame are absent)."""
    import torch

    from napari_sam2.model.frame_steps import NO_OBJECT_LOGIT, TrackOutput, encode_memory

    sim = simulate_timelapse(SimulationConfig(height=96, width=96, num_frames=2, num_cells=(2, 2)), seed=EVALUATION_SEEDS)
    tracker = VideoTracker(micro_model, sim.frames, separate_memories=False, precision="float32")
    side = 4 * micro_model.cfg.embedding_size
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 1, side, side, generator=generator) * 8
    scores = torch.tensor([[3.0], [-1.0], [2.0], [-0.5], [-4.0]])
    logits[scores[:, 0] <= 0] = NO_OBJECT_LOGIT
    out = TrackOutput(logits, torch.zeros(5, micro_model.cfg.d_model), scores)
    with torch.inference_mode():
        raw = tracker.features(1)
        shared = tracker._frame_memory(1, raw, [1, 2, 3, 4, 5], out.low_res_logits, scores, binarize=False).features
        for row in range(5):
            alone = encode_memory(micro_model, raw, logits[row:row + 1], scores[row:row + 1], binarize=False).features
            torch.testing.assert_close(shared[row:row + 1], alone, atol=1e-5, rtol=1e-5)


def test_objects_prompted_on_one_frame_get_their_memories_in_batches(micro_model):
    """Many cells given as masks on frame 0: their memories are encoded objects_per_call at a
    time, each separated from all the others, not one call per object each against all the
    others (objects squared: 2.5 s of CPU before the first tracked frame at 100 cells); the
    memories are those of encoding each alone against the others (within float rounding)."""
    import torch

    from napari_sam2.model.frame_steps import encode_memory

    sim = simulate_timelapse(SimulationConfig(height=96, width=96, num_frames=2, num_cells=(9, 9)), seed=EVALUATION_SEEDS)
    first = sim.labels[0]
    tracker = VideoTracker(micro_model, sim.frames, objects_per_call=4, precision="float32")
    for obj_id in np.unique(first)[1:]:
        tracker.add_mask(0, int(obj_id), first == obj_id)
    calls = []
    handle = micro_model.memory_encoder.register_forward_hook(lambda module, args, out: calls.append(len(args[1])))
    try:
        next(tracker.propagate())
    finally:
        handle.remove()
    count = len(tracker.object_ids)
    assert count >= 8 and calls == [len(c) for c in batching.in_chunks(list(range(count)), 4)]
    outputs = [tracker.memory_view(i).conditioning[0] for i in tracker.object_ids]
    logits = torch.cat([o.low_res_logits for o in outputs])
    with torch.inference_mode():
        raw = tracker.features(0)
        for k, output in enumerate(outputs):
            others = torch.cat([logits[:k], logits[k + 1:]])
            alone = encode_memory(micro_model, raw, logits[k:k + 1], output.object_score, binarize=True, separate=True,
                                  others=others).features
            torch.testing.assert_close(output.memory.float(), alone.to(output.memory.dtype).float(), atol=0.02, rtol=0.01)
