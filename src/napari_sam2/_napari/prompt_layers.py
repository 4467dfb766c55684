"""Prompts drawn in napari, as the tracker takes them.

A Points layer holds clicks, with a boolean feature "positive" (False: a negative click) and an
int feature "obj_id"; a Shapes layer holds rectangles (boxes) and polygons or ellipses (masks),
with an "obj_id" feature. The functions here read layer data and features only, so they work (and
are tested) without a viewer; the helpers at the end create and style the layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.draw import polygon as draw_polygon

from ..engine.prompts import check_frame_index, check_obj_id, check_points, clip_box
from .coords import (
    napari_point_to_frame_xy,
    napari_vertices_to_rows_cols,
    napari_vertices_to_xyxy,
    on_fixed_slice,
)
from .layout import FrameLayout

POSITIVE, OBJ_ID = "positive", "obj_id"
POSITIVE_COLOR, NEGATIVE_COLOR = "lime", "magenta"
TOGGLE_KEY = "t"
POINT_SIZE = 4  # pixels across: a click stays smaller than a 13-pixel cell (napari's default is 10)
PROMPT_ERRORS = (ValueError, IndexError)  # what the engine's checks raise for a bad prompt


@dataclass(frozen=True)
class ObjectPrompts:
    """One object's prompts on one frame, in the engine's conventions. Made of tuples so that
    two snapshots compare equal when nothing changed (that is how edits are detected)."""

    points: tuple[tuple[float, float], ...] = ()  # (x, y)
    labels: tuple[int, ...] = ()  # 1 positive, 0 negative
    box: tuple[float, float, float, float] | None = None  # XYXY
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()  # (row, col) vertices

    def mask(self, frame_hw: tuple[int, int]) -> np.ndarray | None:
        return polygons_mask(self.polygons, frame_hw) if self.polygons else None


def _feature(features, name: str, count: int, default) -> np.ndarray:
    if features is not None and name in features:
        return np.asarray(features[name])
    return np.full(count, default)


def _label_value(obj_id):
    """A whole-number obj_id feature (napari may hold it as a float) as an int, for the engine's check."""
    return int(obj_id) if float(obj_id).is_integer() else float(obj_id)


def _frame_and_object(frame: int, obj_id, layout: FrameLayout) -> tuple[int, int]:
    """(frame, obj_id) checked by the engine's rules; raises what the engine raises."""
    obj_id = _label_value(obj_id)
    check_frame_index(frame, layout.num_frames)
    check_obj_id(obj_id)
    return frame, obj_id


def _skipped(what: str, error: Exception) -> str:
    return f"{what} is skipped: {error}. Move it onto the image, fix its obj_id, or delete it"


def points_to_clicks(data, features, layout: FrameLayout) -> tuple[dict[tuple[int, int], tuple[list, list]], list[str]]:
    """({(frame, obj_id): ([(x, y), ...], [1 or 0, ...])}, [why a point was skipped, ...]) from a
    Points layer's data and features. A point the engine would refuse (off the image, on no frame,
    a bad obj_id) is skipped and named, so that it does not block the others. Points off the fixed
    slice of an untracked axis are not this tracking's and are left out silently."""
    data = np.asarray(data, dtype=float).reshape(-1, layout.ndim)
    positive = _feature(features, POSITIVE, len(data), True).astype(bool)
    obj_ids = _feature(features, OBJ_ID, len(data), 1)
    clicks: dict[tuple[int, int], tuple[list, list]] = {}
    skipped = []
    for point, is_positive, obj_id in zip(data, positive, obj_ids):
        if not on_fixed_slice(point, layout.fixed_dict):
            continue
        frame, x, y = napari_point_to_frame_xy(point, layout.axis, layout.spatial_axes)
        try:
            key = _frame_and_object(frame, obj_id, layout)
            check_points([(x, y)], [1], layout.frame_hw)
        except PROMPT_ERRORS as error:
            what = f"the point at row {y:.1f}, column {x:.1f} on frame {frame} (obj_id {obj_id})"
            skipped.append(_skipped(what, error))
            continue
        points, labels = clicks.setdefault(key, ([], []))
        points.append((x, y))
        labels.append(1 if is_positive else 0)
    return clicks, skipped


def ellipse_outline(corners_rc: np.ndarray, num: int = 64) -> np.ndarray:
    """A polygon (num, 2) along the ellipse inscribed in napari's 4 corner vertices (which may be
    rotated): centre plus cos/sin times the two half-axes."""
    centre = corners_rc.mean(axis=0)
    half_u, half_v = (corners_rc[1] - corners_rc[0]) / 2, (corners_rc[3] - corners_rc[0]) / 2
    angles = np.linspace(0, 2 * np.pi, num, endpoint=False)[:, None]
    return centre + np.cos(angles) * half_u + np.sin(angles) * half_v


def polygons_mask(polygons, frame_hw: tuple[int, int]) -> np.ndarray:
    """The union of polygons ((row, col) vertices) rasterized at the frame's shape."""
    mask = np.zeros(frame_hw, dtype=bool)
    for vertices in polygons:
        rc = np.asarray(vertices, dtype=float)
        rows, cols = draw_polygon(rc[:, 0], rc[:, 1], shape=frame_hw)
        mask[rows, cols] = True
    return mask


def shapes_to_prompts(data, shape_types, features, layout: FrameLayout):
    """From a Shapes layer: ({(frame, obj_id): XYXY box}, {(frame, obj_id): [polygon, ...]},
    [why a shape was skipped, ...]). Boxes are clipped to the frame; with two boxes for one object
    on one frame, the last drawn wins (the model takes one box). Polygons are (row, col) vertices;
    ellipses become polygons. Lines and paths, shapes off the image and bad obj_ids are skipped
    and named, so that they do not block the other prompts."""
    obj_ids = _feature(features, OBJ_ID, len(data), 1)
    boxes: dict[tuple[int, int], tuple] = {}
    polygons: dict[tuple[int, int], list] = {}
    skipped = []
    for vertices, kind, obj_id in zip(data, shape_types, obj_ids):
        vertices = np.asarray(vertices, dtype=float)
        if not on_fixed_slice(vertices[0], layout.fixed_dict):
            continue
        frame = layout.frame_of(vertices[0])
        try:
            key = _frame_and_object(frame, obj_id, layout)
            _add_shape(key, kind, vertices, layout, boxes, polygons)
        except PROMPT_ERRORS as error:
            row, col = napari_vertices_to_rows_cols(vertices[:1], layout.spatial_axes)[0]
            what = f"the {kind} from row {row:.1f}, column {col:.1f} on frame {frame} (obj_id {obj_id})"
            skipped.append(_skipped(what, error))
    return boxes, polygons, skipped


def _add_shape(key, kind: str, vertices: np.ndarray, layout: FrameLayout, boxes: dict, polygons: dict) -> None:
    """One shape into `boxes` or `polygons`, or a ValueError saying why it is not a prompt."""
    if kind == "rectangle":
        box = clip_box(napari_vertices_to_xyxy(vertices, layout.spatial_axes), layout.frame_hw)
        if box is None:
            raise ValueError("the box is outside the image")
        boxes[key] = box
    elif kind in ("polygon", "ellipse"):
        rc = napari_vertices_to_rows_cols(vertices, layout.spatial_axes)
        rc = ellipse_outline(rc) if kind == "ellipse" else rc
        polygon = tuple(map(tuple, rc.tolist()))
        if not polygons_mask([polygon], layout.frame_hw).any():
            raise ValueError(f"the {kind} covers no pixel of the image")
        polygons.setdefault(key, []).append(polygon)
    else:
        raise ValueError(f"a {kind} is not a prompt: draw rectangles (boxes) or polygons and ellipses (masks)")


def collect_prompts(clicks, boxes, polygons) -> dict[int, dict[int, ObjectPrompts]]:
    """{frame: {obj_id: ObjectPrompts}} from the clicks, boxes and polygons above."""
    prompts: dict[int, dict[int, ObjectPrompts]] = {}
    for frame, obj_id in sorted(set(clicks) | set(boxes) | set(polygons)):
        points, labels = clicks.get((frame, obj_id), ([], []))
        prompts.setdefault(frame, {})[obj_id] = ObjectPrompts(
            points=tuple(points), labels=tuple(labels), box=boxes.get((frame, obj_id)),
            polygons=tuple(polygons.get((frame, obj_id), ())),
        )
    return prompts


# ---- creating and styling the layers (need a viewer) -----------------------------------------

def add_prompt_points(viewer, ndim: int, name: str, scale=None, translate=None, obj_id: int = 1):
    """An empty Points layer for clicks: green positive, magenta negative, the object id beside
    each; the key 't' flips the selected clicks between positive and negative."""
    layer = viewer.add_points(
        np.empty((0, ndim)), ndim=ndim, name=name, scale=scale, translate=translate,
        features={POSITIVE: np.zeros(0, bool), OBJ_ID: np.zeros(0, int)},
        feature_defaults={POSITIVE: True, OBJ_ID: obj_id},
        face_color=POSITIVE, face_color_cycle={True: POSITIVE_COLOR, False: NEGATIVE_COLOR},
        size=POINT_SIZE, border_width=0.15, border_color="white",
        text={"string": "{obj_id}", "color": "white", "anchor": "upper_left", "size": 8},
    )
    layer.bind_key(TOGGLE_KEY, toggle_selected_positive, overwrite=True)
    layer.mode = "add"
    return layer


def add_prompt_shapes(viewer, ndim: int, name: str, scale=None, translate=None, obj_id: int = 1):
    """An empty Shapes layer for boxes (rectangles) and masks (polygons, ellipses)."""
    return viewer.add_shapes(
        ndim=ndim, name=name, scale=scale, translate=translate,
        features={OBJ_ID: np.zeros(0, int)}, feature_defaults={OBJ_ID: obj_id},
        face_color="transparent", edge_color="yellow", edge_width=1,
        text={"string": "{obj_id}", "color": "yellow", "anchor": "upper_left", "size": 8},
    )


def set_current_obj_id(layer, obj_id: int) -> None:
    """New points or shapes drawn in `layer` get this object id (other defaults kept)."""
    defaults = {name: layer.feature_defaults[name].iloc[0] for name in layer.feature_defaults}
    defaults[OBJ_ID] = int(obj_id)
    layer.feature_defaults = defaults


def toggle_selected_positive(layer) -> None:
    """Flip the selected clicks between positive and negative (bound to 't')."""
    selected = sorted(layer.selected_data)
    if not selected:
        return
    features = layer.features.copy()
    column = features.columns.get_loc(POSITIVE)
    features.iloc[selected, column] = ~features.iloc[selected, column].astype(bool)
    layer.features = features  # a new table: emits `features`, which re-applies the prompts
