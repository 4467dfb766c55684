"""Which frames a propagation covers (VideoTracker.plan) and how a result goes onto stored labels
(FrameResult.paint_onto): issue 15's defects 1 and 2 at the engine's level."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.engine.frame_result import FrameResult
from napari_sam2.engine.frames import ArrayFrames
from napari_sam2.engine.video_tracker import VideoTracker
from napari_sam2.testing.synthetic import moving_nuclei_video


@pytest.fixture(scope="module")
def video():
    return moving_nuclei_video(num_frames=10, height=96, width=128, num=3, seed=1, dtype=np.uint16)


def click(tracker, labels, frame, obj_id):
    ys, xs = np.nonzero(labels[0] == obj_id)  # random weights: where the click is does not matter
    return tracker.add_points(frame, obj_id, [[float(xs.mean()), float(ys.mean())]], [1])


def prompted(model, video, *clicks) -> VideoTracker:
    """A tracker of the video with a click per (frame, obj_id)."""
    frames, labels = video
    tracker = VideoTracker(model, ArrayFrames(frames))
    for frame, obj_id in clicks:
        click(tracker, labels, frame, obj_id)
    return tracker


def tracked_ids(tracker, **kwargs) -> dict[int, tuple[int, ...]]:
    """frame -> the objects a propagation tracked there, in the order of the frames."""
    return {r.frame: r.updated_ids for r in tracker.propagate(**kwargs)}


def test_a_new_object_after_a_both_ways_run_is_tracked_from_its_own_prompt(micro_model, video):
    tracker = prompted(micro_model, video, (4, 1))
    assert tracker.plan("both").describe() == "frames 4 -> 9, then 3 -> 0"
    tracked_ids(tracker, direction="both")
    click(tracker, video[1], 7, 2)  # a new object on a later frame
    plan = tracker.plan("backward")
    assert plan.describe() == "frames 7 -> 0" and plan.num_frames == 8
    assert tracked_ids(tracker, direction="backward") == {f: (2,) for f in range(7, -1, -1)}


def test_a_correction_restarts_forward_from_the_corrected_frame(micro_model, video):
    tracker = prompted(micro_model, video, (0, 1), (0, 2))
    tracked_ids(tracker)
    assert tracker.plan("forward").runs == ()  # up to date: nothing to track again
    assert tracker.plan("forward").describe() == "no frames"
    click(tracker, video[1], 6, 1)  # a correction of object 1
    assert tracker.plan("forward").describe() == "frames 6 -> 9"
    assert tracked_ids(tracker) == {f: (1,) for f in range(6, 10)}
    # the correction reaches back too; frame 6 itself is its prompt's, the same either way
    assert tracker.plan("backward").describe() == "frames 5 -> 0"


def test_an_object_is_not_tracked_before_its_first_prompt(micro_model, video):
    tracker = prompted(micro_model, video, (0, 1), (3, 2))
    ids = tracked_ids(tracker)
    assert [ids[f] for f in range(10)] == [(1,)] * 3 + [(1, 2)] * 7
    ids = tracked_ids(tracker, direction="backward")  # object 2 backward from its prompt; 1 is done
    assert ids == {2: (2,), 1: (2,), 0: (2,)}


def test_a_stopped_run_goes_on_where_it_stopped(micro_model, video):
    tracker = prompted(micro_model, video, (5, 1))
    run = tracker.propagate(direction="both")
    assert [next(run).frame for _ in range(3)] == [5, 6, 7]
    run.close()
    assert tracker.plan("both").describe() == "frames 8 -> 9, then 4 -> 0"
    run = tracker.propagate(direction="both")
    assert [next(run).frame for _ in range(4)] == [8, 9, 4, 3]
    run.close()
    assert tracker.plan("both").describe() == "frames 2 -> 0"


def test_a_start_frame_tracks_every_object_from_it(micro_model, video):
    tracker = prompted(micro_model, video, (0, 1), (3, 2))
    assert tracker.plan("forward", start=0).describe() == "frames 0 -> 9"
    assert set(tracked_ids(tracker, start=0).values()) == {(1, 2)}
    assert tracker.plan("both", start=4, max_frames=2).describe() == "frames 4 -> 5, then 3 -> 2"
    with pytest.raises(ValueError, match="direction must be one of forward, backward, both"):
        tracker.plan("sideways")


def result_of(object_ids, updated_ids, discs) -> FrameResult:
    """A 40 x 40 frame's result with each object a disc (row, col, radius) of logit 5, else -5."""
    rows, cols = np.mgrid[:40, :40]
    logits = [np.where((rows - r) ** 2 + (cols - c) ** 2 <= rad**2, 5.0, -5.0) for r, c, rad in discs]
    low = torch.tensor(np.stack(logits), dtype=torch.float32)[:, None]
    return FrameResult(0, tuple(object_ids), low, torch.ones(len(object_ids)), (40, 40), tuple(updated_ids))


def test_painting_a_result_changes_only_the_objects_it_is_about():
    stored = np.zeros((40, 40), np.uint32)
    stored[0:10, 0:10] = 1  # object 1 where the result no longer has it (outside the window)
    stored[20:30, 20:30] = 2  # object 2's old place
    stored[30:40, 0:10] = 7  # painted by hand
    result = result_of((1, 2), (2,), [(-100, -100, 1), (10, 10, 6)])  # object 2 moved onto object 1
    painted = result.paint_onto(stored)
    assert (painted[20:30, 20:30] == 0).all()  # object 2's old pixels are cleared
    assert (painted[30:40, 0:10] == 7).all() and (painted[0:4, 0:4] == 1).all()  # the others kept
    assert painted[10, 10] == 2 and (painted == 2).sum() == (result.masks[2]).sum()  # and 2 wins its pixels
    assert (stored[20:30, 20:30] == 2).all()  # the stored array itself is not changed
    unchanged = result_of((1, 2), (), [(10, 10, 6), (20, 20, 6)]).paint_onto(stored)
    np.testing.assert_array_equal(unchanged, stored)


def test_a_winning_other_object_keeps_its_pixels_from_the_updated_one():
    stored = np.zeros((40, 40), np.uint32)
    result = result_of((1, 2), (2,), [(20, 14, 8), (20, 26, 8)])
    logits = result.low_res_logits.clone()
    logits[0, 0, 18:23, 17:24] = 9.0  # object 1 is surer where the discs meet
    result = FrameResult(0, (1, 2), logits, torch.ones(2), (40, 40), (2,))
    painted = result.paint_onto(stored)
    assert painted[20, 20] == 0 and painted[20, 30] == 2 and not (painted == 1).any()


def test_a_stop_ends_a_run_between_model_calls_and_the_tracker_goes_on_from_that_frame(micro_model, video):
    """Issue 22: a stop takes effect at the next model call, not after a whole multi-object
    frame; the frame in progress is dropped and the next run gives what an uninterrupted one does."""
    # on frame 3 the two objects' memories differ in size: two decoder calls
    uninterrupted, stopped = (prompted(micro_model, video, (0, 1), (1, 2)) for _ in range(2))
    expected = {r.frame: r.low_res_logits for r in uninterrupted.propagate()}
    run = stopped.propagate()
    assert [next(run).frame for _ in range(3)] == [0, 1, 2]
    decoder_calls = []

    def stop_after_the_call(*args):  # the user presses Stop while the first group is decoded
        decoder_calls.append(1)
        stopped.request_stop()

    hook = micro_model.sam_mask_decoder.register_forward_hook(stop_after_the_call)
    try:
        assert list(run) == []  # frame 3 is dropped
    finally:
        hook.remove()
    assert len(decoder_calls) == 1  # the second object's decoding never started
    assert stopped.plan().describe() == "frames 3 -> 9"
    rest = {r.frame: r.low_res_logits for r in stopped.propagate()}
    assert sorted(rest) == list(range(3, 10))
    for frame, logits in rest.items():
        assert torch.equal(logits, expected[frame])
