"""The npe2 manifest: valid, and its widget and sample data open in a viewer."""
from pathlib import Path

import npe2
import pytest

from napari_sam2._napari import sample_data
from napari_sam2._napari.widget import TrackingWidget

MANIFEST = Path(__file__).resolve().parents[2] / "src" / "napari_sam2" / "napari.yaml"


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


@pytest.mark.parametrize("key,shape,labels", [("timelapse", (40, 192, 256), ("t", "y", "x")),
                                              ("zstack", (24, 192, 256), ("z", "y", "x"))])
def test_sample_data_opens_in_a_viewer(make_napari_viewer, key, shape, labels):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-sam2", key)
    (layer,) = viewer.layers
    assert layer.name == key and layer.data.shape == shape and tuple(layer.axis_labels) == labels


def test_missing_sample_data_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(sample_data, "sample_folder", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="scripts/make_sample_data.py"):
        sample_data.timelapse()


def test_the_plugin_menu_docks_a_working_tracking_widget(make_napari_viewer, qtbot, micro_model, video, notifications):
    """napari hands plugins a proxy of the viewer that refuses private attributes: the widget,
    its session and its clean-up on closing must work through it."""
    frames, _ = video
    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2 tracking")
    assert isinstance(widget, TrackingWidget)
    viewer.add_image(frames, name="cells")
    assert widget.image_combo.currentText() == "cells"
    widget.model = micro_model
    widget.start_button.click()
    widget.session.points_layer.add([0, 40, 50])
    qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)
    assert notifications["error"] == [] and widget.session.tracker.object_ids == (1,)
    prefetcher = widget.session.prefetcher
    viewer.close()  # the widget found napari's window without private attributes
    assert prefetcher.closed


def test_a_sessions_store_opens_as_a_labels_layer_through_the_plugin_reader(make_napari_viewer, tmp_path):
    import numpy as np

    from napari_sam2.storage import LabelsStore

    store = LabelsStore.create(tmp_path / "cells.masklets.zarr", (5, 30, 40))
    store.write_frame(3, np.full((30, 40), 7, np.uint32))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "cells.masklets.zarr"), plugin="napari-sam2")
    assert layer.__class__.__name__ == "Labels" and layer.name == "cells tracked labels"
    assert layer.data.shape == (5, 30, 40) and int(np.asarray(layer.data[3]).max()) == 7
    assert not np.asarray(layer.data[2]).any()
    layer.data[1, 0, 0] = 4  # painting writes to disk: the layer is the store
    assert LabelsStore.open(tmp_path / "cells.masklets.zarr", mode="r").read_frame(1)[0, 0] == 4


def test_the_plugin_reader_leaves_other_zarr_folders_to_other_plugins(tmp_path):
    import zarr

    from napari_sam2._napari.io import get_reader

    zarr.open_group(str(tmp_path / "image.zarr"), mode="w").create_array("0", shape=(4, 4), dtype="u2")
    assert get_reader(str(tmp_path / "image.zarr")) is None
    assert get_reader(str(tmp_path / "missing.zarr")) is None


@pytest.mark.parametrize("shape", [(30, 40), (4, 30, 40), (2, 3, 30, 40)])
def test_labels_saved_with_the_plugin_writer_read_back_equal(make_napari_viewer, tmp_path, shape):
    import numpy as np

    labels = np.random.default_rng(0).integers(0, 9, shape).astype(np.uint16)
    viewer = make_napari_viewer()
    layer = viewer.add_labels(labels, name="cells", scale=(2.0,) * (len(shape) - 2) + (0.5, 0.5))
    (written,) = layer.save(str(tmp_path / "saved.zarr"), plugin="napari-sam2")
    (read,) = viewer.open(written, plugin="napari-sam2")
    np.testing.assert_array_equal(np.asarray(read.data[...]), labels)
    np.testing.assert_allclose(read.scale, layer.scale)


def test_the_writer_refuses_what_is_not_labels(tmp_path):
    import numpy as np

    from napari_sam2._napari.io import write_labels

    with pytest.raises(ValueError, match="non-negative integers"):
        write_labels(str(tmp_path / "x.zarr"), np.full((4, 4), -1), {})
    with pytest.raises(ValueError, match="2-D to 5-D"):
        write_labels(str(tmp_path / "x.zarr"), np.zeros(4, int), {})


def test_a_store_opens_without_naming_the_plugin_once_napari_sam2_has_opened_one(make_napari_viewer, tmp_path):
    """napari's own reader takes every folder: until napari-sam2 has opened or saved a store,
    napari asks which reader to use (MultipleReaderError here, the dialog in File > Open)."""
    import numpy as np
    from napari.errors import MultipleReaderError
    from napari.settings import get_settings

    from napari_sam2.storage import LabelsStore

    for name in ("first", "second"):
        LabelsStore.create(tmp_path / f"{name}.masklets.zarr", (3, 8, 8), scale=(1, 0.5, 0.5)).write_frame(
            1, np.full((8, 8), 4, np.uint8))
    viewer = make_napari_viewer()
    with pytest.raises(MultipleReaderError, match="napari-sam2"):
        viewer.open(str(tmp_path / "first.masklets.zarr"), plugin=None)
    viewer.open(str(tmp_path / "first.masklets.zarr"), plugin="napari-sam2")
    (layer,) = viewer.open(str(tmp_path / "second.masklets.zarr"), plugin=None)  # as File > Open does
    assert layer.__class__.__name__ == "Labels" and layer.name == "second tracked labels"
    assert tuple(layer.scale) == (1, 0.5, 0.5) and int(np.asarray(layer.data[1]).max()) == 4
    get_settings().plugins.extension2reader = {"*.masklets.zarr/": "napari"}  # a user's own choice stays
    viewer.open(str(tmp_path / "second.masklets.zarr"), plugin="napari-sam2")
    assert get_settings().plugins.extension2reader == {"*.masklets.zarr/": "napari"}


def test_the_writer_keeps_the_layers_axes_units_and_the_smallest_type_for_its_ids(make_napari_viewer, tmp_path):
    import numpy as np

    from ome_check import read_as_ome_labels

    labels = np.zeros((3, 20, 30), np.int64)
    labels[1, :5] = 70000  # more than uint16 holds
    viewer = make_napari_viewer()
    layer = viewer.add_labels(labels, scale=(2.0, 0.5, 0.5), translate=(0, 5, 5), axis_labels=("z", "y", "x"),
                              units=("micrometer",) * 3)
    (written,) = layer.save(str(tmp_path / "saved.zarr"), plugin="napari-sam2")
    on_disk, axes, scale, units = read_as_ome_labels(written)
    assert on_disk.dtype == np.uint32 and axes == "zyx" and units == ("micrometer",) * 3
    np.testing.assert_array_equal(on_disk, labels)
    np.testing.assert_allclose(scale, [2.0, 0.5, 0.5])
    small = viewer.add_labels(np.ones((3, 20, 30), np.int64))
    (written,) = small.save(str(tmp_path / "small.zarr"), plugin="napari-sam2")
    assert read_as_ome_labels(written)[0].dtype == np.uint16
    (tmp_path / "other.zarr").mkdir()
    (tmp_path / "other.zarr" / "notes.txt").write_text("x")
    with pytest.raises(Exception, match="not a napari-sam2 labels store: it is left as it is"):
        small.save(str(tmp_path / "other.zarr"), plugin="napari-sam2")
    assert (tmp_path / "other.zarr" / "notes.txt").read_text() == "x"


def test_the_manifest_has_categories_an_icon_and_a_layers_menu_entry(make_napari_viewer):
    from importlib import resources

    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert {str(c) for c in manifest.categories} == {"Segmentation", "Annotation"}
    package, resource = manifest.icon.split(":")
    assert (resources.files(package) / resource).is_file()
    assert [item.command for item in manifest.contributions.menus["napari/layers/track"]] == [
        "napari-sam2.tracking_widget"]
    make_napari_viewer()  # registers the plugins' menus with napari's app
    from napari._app_model import get_app_model

    commands = [item.command.id for item in get_app_model().menus.get_menu("napari/layers/track")
                if hasattr(item, "command")]
    assert "napari-sam2.tracking_widget" in commands
