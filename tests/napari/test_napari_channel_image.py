"""A time-lapse of two channels opened as one (T, C, Y, X) layer (napari's reader keeps an ImageJ
hyperstack whole): clicks work on the channel on screen, and every cell is tracked on that channel
opened as an image of its own, from the "All cells" section, with the same labels as the channel
given alone."""
import numpy as np
import pytest

from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.engine import track_all_cells
from napari_sam2.engine.loading import embedded_model_path, load_model
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")


def test_every_cell_of_the_channel_on_screen_is_tracked_on_it_opened_as_its_own_image(make_napari_viewer, qtbot,
                                                                                      tmp_path, notifications):
    model = load_model(None, device="cpu")
    sim = simulate_timelapse(SimulationConfig(height=96, width=96, num_frames=4, division_probability=0.0,
                                              enter_rate=0.0), EVALUATION_SEEDS + 650)
    noise = np.random.default_rng(1).integers(0, sim.frames.max(), sim.frames.shape).astype(sim.frames.dtype)
    viewer = make_napari_viewer()
    viewer.add_image(np.stack([noise, sim.frames], axis=1), name="two channels", scale=(1, 1, 0.5, 0.5))
    viewer.dims.set_point(1, 1)  # the nuclei's channel on screen
    widget = TrackingWidget(viewer, model=model)
    widget.store_edit.setText(str(tmp_path / "two.zarr"))
    widget.start_button.click()
    panel = widget.cell_panel
    assert widget.cells is None and not panel.track_button.isEnabled()
    assert not panel.unavailable_label.isHidden() and "(4, 2, 96, 96)" in panel.unavailable_label.text()
    panel.own_image_button.click()
    layer = viewer.layers[-1]
    assert layer.name == "two channels [axis 1=1]" and layer.data.shape == (4, 96, 96) and list(layer.scale) == [1, 0.5, 0.5]
    np.testing.assert_array_equal(np.asarray(layer.data), sim.frames)
    assert widget.settings.image_combo.currentText() == layer.name and "Start" in notifications["info"][-1]
    widget.store_edit.setText(str(tmp_path / "nuclei.zarr"))
    widget.start_button.click()
    assert widget.cells is not None and panel.unavailable_label.isHidden() and panel.track_button.isEnabled()
    panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)
    store = widget.session.store
    labels = np.stack([store.read_frame(t) for t in range(store.num_frames)])
    np.testing.assert_array_equal(labels, track_all_cells(model, sim.frames)[0])
    assert len(np.unique(labels[0])) > 3
