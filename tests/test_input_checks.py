"""Bad axes, frame indices, point shapes and counts are refused with a message naming the
problem, and the predictor or tracker keeps working afterwards (issue 21, items 4-7)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.engine import ImagePredictor
from napari_sam2.engine.frames import ArrayFrames
from napari_sam2.engine.preprocessing import preprocess
from napari_sam2.engine.video_tracker import VideoTracker
from napari_sam2.testing.synthetic import moving_nuclei_video, nuclei_image


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(axis=4), "axis=4 is outside an array with 3 axes"),
        (dict(axis=-4), "axis=-4 is outside"),
        (dict(axis=0, channel_axis=3), "channel_axis=3 is outside"),
        (dict(axis=0, fixed={5: 0}), "fixed=5 is outside"),
    ],
)
def test_an_axis_outside_the_array_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ArrayFrames(np.zeros((6, 64, 80)), **kwargs)


def test_negative_axes_count_from_the_end():
    tzyx = np.arange(2 * 3 * 8 * 9).reshape(2, 3, 8, 9)
    frames = ArrayFrames(tzyx, axis=-3, fixed={-4: 1})
    assert len(frames) == 3 and frames.frame_shape == (8, 9)
    np.testing.assert_array_equal(frames[2], tzyx[1, 2])
    np.testing.assert_array_equal(ArrayFrames(np.zeros((6, 64, 80, 2)), channel_axis=-1)[0], np.zeros((64, 80, 2)))


def test_a_channel_axis_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="channel_axis=3 is outside an array with 3 axes"):
        preprocess(np.ones((2, 32, 32)), 64, channel_axis=3)


def test_frame_sources_take_whole_number_frames_only():
    frames = ArrayFrames(np.arange(6 * 4 * 5).reshape(6, 4, 5))
    np.testing.assert_array_equal(frames[np.float64(2.0)], frames[2])
    with pytest.raises(ValueError, match="the frame must be an integer, got 2.5"):
        frames[2.5]
    with pytest.raises(IndexError, match="frames 0 to 5"):
        frames[6]


@pytest.fixture(scope="module")
def video():
    return moving_nuclei_video(num_frames=6, height=96, width=128, num=2, seed=3, dtype=np.uint16)


def centre(labels, obj):
    ys, xs = np.nonzero(labels == obj)
    return [[float(xs.mean()), float(ys.mean())]], [1]


def tracked(tracker, **kwargs):
    return {r.frame: r.low_res_logits for r in tracker.propagate(**kwargs)}


def test_float_frames_and_ids_from_napari_are_taken_when_whole(micro_model, video):
    frames, labels = video
    by_int = VideoTracker(micro_model, ArrayFrames(frames))
    by_float = VideoTracker(micro_model, ArrayFrames(frames))
    expected = by_int.add_points(2, 1, *centre(labels[2], 2))
    result = by_float.add_points(2.0, np.float64(1.0), *centre(labels[2], 2))
    assert result.frame == 2 and type(result.frame) is int and by_float.object_ids == (1,)
    assert torch.equal(result.low_res_logits, expected.low_res_logits)
    assert tracked(by_float, start=2.0).keys() == tracked(by_int, start=2).keys() == {2, 3, 4, 5}


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda t, c: t.add_points(2.5, 1, *c), ValueError, "the frame must be an integer, got 2.5"),
        (lambda t, c: t.add_points(1, 1.5, *c), ValueError, "object ids are positive integers.*got 1.5"),
        (lambda t, c: t.add_points("1", 1, *c), TypeError, "the frame must be an integer"),
        (lambda t, c: t.add_mask(0.5, 1, np.ones((96, 128), bool)), ValueError, "the frame must be an integer"),
        (lambda t, c: t.clear_frame(1.25), ValueError, "the frame must be an integer"),
        (lambda t, c: t.prefetch(3.5), ValueError, "the frame must be an integer"),
        (lambda t, c: next(t.propagate(start=0.5)), ValueError, "the frame must be an integer"),
        (lambda t, c: t.add_points(1, 1, [[20, 20, 1]], [1]), ValueError, r"points must be \(x, y\) pixel pairs"),
        (lambda t, c: next(t.propagate(max_frames=-3)), ValueError, "max_frames must be 1 or more, got -3"),
        (lambda t, c: next(t.propagate(max_frames=0)), ValueError, "max_frames must be 1 or more"),
        (lambda t, c: next(t.propagate(max_frames=2.5)), ValueError, "max_frames must be an integer"),
    ],
    ids=["float frame", "float id", "text frame", "mask frame", "clear frame", "prefetch", "start",
         "point width", "negative max_frames", "zero max_frames", "float max_frames"],
)
def test_bad_tracker_calls_are_refused_and_change_nothing(micro_model, video, call, error, message):
    frames, labels = video
    tracker = VideoTracker(micro_model, ArrayFrames(frames))
    tracker.add_points(0, 1, *centre(labels[0], 1))
    before = tracked(tracker)
    with pytest.raises(error, match=message):
        call(tracker, centre(labels[1], 2))
    assert tracker.object_ids == (1,) and tracker.conditioning_frames(1) == [0]
    after = tracked(tracker, start=0)  # again from the start: a default run goes on only where nothing is tracked
    assert before.keys() == after.keys() == set(range(6))
    assert all(torch.equal(before[f], after[f]) for f in before)
    assert len(tracked(tracker, start=0, max_frames=2)) == 2


@pytest.mark.parametrize(
    "points, message",
    [
        ([[20, 20, 1]], r"points must be \(x, y\) pixel pairs.*got shape \(1, 3\)"),
        ([20, 20, 1], r"points must be \(x, y\) pixel pairs.*got shape \(3,\)"),
        ([[[20, 20]]], r"got shape \(1, 1, 2\)"),
        ([[20, 20], [30]], r"points must be \(x, y\) pairs of numbers"),
    ],
)
def test_points_of_the_wrong_width_are_named(micro_model, points, message):
    predictor = ImagePredictor(micro_model)
    predictor.set_image(nuclei_image(64, 80, num=2, seed=0)[0])
    before = predictor.predict(points=[[30, 30]], labels=[1])
    with pytest.raises(ValueError, match=message):
        predictor.predict(points=points, labels=[1])
    after = predictor.predict(points=[[30, 30]], labels=[1])
    np.testing.assert_array_equal(before.low_res_logits, after.low_res_logits)
    assert predictor.predict(points=[30, 30], labels=1).masks.shape == (3, 64, 80)  # one point, flat
