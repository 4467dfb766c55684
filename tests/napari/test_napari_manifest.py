"""The npe2 manifest: valid, and its widget and sample data open in a viewer."""
from pathlib import Path

import npe2
import pytest

from napari_sam2._napari import sample_data
from napari_sam2._napari.widget import TrackingWidget

MANIFEST = Path(__file__).resolve().parents[2] / "napari.yaml"


def test_the_manifest_is_valid_and_names_the_widget_and_samples():
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "napari-sam2" and manifest.display_name == "SAM 2 for microscopy"
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    (widget,) = manifest.contributions.widgets
    assert commands[widget.command] == "napari_sam2._napari.widget:TrackingWidget"
    samples = {s.key: commands[s.command] for s in manifest.contributions.sample_data}
    assert samples == {"timelapse": "napari_sam2._napari.sample_data:timelapse",
                       "zstack": "napari_sam2._napari.sample_data:zstack"}
    manifest.validate_imports()  # every python_name imports


@pytest.mark.parametrize("key,shape,labels", [("timelapse", (40, 192, 256), ("t", "y", "x")), ("zstack", (24, 192, 256), ("z", "y", "x"))])
def test_sample_data_opens_in_a_viewer(make_napari_viewer, key, shape, labels):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", key)
    (layer,) = viewer.layers
    assert layer.name == key and layer.data.shape == shape and tuple(layer.axis_labels) == labels


def test_missing_sample_data_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sample_data, "sample_folder", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="scripts/make_sample_data.py"):
        sample_data.timelapse()


def test_the_plugin_menu_docks_a_working_tracking_widget(make_napari_viewer, micro_model, video, notifications):
    """napari hands plugins a proxy of the viewer that refuses private attributes: the widget
    and its session must work through it."""
    frames, _ = video
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    assert isinstance(widget, TrackingWidget)
    viewer.add_image(frames, name="cells")
    assert widget.image_combo.currentText() == "cells"
    widget.model = micro_model
    widget.start_button.click()
    widget.session.points_layer.add([0, 40, 50])
    assert notifications["error"] == [] and widget.session.tracker.object_ids == (1,)
