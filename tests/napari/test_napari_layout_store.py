"""Which axes are tracked, where the labels are stored, and the N-D view of the store."""
import os

import numpy as np
import pytest

from napari_sam2._napari.labels_view import labels_translate
from napari_sam2._napari.layout import frame_layout, tracking_axes
from napari_sam2._napari.store_location import default_store_path
from napari_sam2.storage import LabelsStore, open_or_create_store


def test_a_3d_image_is_tracked_along_its_first_axis():
    layout = frame_layout((8, 96, 128))
    assert (layout.axis, layout.fixed, layout.store_shape, layout.spatial_axes) == (0, (), (8, 96, 128), (1, 2))


def test_a_4d_image_tracks_one_axis_at_the_current_index_of_the_other():
    layout = frame_layout((3, 10, 96, 128), axis=1, current_index=(2, 7, 0, 0))
    assert layout.fixed == ((0, 2),) and layout.num_frames == 10
    assert frame_layout((3, 10, 96, 128), axis=0, current_index=(2, 7, 0, 0)).fixed == ((1, 7),)
    assert tracking_axes((3, 10, 96, 128)) == [0, 1]


@pytest.mark.parametrize("rgb", [False, True])
def test_a_single_image_is_one_frame(rgb):
    layout = frame_layout((96, 128), rgb=rgb, name="cells")
    assert (layout.single_image, layout.num_frames, layout.store_shape, layout.spatial_axes) == (True, 1, (96, 128), (0, 1))
    assert layout.frame_of([40.0, 7.0]) == 0


def test_an_image_with_one_axis_is_refused():
    with pytest.raises(ValueError, match="has shape \\(128,\\): open a single 2-D image, a time-lapse"):
        frame_layout((128,), name="cells")


def test_a_spatial_axis_cannot_be_tracked():
    with pytest.raises(ValueError, match="choose one of the axes \\[0\\]"):
        frame_layout((8, 96, 128), axis=2)


def test_the_store_goes_next_to_the_image_file_or_to_the_data_folder(tmp_path, data_folder, monkeypatch):
    layout = frame_layout((8, 96, 128))
    image = tmp_path / "cells.ome.tif"
    image.touch()
    assert default_store_path(image, "cells", layout) == (tmp_path / "cells.masklets.zarr", None)
    path, why = default_store_path(None, "my cells", layout)
    assert path == data_folder / "stores" / "my_cells.masklets.zarr" and "not opened from a file" in why
    assert default_store_path(None, "my cells", layout)[0] == path  # the same place every time
    four_d = frame_layout((3, 8, 96, 128), axis=1, current_index=(2, 0, 0, 0))
    assert default_store_path(image, "cells", four_d)[0].name == "cells_axis1_0-2.masklets.zarr"
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # a read-only folder (tests may run as root)
    path, why = default_store_path(image, "cells", layout)
    assert path == data_folder / "stores" / "cells.masklets.zarr" and f"folder {tmp_path} cannot be written" in why


def test_an_existing_store_is_reopened_and_a_mismatched_one_refused(tmp_path):
    shape = (8, 96, 128)
    store = open_or_create_store(tmp_path / "a.zarr", shape)
    store.write_frame(3, np.full((96, 128), 5, np.uint32))
    assert open_or_create_store(tmp_path / "a.zarr", shape).read_frame(3)[0, 0] == 5
    LabelsStore.create(tmp_path / "b.zarr", (8, 50, 50))
    with pytest.raises(ValueError, match="holds \\(8, 50, 50\\).*choose another store location"):
        open_or_create_store(tmp_path / "b.zarr", shape)
    (tmp_path / "c.zarr").mkdir()
    with pytest.raises(ValueError, match="not a napari-sam2 labels store"):
        open_or_create_store(tmp_path / "c.zarr", shape)


def test_a_4d_image_has_a_4d_store_with_length_1_at_the_fixed_axis():
    layout = frame_layout((3, 8, 6, 5), axis=0, current_index=(0, 4, 0, 0))  # t at z = 4
    assert layout.store_shape == (3, 1, 6, 5)
    np.testing.assert_array_equal(labels_translate([1, 2.0, 1, 1], [0, 10.0, 0, 0], layout), [0, 18, 0, 0])
