"""The dock widget: propagation in a thread worker, Stop and resume, a responsive GUI, errors."""
import time

import dask.array as da
import numpy as np
from qtpy.QtCore import QThreadPool, QTimer

from engine_labels import reference_labels
from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.storage import LabelsStore
from slow_work import slow_prefetch

TIMEOUT_MS = 60_000


def slow_frames(frames, seconds: float):
    """The video as a dask array whose frames take `seconds` to read, like a slow disk: a
    propagation then lasts long enough to be stopped, or watched, in the middle."""
    def read(block):
        time.sleep(seconds)
        return block
    return da.from_array(frames, chunks=(1, *frames.shape[1:])).map_blocks(read, dtype=frames.dtype)


def start(make_napari_viewer, micro_model, data, tmp_path, show=False):
    viewer = make_napari_viewer(show=show)
    viewer.add_image(data, name="cells", contrast_limits=(0, 1000))
    widget = TrackingWidget(viewer, model=micro_model)
    viewer.window.add_dock_widget(widget)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    assert widget.session is not None
    return viewer, widget


def click_cells(qtbot, widget, centres):
    for row, col in centres.values():
        widget.new_object_button.click()
        widget.session.points_layer.add([0, row, col])  # applied through the layer's events, in a worker
    wait_until_idle(qtbot, widget)


def wait_until_idle(qtbot, widget):
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)


def run(qtbot, widget, button):
    button.click()
    assert widget.runner.running
    wait_until_idle(qtbot, widget)
    return list(widget.runner.frames_done)


def test_clicks_then_propagate_forward_in_a_worker(make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path,
                                                   notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    click_cells(qtbot, widget, cell_centres)
    session = widget.session
    assert session.tracker.object_ids == (1, 2, 3)  # the layer events applied the clicks
    assert session.labels_layer.selected_label == 3 and str(tmp_path / "cells.zarr") in widget.store_label.text()
    assert run(qtbot, widget, widget.forward_button) == list(range(8))
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    on_disk = LabelsStore.open(tmp_path / "cells.zarr", mode="r").array[:]
    np.testing.assert_array_equal(on_disk, np.asarray(session.labels_layer.data))
    np.testing.assert_array_equal(on_disk, expected)
    assert notifications["error"] == []


def test_stop_keeps_the_finished_frames_and_propagating_again_completes_them(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.2), tmp_path)
    click_cells(qtbot, widget, cell_centres)
    refresh = widget.runner.on_frame
    widget.runner.on_frame = lambda frame: (refresh(frame), widget.stop() if frame >= 2 else None)
    first = run(qtbot, widget, widget.forward_button)
    widget.runner.on_frame = refresh
    assert first == list(range(len(first))) and 3 <= len(first) < 8  # stopped after the frame being tracked
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    store = widget.session.store.array
    np.testing.assert_array_equal(store[: len(first)], expected[: len(first)])
    assert not store[len(first):].any() and expected[len(first):].any()  # the rest not written yet
    second = run(qtbot, widget, widget.forward_button)
    assert second == list(range(len(first), 8))  # goes on where it stopped
    np.testing.assert_array_equal(store[:], expected)
    assert notifications["error"] == []


def test_the_gui_keeps_processing_events_during_propagation(make_napari_viewer, qtbot, micro_model, video, cell_centres,
                                                            tmp_path):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.1), tmp_path)
    click_cells(qtbot, widget, {1: cell_centres[1]})
    ticks, ticks_at_frame = [0], []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start(10)
    widget.runner.on_frame = lambda frame: (ticks_at_frame.append(ticks[0]), widget.session.labels_layer.refresh())
    try:
        run(qtbot, widget, widget.both_button)
    finally:
        timer.stop()
    assert len(ticks_at_frame) == 8
    assert ticks_at_frame[-1] - ticks_at_frame[0] >= 7  # the timer fired while frames were tracked
    assert np.all(np.diff(ticks_at_frame) >= 0)


def test_prompts_edited_during_a_propagation_are_applied_after_it(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.1), tmp_path)
    click_cells(qtbot, widget, {1: cell_centres[1]})
    refresh = widget.runner.on_frame

    def click_another_cell(frame):
        refresh(frame)
        if frame == 1:
            widget.session.labels_layer.selected_label = 2
            widget.session.points_layer.add([0, *cell_centres[2]])
            assert widget.session.tracker.object_ids == (1,)  # not while the worker uses the tracker
    widget.runner.on_frame = click_another_cell
    run(qtbot, widget, widget.forward_button)
    assert widget.session.tracker.object_ids == (1, 2) and notifications["error"] == []


def test_t_flips_a_click_to_negative_and_it_is_applied(make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path):
    from napari_sam2._napari.prompt_layers import toggle_selected_positive

    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    click_cells(qtbot, widget, {1: cell_centres[1]})
    points = widget.session.points_layer
    assert any(str(key) == "T" for key in points.keymap)
    points.selected_data = {0}
    toggle_selected_positive(points)
    assert widget.session.current_prompts()[0][1].labels == (0,)
    wait_until_idle(qtbot, widget)
    assert widget.session.sync_prompts() == []  # the features event applied it already


def test_an_error_while_tracking_is_shown_and_the_widget_can_go_on(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    disk = {"gone": False}  # goes away once tracking runs (the start may read any frame, e.g. to size the cells)

    def read(block, block_info=None):
        if disk["gone"] and block_info[0]["chunk-location"][0] == 6:  # (napari shows frame 3)
            raise RuntimeError("the disk went away")
        return block
    failing = da.from_array(frames, chunks=(1, 96, 128)).map_blocks(read, dtype=frames.dtype)
    viewer, widget = start(make_napari_viewer, micro_model, failing, tmp_path)
    disk["gone"] = True
    click_cells(qtbot, widget, {1: cell_centres[1]})
    assert run(qtbot, widget, widget.forward_button) == [0, 1, 2, 3, 4, 5]
    assert "the disk went away" in notifications["error"][-1]
    assert widget.forward_button.isEnabled() and not widget.stop_button.isEnabled()


def test_a_box_from_the_shapes_layer_tracks_an_object(make_napari_viewer, qtbot, micro_model, video, tmp_path):
    frames, labels = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    rows, cols = np.nonzero(labels[0] == 3)
    r0, r1, c0, c1 = rows.min() - 2, rows.max() + 2, cols.min() - 2, cols.max() + 2
    widget.new_object_button.click()
    widget.session.shapes_layer.add_rectangles(np.array([[0, r0, c0], [0, r0, c1], [0, r1, c1], [0, r1, c0]], float))
    wait_until_idle(qtbot, widget)
    assert widget.session.tracker.object_ids == (1,)
    run(qtbot, widget, widget.forward_button)
    expected = reference_labels(micro_model, frames, boxes=[(1, (c0, r0, c1, r1))])
    np.testing.assert_array_equal(widget.session.store.array[:], expected)
    assert expected.any()


def test_bad_input_is_shown_as_an_error_that_says_what_to_do(make_napari_viewer, micro_model, video, tmp_path, notifications):
    frames, _ = video
    viewer = make_napari_viewer()
    widget = TrackingWidget(viewer, model=micro_model)
    widget.start_button.click()
    assert widget.session is None and "no image layer to track" in notifications["error"][-1]
    viewer.add_image(np.zeros((96, 128), np.uint16), name="one empty frame")
    widget.start_button.click()
    assert widget.session is None and "the image is constant" in notifications["error"][-1]
    viewer.add_image(frames, name="cells")
    widget.image_combo.setCurrentText("cells")
    widget.start_button.click()
    assert widget.session is not None
    widget.forward_button.click()
    assert "nothing to track yet" in notifications["error"][-1] and not widget.runner.running
    widget.session.points_layer.add([0, 50, 400])
    assert "outside the image" in notifications["warning"][-1] and "delete it" in notifications["warning"][-1]


def widget_loading_with(monkeypatch, make_napari_viewer, video, load):
    """A widget on the video whose menu model (an official one) is loaded by `load`."""
    import napari_sam2._napari.model_loader as model_loader

    monkeypatch.setattr(model_loader, "load_chosen_model", load)
    viewer = make_napari_viewer()
    viewer.add_image(video[0], name="cells")
    widget = TrackingWidget(viewer)
    widget.model_combo.setCurrentText("sam2.1_hiera_tiny")
    return widget


def test_a_model_is_loaded_in_a_worker_with_a_progress_bar_and_the_session_starts_after(
        make_napari_viewer, qtbot, micro_model, video, tmp_path, monkeypatch, notifications):
    """A download (here a stand-in that reports 5 MB in 10 steps) does not block the GUI."""
    def downloading(choice, checkpoint, progress=None):
        for step in range(1, 11):
            time.sleep(0.05)
            progress(step * 500_000, 5_000_000)
        return micro_model

    widget = widget_loading_with(monkeypatch, make_napari_viewer, video, downloading)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    seen = []
    ticker = QTimer()
    ticker.timeout.connect(lambda: seen.append(widget.loader._bar.total if widget.loader._bar is not None else None))
    ticker.start(20)
    widget.start_button.click()
    assert widget.session is None and widget.loader.running and not widget.start_button.isEnabled()
    qtbot.waitUntil(lambda: widget.session is not None, timeout=TIMEOUT_MS)
    ticker.stop()
    assert len(seen) >= 10  # the event loop ran while the model loaded
    assert 5_000_000 in seen  # the bar knew the download's size
    assert widget.start_button.isEnabled() and widget.forward_button.isEnabled()
    assert widget.session.tracker.model is micro_model and notifications["error"] == []
    widget.start_button.click()  # a second session reuses the loaded model at once
    assert widget.session is not None and not widget.loader.running


def test_a_model_that_cannot_be_loaded_is_reported_and_the_widget_stays_usable(
        make_napari_viewer, qtbot, video, monkeypatch, notifications):
    def offline(choice, checkpoint, progress=None):
        raise OSError("could not download sam2.1_hiera_tiny: no network; place the file at /cache/x.pt")

    widget = widget_loading_with(monkeypatch, make_napari_viewer, video, offline)
    widget.start_button.click()
    qtbot.waitUntil(lambda: not widget.loader.running, timeout=TIMEOUT_MS)
    assert widget.session is None and widget.start_button.isEnabled()
    assert "could not be loaded" in notifications["error"][-1] and "place the file" in notifications["error"][-1]


def test_closing_napari_waits_for_the_feature_worker_and_starts_no_other(
        make_napari_viewer, qtbot, micro_model, video, tmp_path):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path, show=True)
    session = widget.session
    started, computed = slow_prefetch(session.tracker)
    viewer.dims.set_current_step(0, 5)
    qtbot.waitUntil(lambda: started == [5], timeout=TIMEOUT_MS)  # computing frame 5 in a worker
    viewer.close()
    assert computed == [5] and session.prefetcher.closed  # waited for; a stray request is refused
    session.prefetcher.request(6)
    assert session.prefetcher.worker is None or computed == [5]


def test_closing_napari_during_a_propagation_stops_it_and_keeps_the_finished_frames(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.3), tmp_path, show=True)
    click_cells(qtbot, widget, cell_centres)
    widget.forward_button.click()
    qtbot.waitUntil(lambda: len(widget.runner.frames_done) >= 1, timeout=TIMEOUT_MS)
    viewer.close()
    assert QThreadPool.globalInstance().activeThreadCount() == 0
    store = LabelsStore.open(tmp_path / "cells.zarr", mode="r")
    written = store.undoable_frames  # the frames the propagation wrote
    assert written == list(range(len(written))) and 1 <= len(written) < 8  # it stopped
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    np.testing.assert_array_equal(store.array[: len(written)], expected[: len(written)])  # nothing lost


def test_a_stray_point_or_a_line_is_told_once_and_does_not_block_later_clicks(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    session = widget.session
    (r1, c1), (r2, c2), (r3, c3) = cell_centres.values()
    session.points_layer.add([0, r1, c1])
    widget.new_object_button.click()
    session.points_layer.add([0, -30, c2])  # above the image: object 2 has no valid prompt
    session.shapes_layer.add_lines(np.array([[0, 5, 5], [0, 20, 20]], float))
    widget.new_object_button.click()
    session.points_layer.add([0, r2, c2])
    widget.new_object_button.click()
    session.points_layer.add([0, r3, c3])
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)  # clicks are decoded in a worker
    assert session.tracker.object_ids == (1, 3, 4)
    assert notifications["error"] == []
    warnings = notifications["warning"]
    assert len(warnings) == 2, warnings  # each told once, not again at the later edits
    assert "clicks" in warnings[0] and "row -30.0" in warnings[0] and "outside the image" in warnings[0]
    assert "boxes and masks" in warnings[1] and "a line is not a prompt" in warnings[1]


def test_an_image_with_nan_pixels_is_refused_at_start_in_plain_words(
        make_napari_viewer, micro_model, video, tmp_path, notifications):
    frames, _ = video
    with_nan = frames.astype(np.float32)
    with_nan[:, :10, :] = np.nan  # e.g. the empty border a registration leaves
    viewer = make_napari_viewer()
    viewer.add_image(with_nan, name="registered")
    widget = TrackingWidget(viewer, model=micro_model)
    widget.store_edit.setText(str(tmp_path / "registered.zarr"))
    widget.start_button.click()
    assert widget.session is None
    message = notifications["error"][-1]
    assert "'registered' cannot be tracked" in message and "1,280 pixels that hold no number (NaN)" in message
    assert "Remove NaNs" in message
    assert not (tmp_path / "registered.zarr").exists()  # no store is made for an image refused


def test_an_image_without_a_file_keeps_its_store_in_the_data_folder_and_reopening_finds_it(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, data_folder, notifications):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")  # made in Python: no file to put the store beside
    widget = TrackingWidget(viewer, model=micro_model)
    widget.start_button.click()
    store = data_folder / "stores" / "cells.masklets.zarr"
    assert widget.session.store_path == store and store.is_dir()
    warning = notifications["warning"][-1]
    assert str(store) in warning and "not opened from a file" in warning and "Opening this image again" in warning
    row, col = cell_centres[1]
    widget.session.points_layer.add([0, row, col])
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)  # decoded and saved with the labels
    viewer.close()

    again = make_napari_viewer()  # napari opened again on the same image
    again.add_image(frames, name="cells")
    widget = TrackingWidget(again, model=micro_model)
    widget.start_button.click()
    assert widget.session.store_path == store
    np.testing.assert_allclose(widget.session.points_layer.data, [[0, row, col]])  # the work is found


def test_starting_again_replaces_the_session_and_deleted_labels_can_be_shown_again(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path, notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, slow_frames(frames, 0.2), tmp_path)
    first = widget.session
    click_cells(qtbot, widget, cell_centres)
    widget.start_button.click()  # Start again on the same image and store
    second = widget.session
    names = [layer.name for layer in viewer.layers]
    assert names == ["cells", "cells tracked labels", "cells boxes and masks", "cells clicks"], names
    assert first.points_layer not in viewer.layers and first.prefetcher.closed  # the first session is closed
    assert len(second.points_layer.data) == 3 and second.tracker.object_ids == (1, 2, 3)  # prompts reopened
    (row, col) = cell_centres[3]
    assert second.labels_layer.selected_label == 3  # the object being edited when the first one ended
    second.points_layer.add([2, row, col])  # a click in the shown layer is applied
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    assert 2 in second.tracker.conditioning_frames(3)

    widget.forward_button.click()
    qtbot.waitUntil(lambda: len(widget.runner.frames_done) >= 1, timeout=TIMEOUT_MS)
    viewer.layers.remove(second.labels_layer)  # deleted during the propagation
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT_MS)
    assert widget.show_button.isEnabled()
    widget.show_button.click()
    assert second.labels_layer in viewer.layers and np.asarray(second.labels_layer.data)[7].any()
    assert notifications["error"] == []


def test_the_widget_explains_itself_and_shows_its_progress(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path):
    from qtpy.QtWidgets import QAbstractButton, QComboBox, QLineEdit

    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(slow_frames(frames, 0.2), name="cells", contrast_limits=(0, 1000))
    widget = TrackingWidget(viewer, model=micro_model)
    controls = widget.findChildren(QAbstractButton) + widget.findChildren(QComboBox) + widget.findChildren(QLineEdit)
    assert len(controls) >= 14 and all(control.toolTip() for control in controls)
    assert "press 'Start tracking this image'" in widget.help_label.text()
    assert widget.axis_combo.currentText() == "axis 0 (8 frames)"  # not napari's default label "-3"
    viewer.dims.axis_labels = ("t", "y", "x")
    widget.settings.refresh_axes()
    assert widget.axis_combo.currentText() == "axis 0 (t, 8 frames)"
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    assert "Editing object 1: click the centre of a cell in the layer 'cells clicks'" in widget.help_label.text()
    assert widget.session.points_layer.current_size < 13  # a click does not hide a small cell
    click_cells(qtbot, widget, cell_centres)
    assert "Editing object 3 (3 objects so far)" in widget.help_label.text()
    assert all(size < 13 for size in widget.session.points_layer.size)
    assert widget.progress_bar.isHidden()

    widget.forward_button.click()
    qtbot.waitUntil(lambda: len(widget.runner.frames_done) >= 2, timeout=TIMEOUT_MS)
    assert not widget.progress_bar.isHidden() and widget.progress_bar.maximum() == 8
    assert widget.progress_bar.value() >= 2 and "/ 8 frames, about" in widget.progress_label.text()
    assert "Tracking" in widget.help_label.text()
    qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT_MS)
    assert widget.progress_bar.isHidden()


def test_the_precision_setting_reaches_the_model_and_shows_what_auto_chose(make_napari_viewer, micro_model, video,
                                                                          tmp_path):
    import torch

    viewer = make_napari_viewer(show=False)
    viewer.add_image(video[0], name="cells", contrast_limits=(0, 1000))
    widget = TrackingWidget(viewer, model=micro_model)
    assert widget.chosen_precision() == "auto"  # the default
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.precision_combo.setCurrentText("bfloat16")
    widget.start_button.click()
    assert widget.session.tracker.precision == "bfloat16"
    seen = set()
    linear = next(m for m in micro_model.image_encoder.modules() if isinstance(m, torch.nn.Linear))
    handle = linear.register_forward_hook(lambda m, args, out: seen.add(out.dtype))
    widget.session.tracker.prefetch(1)
    handle.remove()
    assert seen == {torch.bfloat16}
    widget.precision_combo.setCurrentIndex(0)
    widget.store_edit.setText(str(tmp_path / "again.zarr"))
    widget.start_button.click()
    assert widget.precision_combo.currentText() == f"auto ({widget.session.tracker.precision} on this machine)"


def test_the_mask_cleanup_setting_reaches_the_tracker(make_napari_viewer, micro_model, video, tmp_path):
    from napari_sam2 import MaskCleanup

    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path)
    assert widget.cleanup_check.isChecked() and widget.session.tracker.cleanup == MaskCleanup()
    widget.cleanup_check.setChecked(False)
    widget.start_button.click()  # the setting applies from the next Start
    assert widget.session.tracker.cleanup == MaskCleanup.off()


def test_in_a_short_window_the_dock_scrolls_and_no_button_is_squeezed(make_napari_viewer, qtbot, micro_model, video, tmp_path):
    """With 'All cells' saying why it cannot track (the longest the dock gets) in a window shorter
    than the dock: every button keeps the height its text needs, and the dock scrolls to them."""
    from qtpy.QtWidgets import QPushButton, QScrollArea

    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path, show=True)
    widget.cell_panel.show_unavailable("Tracking every cell needs an image of frames, rows and columns; " * 4)
    viewer.window._qt_window.resize(1000, 500)
    qtbot.wait(200)
    shown = [b for b in widget.findChildren(QPushButton) if b.isVisibleTo(widget)]
    assert len(shown) > 15 and all(b.height() >= b.minimumSizeHint().height() for b in shown)
    scroll = widget.findChild(QScrollArea)
    assert scroll.verticalScrollBar().maximum() > 0  # the rest is reached by scrolling
    qtbot.waitUntil(lambda: widget.width() >= widget.minimumSizeHint().width(), timeout=5000)  # the dock widens
    assert scroll.horizontalScrollBar().maximum() == 0  # as wide as its content: nothing cut at the side
    assert all(b.mapTo(scroll.viewport(), b.rect().topRight()).x() <= scroll.viewport().width() for b in shown)
    scroll.ensureWidgetVisible(widget.cell_panel.export_buttons["csv"])
    assert scroll.verticalScrollBar().value() > 0
