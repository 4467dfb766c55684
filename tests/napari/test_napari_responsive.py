"""napari never freezes: clicks are decoded in a worker, each frame is encoded once, edits made
meanwhile are coalesced in order, Stop says so at once (issue 22)."""
import threading
import time

import numpy as np
import pytest
import torch
from qtpy.QtCore import QTimer
from test_napari_widget import TIMEOUT_MS, click_cells, slow_frames, start, wait_until_idle

from napari_sam2 import ArrayFrames, TiledVideoTracker, VideoTracker


class EncoderGate:
    """Wraps VideoTracker._encode_frame: records the frames encoded, and holds the first pass
    over `frame` until `release` is set (an image encoder that takes as long as the test wants)."""

    def __init__(self, monkeypatch, frame: int):
        self.frame, self.calls = frame, []
        self.started, self.release = threading.Event(), threading.Event()
        encode = VideoTracker._encode_frame

        def gated(tracker, index):
            self.calls.append(index)
            if index == self.frame and not self.started.is_set():
                self.started.set()
                assert self.release.wait(TIMEOUT_MS / 1000)
            return encode(tracker, index)
        monkeypatch.setattr(VideoTracker, "_encode_frame", gated)


@pytest.fixture
def gate_encoder(monkeypatch):
    """gate_encoder(frame) -> an EncoderGate; released at the end of the test whatever happens."""
    gates = []
    yield lambda frame: gates.append(EncoderGate(monkeypatch, frame)) or gates[-1]
    for gate in gates:
        gate.release.set()


def engine_labels(model, frames, frame, clicks, dtype):
    """The label image the engine alone gives on `frame` after `clicks` [(obj_id, row, col)], in order."""
    tracker = TiledVideoTracker(model, ArrayFrames(frames))
    for obj_id, row, col in clicks:
        result = tracker.add_points(frame, obj_id, points=[[col, row]], labels=[1])
    return result.label_image(dtype)


def test_a_click_on_a_frame_being_prefetched_waits_for_that_encode_in_a_worker(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, gate_encoder, notifications):
    frames, _ = video
    gate = gate_encoder(5)
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    viewer.dims.set_current_step(0, 5)  # the prefetch worker starts encoding frame 5
    qtbot.waitUntil(gate.started.is_set, timeout=TIMEOUT_MS)
    row, col = cell_centres[1]
    widget.new_object_button.click()
    widget.session.points_layer.add([5, row, col])  # a click while frame 5 is being encoded
    assert widget.prompt_worker.running and widget.status_label.text() == "computing object 1 on frame 5..."
    qtbot.wait(300)  # the event loop runs meanwhile (the click waits in the worker)
    assert widget.session.tracker.object_ids == ()
    gate.release.set()
    wait_until_idle(qtbot, widget)
    assert gate.calls.count(5) == 1  # encoded once, for the prefetch and the click
    store = widget.session.store.array
    np.testing.assert_array_equal(store[5], engine_labels(micro_model, frames, 5, [(1, row, col)], store.dtype))
    assert widget.status_label.text() == "" and notifications["error"] == []


def test_edits_made_while_a_click_is_computed_are_applied_after_it_in_order(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, gate_encoder, notifications):
    frames, _ = video
    gate = gate_encoder(6)
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    batches = []
    on_started = widget.prompt_worker.on_started
    widget.prompt_worker.on_started = lambda edits: (batches.append(edits), on_started(edits))
    (r1, c1), (r2, c2), (r3, c3) = cell_centres.values()
    points = widget.session.points_layer
    widget.new_object_button.click()
    points.add([6, r1, c1])  # frame 6 is encoded in the worker, held by the gate
    qtbot.waitUntil(gate.started.is_set, timeout=TIMEOUT_MS)
    points.data = np.array([[6, r3, c3]])  # object 1's click moved, then a click for object 2
    widget.new_object_button.click()
    points.add([6, r2, c2])
    widget.forward_button.click()  # waits for the edits
    assert not widget.runner.running and "then propagating forward" in widget.status_label.text()
    gate.release.set()
    wait_until_idle(qtbot, widget)
    assert batches == [{6: [1]}, {6: [1, 2]}]  # the two later edits in one batch, after the first
    assert widget.runner.frames_done == [6, 7]  # the propagation came last
    assert widget.session.sync_prompts() == [] and notifications["error"] == []  # nothing left to send
    store = widget.session.store.array  # frame 6 is prompted: the propagation keeps its masks
    in_order = engine_labels(micro_model, frames, 6, [(1, r1, c1), (1, r3, c3), (2, r2, c2)], store.dtype)
    np.testing.assert_array_equal(store[6], in_order)


def test_stop_says_stopping_until_the_frame_being_tracked_is_written(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.3), tmp_path)
    click_cells(qtbot, widget, {1: cell_centres[1]})
    shown = []
    refresh = widget.runner.on_frame
    def stop_after_frame_1(frame):
        refresh(frame)
        if frame == 1:
            widget.stop()
            shown.append(widget.status_label.text())
    widget.runner.on_frame = stop_after_frame_1
    widget.forward_button.click()
    wait_until_idle(qtbot, widget)
    assert shown == ["stopping..."] and widget.status_label.text() == ""
    assert widget.runner.frames_done[-1] <= 2


@pytest.mark.slow
def test_a_click_with_an_official_size_model_never_stalls_napari(
        make_napari_viewer, qtbot, tmp_path, video, cell_centres):
    """sam2.1_hiera_tiny's configuration at 1024 (random weights): one image-encoder pass takes
    seconds on a CPU. Clicking a frame whose features are not ready must not stall the event loop."""
    from napari_sam2.model import SAM2Model, sam21_config

    torch.manual_seed(0)
    model = SAM2Model(sam21_config("tiny")).eval()
    frames = video[0][:3]
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells", contrast_limits=(0, 1000))
    viewer.dims.set_current_step(0, 0)
    from napari_sam2._napari.widget import TrackingWidget
    widget = TrackingWidget(viewer, model=model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()  # frame 0, on screen, starts being encoded in the background
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    row, col = cell_centres[1]
    assert 0 not in widget.session.tracker.features
    clicked = time.perf_counter()
    widget.new_object_button.click()
    widget.session.points_layer.add([0, row, col])
    wait_until_idle(qtbot, widget)
    arrived = time.perf_counter()
    timer.stop()
    gaps = np.diff([clicked, *ticks, arrived])
    assert arrived - clicked > 0.5  # the encoder did take long: the test measured something
    assert gaps.max() < 0.3, f"the event loop stalled for {gaps.max():.2f} s"
    store = widget.session.store.array
    np.testing.assert_array_equal(store[0], engine_labels(model, frames, 0, [(1, row, col)], store.dtype))
    assert widget.session.tracker.features.computed == 1


def test_after_a_failed_edit_propagating_decodes_the_prompts_in_the_worker_not_in_napari(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    tracker = widget.session.tracker
    add_points, in_main_thread, failing = tracker.add_points, [], [True]

    def out_of_memory_at_first(*args, **kwargs):
        in_main_thread.append(threading.current_thread() is threading.main_thread())
        if failing[0]:
            raise RuntimeError("out of memory")
        return add_points(*args, **kwargs)
    tracker.add_points = out_of_memory_at_first
    click_cells(qtbot, widget, {1: cell_centres[1]})
    assert "out of memory" in notifications["error"][-1] and tracker.object_ids == ()
    failing[0] = False
    widget.forward_button.click()  # the click is sent again, in the worker, then the propagation
    wait_until_idle(qtbot, widget)
    assert tracker.object_ids == (1,) and widget.runner.frames_done == list(range(8))
    assert not any(in_main_thread)
