"""prompt_layers.py: layer data and features to per-(frame, object) prompts, without a viewer."""
import re

import numpy as np
import pandas as pd
import pytest

from napari_sam2._napari.layout import frame_layout
from napari_sam2._napari.prompt_layers import (
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    ObjectPrompts,
    collect_prompts,
    ellipse_outline,
    points_to_clicks,
    polygons_mask,
    shapes_to_prompts,
    toggle_selected_positive,
)

LAYOUT = frame_layout((8, 96, 128))


def test_points_become_clicks_per_frame_and_object():
    data = np.array([[0, 10, 20], [0, 30, 40], [3, 50, 60], [0, 12, 22]], float)
    features = pd.DataFrame({"positive": [True, True, True, False], "obj_id": [1, 2, 1, 1]})
    clicks, skipped = points_to_clicks(data, features, LAYOUT)
    assert skipped == []
    assert clicks == {
        (0, 1): ([(20.0, 10.0), (22.0, 12.0)], [1, 0]),
        (0, 2): ([(40.0, 30.0)], [1]),
        (3, 1): ([(60.0, 50.0)], [1]),
    }


def test_points_without_features_are_positive_clicks_of_object_1():
    assert points_to_clicks(np.array([[2, 5, 6]]), None, LAYOUT) == ({(2, 1): ([(6.0, 5.0)], [1])}, [])
    assert points_to_clicks(np.zeros((0, 3)), pd.DataFrame({"positive": [], "obj_id": []}), LAYOUT) == ({}, [])


@pytest.mark.parametrize("point,obj_id,message", [
    ([0, 200, 10], 1, "row 200.0, column 10.0 on frame 0 \\(obj_id 1\\) is skipped: point .* outside the image"),
    ([0, 10, -3], 1, "row 10.0, column -3.0 .* outside the image"),
    ([9, 10, 10], 1, "on frame 9 .* frame 9 is outside the video, which has frames 0 to 7"),
    ([0, 5, 5], 0, "obj_id 0\\) is skipped: object ids are positive integers"),
    ([0, 5, 5], 1.5, "obj_id 1.5\\) is skipped: object ids are positive integers"),
])
def test_a_bad_point_is_skipped_and_named_and_the_others_are_kept(point, obj_id, message):
    data = np.array([[0, 20, 30], point], float)
    clicks, skipped = points_to_clicks(data, pd.DataFrame({"positive": [True, True], "obj_id": [2, obj_id]}), LAYOUT)
    assert clicks == {(0, 2): ([(30.0, 20.0)], [1])}
    assert len(skipped) == 1 and re.search(message, skipped[0]) and "delete it" in skipped[0]


def test_points_off_the_fixed_slice_belong_to_another_tracking():
    layout = frame_layout((2, 8, 96, 128), axis=1, current_index=(1, 0, 0, 0))  # z at t = 1
    data = np.array([[1, 4, 10, 20], [0, 4, 10, 20]], float)
    clicks, _ = points_to_clicks(data, pd.DataFrame({"positive": [True, True], "obj_id": [1, 2]}), layout)
    assert clicks == {(4, 1): ([(20.0, 10.0)], [1])}


def test_shapes_become_boxes_and_masks():
    rectangle = np.array([[0, 10, 20], [0, 10, 60], [0, 40, 60], [0, 40, 20]], float)
    triangle = np.array([[2, 10, 10], [2, 10, 50], [2, 50, 10]], float)
    ellipse = np.array([[2, 60, 60], [2, 60, 100], [2, 80, 100], [2, 80, 60]], float)
    features = pd.DataFrame({"obj_id": [1, 2, 2]})
    boxes, polygons, skipped = shapes_to_prompts([rectangle, triangle, ellipse], ["rectangle", "polygon", "ellipse"],
                                                 features, LAYOUT)
    assert skipped == []
    assert boxes == {(0, 1): (20.0, 10.0, 60.0, 40.0)}
    assert list(polygons) == [(2, 2)] and len(polygons[(2, 2)]) == 2
    mask = polygons_mask(polygons[(2, 2)], LAYOUT.frame_hw)
    assert mask.shape == (96, 128)
    assert mask[15, 15] and not mask[45, 45]  # inside / outside the triangle (row, col)
    assert mask[70, 80] and not mask[61, 61]  # the ellipse's centre / its bounding box's corner
    assert abs(mask[55:90, 55:105].sum() - np.pi * 10 * 20) < 40  # about the ellipse's area


def test_a_rotated_ellipse_keeps_its_area():
    corners = np.array([[0, 10], [10, 20], [20, 10], [10, 0]], float)  # a square rotated 45 degrees
    outline = ellipse_outline(corners)
    radius = np.hypot(5, 5)
    np.testing.assert_allclose(np.hypot(*(outline - [10, 10]).T), radius, atol=1e-9)


def test_boxes_past_the_border_are_clipped_and_lines_and_shapes_off_the_image_are_skipped():
    rectangle = np.array([[0, -20, 100], [0, -20, 200], [0, 30, 200], [0, 30, 100]], float)
    line = np.array([[0, 5, 5], [0, 20, 20]], float)
    off_box = np.array([[0, -40, 10], [0, -40, 30], [0, -20, 30], [0, -20, 10]], float)
    off_polygon = np.array([[1, 200, 10], [1, 200, 30], [1, 220, 10]], float)
    boxes, polygons, skipped = shapes_to_prompts([line, rectangle, off_box, off_polygon],
                                                 ["line", "rectangle", "rectangle", "polygon"],
                                                 pd.DataFrame({"obj_id": [2, 1, 3, 3]}), LAYOUT)
    assert boxes == {(0, 1): (100.0, -0.5, 127.5, 30.0)} and polygons == {}
    assert len(skipped) == 3
    line_skipped = "line from row 5.0, column 5.0 on frame 0 \\(obj_id 2\\) is skipped: a line is not a prompt"
    assert re.search(line_skipped, skipped[0])
    assert "the box is outside the image" in skipped[1] and "covers no pixel" in skipped[2]


def test_collected_prompts_compare_equal_when_nothing_changed():
    clicks = {(0, 1): ([(20.0, 10.0)], [1])}
    boxes = {(0, 2): (1.0, 2.0, 3.0, 4.0)}
    polygons = {(1, 1): [((0.0, 0.0), (0.0, 9.0), (9.0, 0.0))]}
    prompts = collect_prompts(clicks, boxes, polygons)
    assert prompts == collect_prompts(clicks, boxes, polygons)
    assert prompts[0][1] == ObjectPrompts(points=((20.0, 10.0),), labels=(1,))
    assert prompts[0][2].box == (1.0, 2.0, 3.0, 4.0) and prompts[1][1].mask((16, 16)).sum() > 0


def test_t_toggles_the_selected_clicks():
    from napari.layers import Points
    from napari.utils.colormaps.standardize_color import transform_color

    layer = Points(np.array([[0, 5, 5], [0, 9, 9]]), features={"positive": [True, True], "obj_id": [1, 1]},
                   face_color="positive", face_color_cycle={True: POSITIVE_COLOR, False: NEGATIVE_COLOR})
    layer.selected_data = {1}
    toggle_selected_positive(layer)
    assert layer.features["positive"].tolist() == [True, False]
    np.testing.assert_allclose(layer.face_color[1], transform_color(NEGATIVE_COLOR)[0])
    toggle_selected_positive(layer)
    assert layer.features["positive"].tolist() == [True, True]
