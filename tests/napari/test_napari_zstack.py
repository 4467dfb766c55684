"""A z-stack in the widget: the "Z-stack" box says the frames are z slices (3-D labels, no
divisions), ticked by itself where napari names the axis z; an image opened without axis names
(a TIFF without metadata, an array) reads as a time-lapse until the box is ticked."""
from napari_sam2._napari.widget import TrackingWidget


def test_a_stack_is_a_z_stack_when_the_box_is_ticked_or_its_axis_is_named_z(make_napari_viewer, qtbot, micro_model,
                                                                             video, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="stack", contrast_limits=(0, 1000))
    viewer.add_image(frames, name="named", axis_labels=("z", "y", "x"))
    widget = TrackingWidget(viewer, model=micro_model)
    viewer.window.add_dock_widget(widget)
    box, choose = widget.settings.depth_check, widget.settings.image_combo.setCurrentText
    choose("named")
    assert box.isEnabled() and box.isChecked()  # napari names its axis z
    choose("stack")
    assert box.isEnabled() and not box.isChecked()  # no axis name: a time-lapse
    viewer.layers.remove("named")
    box.setChecked(True)
    widget.store_edit.setText(str(tmp_path / "z.zarr"))
    widget.start_button.click()
    assert widget.session.store.axes == "zyx"  # "Track all cells" then tracks with no divisions
    assert box.isChecked()  # the session's own layers, added, leave the tick as it was
    widget.session.prefetcher.close()  # the window closes after the test: no worker may report to it then


def test_track_all_cells_along_z_clears_each_nucleus_beyond_its_ends(make_napari_viewer, qtbot, tmp_path):
    """"Track all cells" on a held-out realistic simulated z-stack (5 empty hazy slices at each end):
    the slices cleared beyond the nuclei's ends reach the store, whose lineage agrees with them."""
    import numpy as np
    import torch

    from napari_sam2.engine.loading import load_model
    from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_zstack

    torch.set_num_threads(1)
    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 12)), EVALUATION_SEEDS + 700)
    viewer = make_napari_viewer()
    viewer.add_image(sim.frames, name="nuclei", axis_labels=("z", "y", "x"))
    widget = TrackingWidget(viewer, model=load_model(None, device="cpu"))
    viewer.window.add_dock_widget(widget)
    widget.store_edit.setText(str(tmp_path / "nuclei.zarr"))
    widget.start_button.click()
    widget.cell_panel.track_button.click()
    qtbot.waitUntil(lambda: not widget.busy, timeout=120_000)
    store = widget.session.store
    labels = np.stack([store.read_frame(z) for z in range(store.num_frames)])
    empty = [z for z in range(len(labels)) if not sim.labels[z].any()]
    assert sum(len(np.unique(labels[z])) - 1 for z in empty) <= 5  # 40 without the ends rule
    assert store.load_lineage().check(labels) == [] and not store.load_lineage().divided()
    widget.session.prefetcher.close()


def test_nuclei_clicked_in_a_z_stack_end_where_they_fade(make_napari_viewer, tmp_path):
    """A click on each nucleus of the fullest slice of a held-out realistic simulated z-stack (its
    layer's axis named z), propagated both ways from the console: the store holds no nucleus on a
    slice without it (as a time-lapse, the masks persisted on 66 such (nucleus, slice) pairs)."""
    import numpy as np
    import torch
    from scipy import ndimage

    import napari_sam2 as ns
    from napari_sam2.engine.loading import load_model
    from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_zstack

    torch.set_num_threads(1)
    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 10)), EVALUATION_SEEDS + 1)
    fullest = int((sim.labels > 0).sum(axis=(1, 2)).argmax())
    cells = [int(c) for c in np.unique(sim.labels[fullest]) if c]
    centres = [np.unravel_index(ndimage.distance_transform_edt(sim.labels[fullest] == c).argmax(), sim.labels.shape[1:])
               for c in cells]
    viewer = make_napari_viewer()
    viewer.add_image(sim.frames, name="nuclei", axis_labels=("z", "y", "x"))
    clicks = viewer.add_points(np.array([[fullest, r, c] for r, c in centres], float),
                               features={"obj_id": cells, "positive": [True] * len(cells)})
    session = ns.track_layers(viewer, "nuclei", points=clicks, model=load_model(None, device="cpu"), store=tmp_path / "n.zarr")
    assert session.store.axes == "zyx"
    labels = np.stack([session.store.read_frame(z) for z in range(session.store.num_frames)])
    shown = np.array([[(labels[z] == c).any() for z in range(len(labels))] for c in cells])
    present = np.array([[(sim.labels[z] == c).any() for z in range(len(labels))] for c in cells])
    assert (shown & ~present).sum() == 0 and shown[:, fullest].all()
    session.prefetcher.close()
