"""TrackingSession in a viewer (no widget): prompts to tracker to store to Labels layer."""
import numpy as np
import pytest

from engine_labels import reference_labels
from napari_sam2._napari.prompt_layers import polygons_mask
from napari_sam2._napari.session import TrackingSession
from napari_sam2.storage import LabelsStore
from ome_check import read_as_ome_labels


def add_click(session, frame, row, col, obj_id=None):
    if obj_id is None:
        obj_id = session.new_object()
    else:
        session.labels_layer.selected_label = obj_id
    session.points_layer.add([frame, row, col])
    return obj_id


def test_clicks_track_like_the_engine_and_the_layer_is_the_store(make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    for obj_id, (row, col) in cell_centres.items():
        assert add_click(session, 0, row, col) == obj_id
        assert session.sync_prompts() == [0]
    assert session.tracker.object_ids == (1, 2, 3) and session.sync_prompts() == []
    assert list(session.propagate("forward")) == list(range(8))
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    on_disk = LabelsStore.open(tmp_path / "m.zarr", mode="r").array[:]
    np.testing.assert_array_equal(on_disk, expected)
    assert session.labels_layer.data is session.store.array
    assert set(np.unique(on_disk)) <= {0, 1, 2, 3} and on_disk[1:].any()


def test_a_polygon_is_a_mask_prompt_at_the_frame_resolution(make_napari_viewer, micro_model, video):
    frames, labels = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames), micro_model)
    rows, cols = np.nonzero(labels[0] == 2)
    polygon = [[0, rows.min(), cols.min()], [0, rows.min(), cols.max()], [0, rows.max(), cols.max()], [0, rows.max(), cols.min()]]
    session.shapes_layer.add_polygons([np.array(polygon, float)])
    session.sync_prompts()
    drawn = polygons_mask([np.array(polygon, float)[:, 1:]], (96, 128))
    frame0 = session.store.read_frame(0)
    assert set(np.unique(frame0)) == {0, 1}  # the first object id
    iou = ((frame0 == 1) & drawn).sum() / ((frame0 == 1) | drawn).sum()
    assert iou > 0.85  # the same place: rows and columns not swapped


def test_deleting_an_objects_last_click_forgets_it_and_erases_it(make_napari_viewer, micro_model, video, cell_centres):
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames), micro_model)
    for row, col in cell_centres.values():
        add_click(session, 0, row, col)
    session.sync_prompts()
    list(session.propagate())
    assert (session.store.array[:] == 1).any()
    session.points_layer.selected_data = {0}
    session.points_layer.remove_selected()
    assert session.sync_prompts() == [0]
    assert session.tracker.object_ids == (2, 3) and not (session.store.array[:] == 1).any()


def test_an_rgb_time_lapse_is_tracked_with_its_colours(make_napari_viewer, micro_model, video, cell_centres):
    frames, _ = video
    rgb = np.stack([frames // 4, frames // 2, frames], axis=-1)  # (T, H, W, 3)
    viewer = make_napari_viewer()
    layer = viewer.add_image(rgb, rgb=True)
    session = TrackingSession(viewer, layer, micro_model)
    assert session.layout.shape == (8, 96, 128)
    row, col = cell_centres[1]
    add_click(session, 0, row, col)
    list(session.propagate())
    expected = reference_labels(micro_model, rgb, [(1, row, col)], channel_axis=3)
    np.testing.assert_array_equal(session.store.array[:], expected)


@pytest.mark.parametrize("axis", [0, 1])
def test_a_4d_image_is_tracked_along_the_chosen_axis_at_the_current_slice(make_napari_viewer, micro_model, video, cell_centres,
                                                                          axis):
    frames, _ = video
    tzyx = np.stack([frames[::-1], frames])  # (2, 8, 96, 128)
    if axis == 0:
        tzyx = np.ascontiguousarray(tzyx.swapaxes(0, 1))  # (8, 2, 96, 128): time first, 2 z slices
    viewer = make_napari_viewer()
    layer = viewer.add_image(tzyx)
    viewer.dims.set_current_step(1 - axis, 1)  # the other axis at index 1
    session = TrackingSession(viewer, layer, micro_model, axis=axis)
    assert session.layout.fixed == ((1 - axis, 1),)
    row, col = cell_centres[1]
    point = [0, 0, row, col]
    point[1 - axis] = 1
    session.points_layer.add(point)
    point[1 - axis] = 0
    session.points_layer.add(point)  # on another slice of the fixed axis: not this tracking's
    list(session.propagate())
    expected = reference_labels(micro_model, tzyx, [(1, row, col)], axis=axis, fixed={1 - axis: 1})
    on_disk = session.store.array[:]  # (T, Z, Y, X) with length 1 at the fixed axis
    assert on_disk.shape[1 - axis] == 1 and session.store.axes == "tzyx"
    np.testing.assert_array_equal(np.squeeze(on_disk, axis=1 - axis), expected)
    assert session.labels_layer.data is session.store.array and session.labels_layer.translate[1 - axis] == 1
    assert session.store.translation[1 - axis] == 1


def test_bad_input_gives_errors_that_say_what_to_do(make_napari_viewer, micro_model, video, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    with pytest.raises(ValueError, match="no image layer to track: open a time-lapse"):
        TrackingSession(viewer, None, micro_model)
    with pytest.raises(ValueError, match="the image is constant"):  # a single image is one frame, read at once
        TrackingSession(viewer, viewer.add_image(np.zeros((96, 128, 3), np.uint8), rgb=True), micro_model)
    LabelsStore.create(tmp_path / "other.zarr", (8, 50, 60))
    with pytest.raises(ValueError, match="holds \\(8, 50, 60\\)"):
        TrackingSession(viewer, viewer.add_image(frames), micro_model, store_path=tmp_path / "other.zarr")
    session = TrackingSession(viewer, viewer.layers[-1], micro_model)
    with pytest.raises(ValueError, match="nothing to track yet: click a cell"):
        session.propagate()


def test_reopening_the_image_and_store_restores_labels_and_prompts_and_tracking_goes_on(
        make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    store = tmp_path / "m.zarr"
    viewer = make_napari_viewer()
    first = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=store)
    for row, col in cell_centres.values():
        add_click(first, 0, row, col)
    first.sync_prompts()
    stopped = first.propagate("forward")
    assert [next(stopped) for _ in range(4)] == [0, 1, 2, 3]
    stopped.close()
    saved_labels = first.store.array[:]
    saved_points = np.asarray(first.points_layer.data).copy()

    viewer2 = make_napari_viewer()  # as after closing napari and opening the image again
    again = TrackingSession(viewer2, viewer2.add_image(frames, name="cells"), micro_model, store_path=store)
    np.testing.assert_array_equal(np.asarray(again.points_layer.data), saved_points)
    assert list(again.points_layer.features["obj_id"]) == [1, 2, 3]
    assert list(again.points_layer.features["positive"]) == [True, True, True]
    assert again.tracker.object_ids == (1, 2, 3)
    np.testing.assert_array_equal(again.store.array[:], saved_labels)  # frames 4..7 still empty
    assert not saved_labels[4:].any()
    assert list(again.propagate("forward")) == list(range(8))
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    np.testing.assert_array_equal(again.store.array[:], expected)


def test_a_box_and_a_polygon_are_restored_with_their_object_ids(make_napari_viewer, micro_model, video, tmp_path):
    frames, _ = video
    store = tmp_path / "m.zarr"
    viewer = make_napari_viewer()
    first = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=store)
    first.new_object()
    first.shapes_layer.add_rectangles(np.array([[2, 10, 10], [2, 10, 40], [2, 30, 40], [2, 30, 10]], float))
    first.new_object()
    first.shapes_layer.add_polygons(np.array([[3, 50, 60], [3, 70, 60], [3, 70, 90]]))
    first.sync_prompts()
    before = first.store.array[:]

    viewer2 = make_napari_viewer()
    again = TrackingSession(viewer2, viewer2.add_image(frames, name="cells"), micro_model, store_path=store)
    assert list(again.shapes_layer.shape_type) == ["rectangle", "polygon"]
    assert list(again.shapes_layer.features["obj_id"]) == [1, 2]
    assert again.tracker.conditioning_frames(1) == [2] and again.tracker.conditioning_frames(2) == [3]
    np.testing.assert_array_equal(again.store.array[:], before)


def test_undo_puts_back_the_labels_of_the_last_propagation_only(make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    (row, col) = cell_centres[1]
    add_click(session, 0, row, col)
    session.sync_prompts()
    after_prompt = session.store.array[:]
    assert list(session.propagate("forward")) == list(range(8))
    first_run = session.store.array[:]
    assert first_run[1:].any()

    add_click(session, 0, *cell_centres[2])  # a second object, then a second propagation
    session.sync_prompts()
    session.labels_layer.data[5] = 9  # and the user painted frame 5 by hand
    with_second_prompt = session.store.array[:]
    assert list(session.propagate("forward", start=0)) == list(range(8))  # every object again, over the painting
    assert (session.store.array[:] != with_second_prompt).any()

    assert session.undo_propagation() == list(range(8))
    np.testing.assert_array_equal(session.store.array[:], with_second_prompt)  # not the first run's
    np.testing.assert_array_equal(np.asarray(session.labels_layer.data), with_second_prompt)
    with pytest.raises(ValueError, match="no propagation to undo"):
        session.undo_propagation()
    assert list(session.propagate("forward")) == list(range(8))  # tracking goes on from the prompts
    assert not after_prompt[1:].any()


def test_a_prompt_edit_after_a_propagation_makes_it_final(make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    add_click(session, 0, *cell_centres[1])
    list(session.propagate("forward"))
    add_click(session, 5, *cell_centres[1], obj_id=1)  # a correction
    session.sync_prompts()
    with pytest.raises(ValueError, match="no propagation to undo"):
        session.undo_propagation()


def test_the_frame_on_screen_gets_its_features_in_the_background_so_a_click_is_answered_at_once(
        make_napari_viewer, qtbot, micro_model, video, cell_centres):
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model)
    shown = viewer.dims.current_step[0]  # napari opens a stack at its middle frame
    qtbot.waitUntil(lambda: shown in session.tracker.features, timeout=30_000)
    assert shown != 5
    viewer.dims.set_point(0, 5)  # the user moves to frame 5
    qtbot.waitUntil(lambda: 5 in session.tracker.features and session.prefetcher.worker is None, timeout=30_000)
    computed = session.tracker.features.computed
    add_click(session, 5, *cell_centres[1])
    assert session.sync_prompts() == [5]
    assert session.tracker.features.computed == computed  # the click used the prefetched features


def test_the_session_writes_valid_ome_zarr_at_the_images_axes_pixel_sizes_and_units(
        make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    image = viewer.add_image(frames, name="cells", scale=(2.0, 0.5, 0.5), translate=(0, 10, 20),
                             axis_labels=("z", "y", "x"), units=("micrometer", "micrometer", "micrometer"))
    session = TrackingSession(viewer, image, micro_model, store_path=tmp_path / "m.zarr")
    add_click(session, 0, *cell_centres[1])
    list(session.propagate("forward"))
    labels, axes, scale, units = read_as_ome_labels(tmp_path / "m.zarr")
    np.testing.assert_array_equal(labels, session.store.array[:])
    assert labels.dtype == np.uint16 and labels[1:].any()
    assert axes == "zyx" and units == ("micrometer",) * 3
    np.testing.assert_allclose(scale, [2.0, 0.5, 0.5])
    np.testing.assert_allclose(session.store.translation, [0, 10, 20])
