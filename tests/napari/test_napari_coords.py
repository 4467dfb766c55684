"""coords.py: napari (..., row, col) to the engine's (frame, x, y), without a viewer."""
import numpy as np
import pytest

from napari_sam2._napari.coords import (
    frame_xy_to_napari_point,
    napari_point_to_frame_xy,
    napari_vertices_to_rows_cols,
    napari_vertices_to_xyxy,
    on_fixed_slice,
)


def test_a_3d_point_becomes_frame_x_y():
    assert napari_point_to_frame_xy([4, 10.5, 20.25], axis=0, spatial_axes=(1, 2)) == (4, 20.25, 10.5)


def test_the_frame_is_the_nearest_slice():
    assert napari_point_to_frame_xy([2.9999, 1, 2], 0, (1, 2))[0] == 3
    assert napari_point_to_frame_xy([3.4, 1, 2], 0, (1, 2))[0] == 3


def test_a_4d_point_tracked_along_z():
    t, z, row, col = 1, 6, 30.0, 40.0
    assert napari_point_to_frame_xy([t, z, row, col], axis=1, spatial_axes=(2, 3)) == (6, 40.0, 30.0)
    assert on_fixed_slice([t, z, row, col], {0: 1}) and not on_fixed_slice([0, z, row, col], {0: 1})


@pytest.mark.parametrize("ndim,axis,fixed", [(3, 0, {}), (4, 1, {0: 2}), (4, 0, {1: 5})])
def test_the_inverse_round_trips(ndim, axis, fixed):
    spatial = (ndim - 2, ndim - 1)
    point = frame_xy_to_napari_point(7, x=12.5, y=3.0, ndim=ndim, axis=axis, spatial_axes=spatial, fixed=fixed)
    assert napari_point_to_frame_xy(point, axis, spatial) == (7, 12.5, 3.0)
    assert on_fixed_slice(point, fixed)


def test_rectangle_vertices_become_an_xyxy_box():
    vertices = np.array([[0, 10, 20], [0, 10, 60], [0, 40, 60], [0, 40, 20]])  # (frame, row, col)
    assert napari_vertices_to_xyxy(vertices, (1, 2)) == (20, 10, 60, 40)
    np.testing.assert_array_equal(napari_vertices_to_rows_cols(vertices, (1, 2)), vertices[:, 1:])
