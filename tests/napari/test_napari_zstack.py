"""A z-stack in the widget: the "Z-stack" box says the frames are z slices (3-D labels, no
divisions), ticked by itself where napari names the axis z; an image opened without axis names
(a TIFF without metadata, an array) reads as a time-lapse until the box is ticked."""
from napari_sam2._napari.widget import TrackingWidget


def test_a_stack_is_a_z_stack_when_the_box_is_ticked_or_its_axis_is_named_z(make_napari_viewer, micro_model, video,
                                                                             tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="stack", contrast_limits=(0, 1000))
    widget = TrackingWidget(viewer, model=micro_model)
    viewer.window.add_dock_widget(widget)
    box = widget.settings.depth_check
    assert box.isEnabled() and not box.isChecked()  # no axis name: a time-lapse
    widget.store_edit.setText(str(tmp_path / "t.zarr"))
    widget.start_button.click()
    assert widget.session.store.axes == "tyx"
    box.setChecked(True)
    widget.store_edit.setText(str(tmp_path / "z.zarr"))
    widget.start_button.click()
    assert widget.session.store.axes == "zyx"  # "Track all cells" then tracks with no divisions
    viewer.add_image(frames, name="named", axis_labels=("z", "y", "x"))
    widget.settings.image_combo.setCurrentText("named")
    assert box.isChecked()
    viewer.add_image(frames[None], name="4-D")
    widget.settings.image_combo.setCurrentText("4-D")
    assert not box.isEnabled() and widget.settings.chosen_depth() is None
