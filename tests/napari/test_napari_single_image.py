"""A single 2-D image in the widget: click cells, get labels (issue 17); the cell diameter
setting, estimated and shown, or set by the user."""
import numpy as np
import pytest
from scipy import ndimage

from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.engine import ArrayFrames, TiledVideoTracker, load_model
from napari_sam2.evaluation import central_click
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def large_frame():
    """One simulated 768 x 768 frame: cells about 20 px across, tiny at the model's 256 px input."""
    config = SimulationConfig(height=768, width=768, num_frames=1, num_cells=(60, 70))
    sim = simulate_timelapse(config, EVALUATION_SEEDS + 31)
    return sim.frames[0], sim.labels[0]


def start(make_napari_viewer, model, image, tmp_path, diameter=0.0):
    viewer = make_napari_viewer()
    viewer.add_image(image, name="cells")
    widget = TrackingWidget(viewer, model=model)
    viewer.window.add_dock_widget(widget)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.diameter_spin.setValue(diameter)
    widget.start_button.click()
    assert widget.session is not None
    return viewer, widget


def centres(labels, ids):
    boxes = ndimage.find_objects(labels)
    for obj_id in ids:
        rows, cols = boxes[obj_id - 1]
        (x, y), _ = central_click(labels[rows, cols] == obj_id)
        yield obj_id, y + rows.start, x + cols.start


def test_a_single_image_click_cells_get_labels(make_napari_viewer, qtbot, large_frame, tmp_path, notifications):
    image, truth = large_frame
    model = load_model(None, device="cpu")
    viewer, widget = start(make_napari_viewer, model, image, tmp_path)
    session = widget.session
    assert session.layout.single_image and session.points_layer.ndim == 2 and session.labels_layer.data.shape == (768, 768)
    assert not widget.forward_button.isEnabled() and widget.new_object_button.isEnabled()
    assert "estimated from the frames" in widget.diameter_label.text()
    assert session.tracker.cell_diameter == pytest.approx(np.median(2 * np.sqrt(np.bincount(truth.ravel())[1:] / np.pi)),
                                                          rel=0.2)
    clicked = list(centres(truth, [int(i) for i in np.unique(truth)[1:12]]))
    for _, row, col in clicked:
        widget.new_object_button.click()
        session.points_layer.add([row, col])  # applied through the layer's events, in a worker
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    labels = np.asarray(session.labels_layer.data)
    ious = [((labels == obj_id) & (truth == cell)).sum() / ((labels == obj_id) | (truth == cell)).sum()
            for obj_id, (cell, _, _) in enumerate(clicked, start=1)]
    # the model card: one-click IoU about 0.8. Single cells among touching ones move with the scale:
    # the estimate 18.8 -> 19.3 px (session 11's level rule; truth 18.8) moved them both ways, mean
    # 0.748 -> 0.723, lowest 0.49 -> 0.39; a lost or spilled cell is under 0.2
    assert np.mean(ious) > 0.7 and min(ious) > 0.3, ious
    assert notifications["error"] == []


def test_a_diameter_set_in_the_widget_is_used_and_a_bad_one_is_refused(make_napari_viewer, micro_model, video, tmp_path,
                                                                       notifications):
    frames, _ = video
    viewer, widget = start(make_napari_viewer, micro_model, frames, tmp_path, diameter=12.0)
    assert widget.session.tracker.cell_diameter == 12.0 and "12.0 px (as set" in widget.diameter_label.text()
    assert widget.session.tracker.tile_plan.scaled_hw == TiledVideoTracker(micro_model, ArrayFrames(frames),
                                                                           cell_diameter=12.0).tile_plan.scaled_hw
    widget.diameter_spin.setValue(500.0)  # larger than the 96 x 128 frames
    widget.start_button.click()
    assert any("larger than the image (96 x 128 px)" in message for message in notifications["error"])
