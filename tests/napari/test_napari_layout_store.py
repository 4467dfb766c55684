"""Which axes are tracked, where the labels are stored, and the N-D view of the store."""
import numpy as np
import pytest

from napari_sam2._napari.labels_view import FixedAxesView, labels_layer_data, labels_translate
from napari_sam2._napari.layout import frame_layout, tracking_axes
from napari_sam2._napari.store_location import default_store_path, open_or_create_store
from napari_sam2.storage import LabelsStore


def test_a_3d_image_is_tracked_along_its_first_axis():
    layout = frame_layout((8, 96, 128))
    assert (layout.axis, layout.fixed, layout.store_shape, layout.spatial_axes) == (0, (), (8, 96, 128), (1, 2))


def test_a_4d_image_tracks_one_axis_at_the_current_index_of_the_other():
    layout = frame_layout((3, 10, 96, 128), axis=1, current_index=(2, 7, 0, 0))
    assert layout.fixed == ((0, 2),) and layout.num_frames == 10
    assert frame_layout((3, 10, 96, 128), axis=0, current_index=(2, 7, 0, 0)).fixed == ((1, 7),)
    assert tracking_axes((3, 10, 96, 128)) == [0, 1]


@pytest.mark.parametrize("shape,rgb,message", [
    ((96, 128), False, "single 2-D image.*nothing to track through"),
    ((96, 128), True, "single RGB image.*nothing to track through"),
])
def test_images_with_nothing_to_track_through_are_refused(shape, rgb, message):
    with pytest.raises(ValueError, match=message):
        frame_layout(shape, rgb=rgb, name="cells")


def test_a_spatial_axis_cannot_be_tracked():
    with pytest.raises(ValueError, match="choose one of the axes \\[0\\]"):
        frame_layout((8, 96, 128), axis=2)


def test_the_store_goes_next_to_the_image_file_or_to_a_temporary_folder(tmp_path):
    layout = frame_layout((8, 96, 128))
    image = tmp_path / "cells.ome.tif"
    image.touch()
    assert default_store_path(image, "cells", layout) == tmp_path / "cells.masklets.zarr"
    temporary = default_store_path(None, "my cells", layout)
    assert temporary.name == "my_cells.masklets.zarr" and temporary.parent.is_dir()
    four_d = frame_layout((3, 8, 96, 128), axis=1, current_index=(2, 0, 0, 0))
    assert default_store_path(image, "cells", four_d).name == "cells_axis1_0-2.masklets.zarr"


def test_an_existing_store_is_reopened_and_a_mismatched_one_refused(tmp_path):
    layout = frame_layout((8, 96, 128))
    store = open_or_create_store(tmp_path / "a.zarr", layout)
    store.write_frame(3, np.full((96, 128), 5, np.uint32))
    assert open_or_create_store(tmp_path / "a.zarr", layout).read_frame(3)[0, 0] == 5
    LabelsStore.create(tmp_path / "b.zarr", (8, 50, 50))
    with pytest.raises(ValueError, match="holds \\(8, 50, 50\\).*choose another store location"):
        open_or_create_store(tmp_path / "b.zarr", layout)
    (tmp_path / "c.zarr").mkdir()
    with pytest.raises(ValueError, match="not a napari-sam2 labels store"):
        open_or_create_store(tmp_path / "c.zarr", layout)


def test_a_3d_layer_shows_the_store_array_itself(tmp_path):
    layout = frame_layout((8, 96, 128))
    store = LabelsStore.create(tmp_path / "s.zarr", layout.store_shape)
    assert labels_layer_data(store.array, layout) is store.array


def test_the_view_adds_length_1_axes_at_the_fixed_axes(tmp_path):
    layout = frame_layout((3, 8, 6, 5), axis=0, current_index=(0, 4, 0, 0))  # t at z = 4
    store = LabelsStore.create(tmp_path / "s.zarr", layout.store_shape)  # (3, 6, 5)
    view = FixedAxesView(store.array, layout)
    assert view.shape == (3, 1, 6, 5) and view.ndim == 4 and view.size == 90
    store.write_frame(1, np.arange(30, dtype=np.uint32).reshape(6, 5))
    np.testing.assert_array_equal(view[1, 0], store.read_frame(1))
    assert view[1].shape == (1, 6, 5) and view[..., 2].shape == (3, 1, 6)
    assert view[1, 0, 2, 3] == 13
    np.testing.assert_array_equal(np.asarray(view)[:, 0], store.array[:])
    view[2, 0, 1, 1] = 7  # painting: ints, index arrays and slices go through to the store
    view[(np.array([2, 2]), np.array([0, 0]), np.array([0, 5 - 5]), np.array([0, 1]))] = 9
    view[0] = np.ones((1, 6, 5), np.uint32)
    assert store.read_frame(2)[1, 1] == 7 and store.read_frame(2)[0, :2].tolist() == [9, 9]
    assert store.read_frame(0).min() == 1
    np.testing.assert_array_equal(labels_translate([1, 2.0, 1, 1], [0, 10.0, 0, 0], layout), [0, 18, 0, 0])
