"""The video tracker's behaviour (random-weight micro model: fast; correctness of the numbers
is the parity tests' job)."""
from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import tifffile
import torch
import zarr

from napari_sam2.engine.frames import ArrayFrames, open_tiff_frames
from napari_sam2.engine.postprocess import HOLE_FILL_LOGIT, fill_small_holes
from napari_sam2.engine.video_tracker import VideoTracker
from napari_sam2.testing.synthetic import moving_nuclei_video


@pytest.fixture(scope="module")
def video():
    frames, labels = moving_nuclei_video(num_frames=10, height=96, width=128, num=3, seed=1, dtype=np.uint16)
    return frames, labels


def centre_click(labels, obj):
    ys, xs = np.nonzero(labels == obj)
    return [[float(xs.mean()), float(ys.mean())]], [1]


def track_all(tracker, **kwargs):
    return {r.frame: r for r in tracker.propagate(**kwargs)}


def test_results_stream_per_frame_at_video_resolution(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    first = tracker.add_points(0, 1, *centre_click(labels[0], 1))
    assert first.object_ids == (1,) and first.masks[1].shape == (96, 128)
    results = track_all(tracker)
    assert sorted(results) == list(range(10))
    label_image = results[4].label_image()
    assert label_image.shape == (96, 128) and set(np.unique(label_image)) <= {0, 1}


@pytest.mark.parametrize("kind", ["dask", "zarr", "tiff"])
def test_frame_sources_give_the_same_tracks_as_numpy(micro_model, video, kind, tmp_path):
    frames, labels = video
    if kind == "dask":
        source = ArrayFrames(da.from_array(frames, chunks=(1, 96, 128)))
    elif kind == "zarr":
        z = zarr.open_array(str(tmp_path / "f.zarr"), mode="w", shape=frames.shape, chunks=(1, 96, 128), dtype=frames.dtype)
        z[:] = frames
        source = ArrayFrames(z)
    else:
        tifffile.imwrite(tmp_path / "f.tif", frames)
        source = open_tiff_frames(tmp_path / "f.tif")
    outputs = []
    for frame_source in (ArrayFrames(frames), source):
        tracker = VideoTracker(micro_model, frame_source)
        tracker.add_points(0, 1, *centre_click(labels[0], 1))
        outputs.append([r.low_res_logits for r in tracker.propagate()])
    for a, b in zip(*outputs):
        assert torch.equal(a, b)


def test_tracking_along_z_in_a_tzyx_array(micro_model, video):
    frames, labels = video
    tzyx = np.stack([frames, frames[::-1]])  # (T=2, Z=10, Y, X)
    tracker = VideoTracker(micro_model, ArrayFrames(tzyx, axis=1, fixed={0: 1}))
    assert tracker.num_frames == 10
    tracker.add_points(9, 1, *centre_click(labels[0], 1))  # z = 9 of t = 1 is frame 0 of the video
    assert [r.frame for r in tracker.propagate(direction="backward")] == list(range(9, -1, -1))


def test_objects_are_batched_and_equal_to_tracking_each_alone(micro_model, video):
    frames, labels = video
    # float32 (not "auto", bfloat16 on AMX): the tolerance below is float32 rounding
    together = VideoTracker(micro_model, ArrayFrames(frames), separate_memories=False, precision="float32")
    for obj in (1, 2, 3):
        together.add_points(0, obj, *centre_click(labels[0], obj))
    joint = track_all(together)
    assert together.features.computed == 10  # each frame encoded once for all objects
    for k, obj in enumerate((1, 2, 3)):
        alone = VideoTracker(micro_model, ArrayFrames(frames), precision="float32")
        alone.add_points(0, obj, *centre_click(labels[0], obj))
        for frame, result in track_all(alone).items():
            # batched kernels sum in another order (and with the threads an earlier test left): float
            # error grows over 10 recurrent frames to ~1e-4 on logits of size ~20; a wrong batch is O(1)
            assert torch.allclose(result.low_res_logits[0], joint[frame].low_res_logits[k], atol=1e-3, rtol=1e-4)


def memory_of_winning_pixels(model, tracker, frame, logits, k, present=True):
    """Object k's memory on a frame encoded from the pixels where its logit is the highest of
    all objects' (argmax at model-input size, then the memory encoder, as SAM 2 does it)."""
    size = model.cfg.image_size
    full = torch.nn.functional.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
    wins = full.argmax(0) == k
    own = torch.where(wins, full[k], full[k].clamp(max=-10.0))[None]
    mask = torch.sigmoid(own) * model.cfg.memory.sigmoid_scale + model.cfg.memory.sigmoid_bias
    memory, _ = model.memory_encoder(tracker.features(frame).embedding, mask)
    return memory if present else memory + model.no_obj_embed_spatial[..., None, None]


def test_separate_memories_hold_only_the_pixels_each_object_wins(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames), fill_hole_area=0)
    for obj in (1, 2, 3):
        tracker.add_points(0, obj, *centre_click(labels[0], obj))
    results = track_all(tracker, max_frames=3)
    logits = results[2].low_res_logits  # (3, 1, 4h, 4w)
    overlap = ((logits > 0).sum(0) > 1).float().mean()
    assert overlap > 0.01, "the test needs masks that overlap (random weights give large ones)"
    changes = []
    with torch.inference_mode():
        for k, obj in enumerate((1, 2, 3)):
            stored = tracker.memory_view(obj).tracked[2].memory.float()
            present = bool(results[2].object_scores[k] > 0)
            expected = memory_of_winning_pixels(micro_model, tracker, 2, logits, k, present)
            unconstrained = memory_of_winning_pixels(micro_model, tracker, 2, logits[k : k + 1], 0, present)
            assert (stored - expected).abs().max() < 2e-2, f"object {obj}"  # stored in bfloat16
            changes.append(float((unconstrained - expected).abs().max()))
    assert max(changes) > 0.1, f"separating changed no memory: {changes}"  # the objects that lose pixels


def test_separation_keeps_each_pixel_for_its_first_highest_object_with_ties_and_outsiders():
    """only_where_highest against the rule written per object with numpy's argmax (first of
    equal maxima): ties above and below the cap, objects outside the batch that win some pixels."""
    from napari_sam2.model.frame_steps import OVERLAP_LOGIT, only_where_highest

    rng = np.random.default_rng(3)
    logits = rng.normal(-8.0, 6.0, (6, 1, 20, 20)).astype(np.float32)
    logits[2, 0, :5] = logits[4, 0, :5] = 3.0  # a tie above the cap: object 2 keeps it
    logits[1, 0, 5:8] = logits[3, 0, 5:8] = -30.0  # ties below it: nothing to cap
    logits[:, 0, 5:8] = np.minimum(logits[:, 0, 5:8], -30.0)
    others = rng.normal(-8.0, 6.0, (2, 1, 20, 20)).astype(np.float32)
    for outside in (None, others):
        everyone = logits if outside is None else np.concatenate([logits, outside])
        winner = np.argmax(everyone[:, 0], axis=0)  # (20, 20)
        expected = np.where(winner == np.arange(6)[:, None, None], logits[:, 0], np.minimum(logits[:, 0], OVERLAP_LOGIT))
        got = only_where_highest(torch.from_numpy(logits), None if outside is None else torch.from_numpy(outside))
        np.testing.assert_array_equal(got[:, 0].numpy(), expected)
    assert (winner == 2).any() and (winner >= 6).any()


def test_stop_in_the_middle_then_prompt_and_continue(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    run = tracker.propagate()
    seen = [next(run).frame for _ in range(4)]
    run.close()  # the user pressed stop
    assert seen == [0, 1, 2, 3]
    tracker.add_points(2, 1, *centre_click(labels[2], 1))  # a correction on a tracked frame
    tracker.add_points(3, 2, *centre_click(labels[3], 2))  # and a new object, after tracking started
    assert tracker.conditioning_frames(1) == [0, 2]
    rest = track_all(tracker, start=2)
    assert sorted(rest) == list(range(2, 10))
    assert all(r.object_ids == (1, 2) for r in rest.values())
    backward = track_all(tracker, start=3, direction="backward")
    assert sorted(backward) == [0, 1, 2, 3]


def test_memory_stays_bounded_on_a_long_video(micro_model):
    frames, labels = moving_nuclei_video(num_frames=60, height=96, width=128, num=2, seed=2, leaving=False)
    tracker = VideoTracker(micro_model, ArrayFrames(frames), feature_cache_size=3)
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    tracker.add_points(0, 2, *centre_click(labels[0], 2))
    most_kept = 0
    for _ in tracker.propagate():
        most_kept = max(most_kept, *(len(tracker.memory_view(i).tracked) for i in tracker.object_ids))
        assert sum(frame in tracker.features for frame in range(60)) <= 3
    assert most_kept <= 15  # the window memory selection can still use, not the whole video
    for _ in tracker.propagate(start=59, direction="backward"):
        most_kept = max(most_kept, *(len(tracker.memory_view(i).tracked) for i in tracker.object_ids))
    assert most_kept <= 15


def test_box_and_mask_prompts_both_directions(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    ys, xs = np.nonzero(labels[5] == 2)
    tracker.add_box(5, 2, [xs.min(), ys.min(), xs.max(), ys.max()])
    tracker.add_mask(5, 3, labels[5] == 3)
    results = track_all(tracker, direction="both")
    assert sorted(results) == list(range(10))
    assert results[5].masks[3].sum() > 0.5 * (labels[5] == 3).sum()  # the mask prompt is the output


def test_remove_clear_reset(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    tracker.add_points(2, 2, *centre_click(labels[2], 2))
    tracker.remove_object(2)
    assert tracker.object_ids == (1,)
    tracker.clear_frame(0)
    with pytest.raises(RuntimeError, match="no prompt"):
        next(tracker.propagate())
    tracker.reset()
    assert tracker.object_ids == ()


class ShapeShifting:
    def __init__(self, frames):
        self.frames = frames

    def __len__(self):
        return len(self.frames)

    def __getitem__(self, i):
        return self.frames[i] if i < 3 else self.frames[i][:, :100]


def test_bad_input_is_refused_and_loses_nothing(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    with pytest.raises(RuntimeError, match="nothing to track"):
        next(tracker.propagate())
    with pytest.raises(IndexError, match="frames 0 to 9"):
        tracker.add_points(10, 1, [[5, 5]], [1])
    with pytest.raises(ValueError, match="positive integers"):
        tracker.add_points(0, 0, [[5, 5]], [1])
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    before = track_all(tracker)
    with pytest.raises(KeyError, match="unknown object id 7"):
        tracker.remove_object(7)
    with pytest.raises(ValueError, match="does not match"):
        tracker.add_mask(1, 1, np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="outside the image"):
        tracker.add_points(1, 1, [[500, 5]], [1])
    with pytest.raises(ValueError, match="direction"):
        next(tracker.propagate(direction="sideways"))
    after = track_all(tracker, start=0)  # tracked again from its prompt
    for frame in before:
        assert torch.equal(before[frame].low_res_logits, after[frame].low_res_logits)


def test_frames_that_change_shape_are_refused(micro_model, video):
    frames, labels = video
    tracker = VideoTracker(micro_model, ShapeShifting(frames))
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    run = tracker.propagate()
    assert [next(run).frame for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="frame 3 has shape"):
        next(run)


def test_small_holes_are_filled_large_ones_kept():
    logits = torch.full((1, 1, 32, 32), 5.0)
    logits[0, 0, 5:7, 5:7] = -3.0  # a 4-pixel hole
    logits[0, 0, 15:25, 15:25] = -3.0  # a 100-pixel hole
    filled = fill_small_holes(logits, max_area=8)
    assert torch.all(filled[0, 0, 5:7, 5:7] == HOLE_FILL_LOGIT)
    assert torch.all(filled[0, 0, 15:25, 15:25] == -3.0)
    assert torch.equal(fill_small_holes(logits, 0), logits)


@torch.inference_mode()
def test_absent_objects_get_one_memory_and_no_masks_of_their_own(micro_model, video, monkeypatch):
    """frame_memory separates the memory masks of the present objects, of one absent object and of
    absent objects whose logits reach above the cap only (issue 23); the memories are those of
    separating all of them, every absent object with the first absent one's."""
    from napari_sam2.engine import frame_step
    from napari_sam2.model.frame_steps import NO_OBJECT_LOGIT, encode_memory

    frames, _ = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    raw = tracker.features(0)
    side = 4 * micro_model.cfg.embedding_size
    logits = torch.randn(7, 1, side, side, generator=torch.Generator().manual_seed(0)) * 8 - 2  # overlapping
    scores = torch.tensor([[3.0], [-2.0], [1.0], [-5.0], [2.0], [-1.0], [-3.0]])
    logits[[1, 3, 5]] = NO_OBJECT_LOGIT
    logits[6] = logits[0] + 1.0  # absent, yet above the cap where object 0 is: it still takes those pixels
    rows, masks = [], frame_step.memory_masks

    def counted(model, logits, **kwargs):
        rows.append(len(logits))
        return masks(model, logits, **kwargs)

    monkeypatch.setattr(frame_step, "memory_masks", counted)
    memory = frame_step.frame_memory(micro_model, raw, logits, scores, False, True, None, None, lambda: None)
    assert rows == [5]  # three present, the first absent one and the one above the cap
    expected = encode_memory(micro_model, raw, logits, scores, binarize=False, separate=True).features
    present_and_first_absent = [0, 2, 4, 1]
    assert torch.allclose(memory.features[present_and_first_absent], expected[present_and_first_absent], atol=1e-5)
    assert (memory.features[0] - encode_memory(micro_model, raw, logits[[0, 1, 2, 3, 4, 5]], scores[:6], False,
                                               separate=True).features[0]).abs().max() > 1e-3  # object 6 counted
    for k in (3, 5, 6):
        assert torch.equal(memory.features[k], memory.features[1])


def test_a_blank_frame_is_passed_over_with_no_object_and_no_memory(micro_model, video):
    """A dropped frame (every pixel one value) amid a video stopped tracking ("the image is
    constant"): it has no object now, its features are never asked for, and tracking goes on after it."""
    frames, labels = video
    frames = frames.copy()
    frames[4] = 7
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    tracker.prefetch(4)  # a viewer looking at the blank frame
    results = track_all(tracker)
    assert sorted(results) == list(range(10)) and tracker.features.computed == 9  # never the blank frame
    assert not results[4].label_image().any()
    assert 4 not in tracker._objects[1].tracked and {3, 5} <= set(tracker._objects[1].tracked)
    with pytest.raises(ValueError, match="the image is constant"):  # nothing there to click on
        tracker.add_points(4, 2, *centre_click(labels[4], 2))


def test_a_frame_blank_in_the_channel_tracked_is_passed_over_though_another_channel_has_signal(micro_model, video):
    frames, labels = video
    two = np.stack([frames, frames[::-1]], axis=-1)  # (T, H, W, 2): the second channel never blank
    two[4, ..., 0] = 0
    tracker = VideoTracker(micro_model, ArrayFrames(two, channel_axis=3), channels=(0,))
    tracker.add_points(0, 1, *centre_click(labels[0], 1))
    results = track_all(tracker)
    assert sorted(results) == list(range(10)) and not results[4].label_image().any()
    assert tracker.features.computed == 9  # the image encoder never saw the blank frame
