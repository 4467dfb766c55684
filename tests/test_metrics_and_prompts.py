import numpy as np
import torch

from napari_sam2.evaluation.metrics import boundary_measure, j_and_f, region_similarity
from napari_sam2.evaluation.prompts import central_click
from napari_sam2.training.prompt_simulation import noisy_boxes, uniform_clicks


def disk(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def test_j_and_f_known_values():
    a = disk(100, 100, 50, 50, 20)
    assert region_similarity(a, a) == 1.0 and boundary_measure(a, a) == 1.0
    b = disk(100, 100, 50, 51, 20)  # one pixel off: inside the boundary tolerance
    assert boundary_measure(a, b) == 1.0 and 0.9 < region_similarity(a, b) < 1.0
    far = disk(100, 100, 15, 15, 8)
    assert region_similarity(a, far) == 0.0 and boundary_measure(a, far) == 0.0
    empty = np.zeros_like(a)
    assert region_similarity(empty, empty) == 1.0 and boundary_measure(empty, empty) == 1.0
    assert boundary_measure(a, empty) == 0.0
    j, f = j_and_f(np.stack([a, empty]), np.stack([a, a]))
    assert j == 0.5 and f == 0.5


def test_first_clicks_fall_inside_objects_and_corrections_on_errors():
    gt = torch.from_numpy(np.stack([disk(64, 64, 20, 20, 8), disk(64, 64, 40, 40, 10)]))
    g = torch.Generator().manual_seed(0)
    points, labels = uniform_clicks(gt, None, g)
    assert labels.tolist() == [[1], [1]]
    for k, (x, y) in enumerate(points[:, 0].long().tolist()):
        assert gt[k, y, x]
    spill = gt.clone()
    spill[0] = torch.from_numpy(disk(64, 64, 20, 20, 14))  # object 0 overshoots: a negative click
    spill[1] = False  # object 1 missed: a positive click
    points, labels = uniform_clicks(gt, spill, g)
    assert labels.tolist() == [[0], [1]]
    x, y = points[0, 0].long().tolist()
    assert spill[0, y, x] and not gt[0, y, x]


def test_boxes_are_close_to_the_object():
    gt = torch.from_numpy(disk(64, 64, 30, 30, 10))[None]
    corners, labels = noisy_boxes(gt, torch.Generator().manual_seed(1))
    assert labels.tolist() == [[2, 3]]
    (x0, y0), (x1, y1) = corners[0].tolist()
    assert abs(x0 - 20) <= 2 and abs(y0 - 20) <= 2 and abs(x1 - 40) <= 2 and abs(y1 - 40) <= 2


def test_central_click_is_the_deepest_pixel():
    gt = disk(64, 64, 30, 25, 10)
    (x, y), label = central_click(gt)
    assert label == 1 and (x, y) == (25.0, 30.0)
    assert central_click(gt, gt) is None
