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

from .coords import (
    clip_xyxy,
    inside_frame,
    napari_point_to_frame_xy,
    napari_vertices_to_rows_cols,
    napari_vertices_to_xyxy,
    on_fixed_slice,
    slice_index,
)
from .layout import FrameLayout

POSITIVE, OBJ_ID = "positive", "obj_id"
POSITIVE_COLOR, NEGATIVE_COLOR = "lime", "magenta"
TOGGLE_KEY = "t"


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


def _check_obj_id(obj_id, what: str) -> int:
    if not float(obj_id).is_integer() or obj_id < 1:
        raise ValueError(f"{what} has obj_id {obj_id}: object ids are label values 1, 2, ...; set it to 1 or more")
    return int(obj_id)


def _check_frame(frame: int, layout: FrameLayout, what: str) -> None:
    if not 0 <= frame < layout.num_frames:
        raise ValueError(f"{what} is on frame {frame}, outside the image's frames 0 to {layout.num_frames - 1}: delete it")


def points_to_clicks(data, features, layout: FrameLayout) -> dict[tuple[int, int], tuple[list, list]]:
    """{(frame, obj_id): ([(x, y), ...], [1 or 0, ...])} from a Points layer's data and features.
    Points off the fixed slice of an untracked axis are not this tracking's and are skipped."""
    data = np.asarray(data, dtype=float).reshape(-1, layout.ndim)
    positive = _feature(features, POSITIVE, len(data), True).astype(bool)
    obj_ids = _feature(features, OBJ_ID, len(data), 1)
    clicks: dict[tuple[int, int], tuple[list, list]] = {}
    for point, is_positive, obj_id in zip(data, positive, obj_ids):
        if not on_fixed_slice(point, layout.fixed_dict):
            continue
        frame, x, y = napari_point_to_frame_xy(point, layout.axis, layout.spatial_axes)
        what = f"the click at row {y:.1f}, column {x:.1f}"
        _check_frame(frame, layout, what)
        if not inside_frame(x, y, layout.frame_hw):
            height, width = layout.frame_hw
            raise ValueError(
                f"{what} on frame {frame} is outside the image ({height} rows x {width} columns): "
                "move it onto the image or delete it"
            )
        points, labels = clicks.setdefault((frame, _check_obj_id(obj_id, what)), ([], []))
        points.append((x, y))
        labels.append(1 if is_positive else 0)
    return clicks


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
    """From a Shapes layer: ({(frame, obj_id): XYXY box}, {(frame, obj_id): [polygon, ...]}).
    Boxes are clipped to the frame; with two boxes for one object on one frame, the last drawn
    wins (the model takes one box). Polygons are (row, col) vertices; ellipses become polygons."""
    obj_ids = _feature(features, OBJ_ID, len(data), 1)
    boxes: dict[tuple[int, int], tuple] = {}
    polygons: dict[tuple[int, int], list] = {}
    for vertices, kind, obj_id in zip(data, shape_types, obj_ids):
        vertices = np.asarray(vertices, dtype=float)
        if not on_fixed_slice(vertices[0], layout.fixed_dict):
            continue
        frame = slice_index(vertices[0][layout.axis])
        what = f"a {kind} in the shapes layer"
        _check_frame(frame, layout, what)
        key = (frame, _check_obj_id(obj_id, what))
        if kind == "rectangle":
            box = clip_xyxy(napari_vertices_to_xyxy(vertices, layout.spatial_axes), layout.frame_hw)
            if box is None:
                raise ValueError(f"the box on frame {frame} is outside the image: move it onto the image or delete it")
            boxes[key] = box
        elif kind in ("polygon", "ellipse"):
            rc = napari_vertices_to_rows_cols(vertices, layout.spatial_axes)
            rc = ellipse_outline(rc) if kind == "ellipse" else rc
            polygons.setdefault(key, []).append(tuple(map(tuple, rc.tolist())))
        else:
            raise ValueError(
                f"{what} on frame {frame} is not a prompt: draw rectangles (boxes) or polygons and "
                f"ellipses (masks), and delete the {kind}"
            )
    return boxes, polygons


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
        border_color="white", text={"string": "{obj_id}", "color": "white", "anchor": "upper_left", "size": 8},
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
