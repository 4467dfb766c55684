"""The lineage as GEFF (the graph exchange format for tracking, written with the `geff` package):
a node per cell per frame with t, y, x, area (and mean intensity), its track id (GEFF's
"tracklet" where that fits GEFF's definition, see below) and lineage id (the track's first
ancestor: GEFF's "lineage"); edges frame to frame along a track, and from a parent's last node to each daughter's
first node (see engine/track_graph.py). Written the way our other outputs are: nothing replaced
that napari-sam2 did not write, nor without being asked; it appears only once complete."""
from __future__ import annotations

import os
from pathlib import Path

import geff
import numpy as np
import zarr
from geff.core_io import write_arrays
from geff_spec import Axis, GeffMetadata, RelatedObject

from ..engine.cell_lineage import Lineage
from ..engine.track_graph import track_edges
from .output_place import check_place, written_beside
from .physical_units import AxisSize

MARK = "napari_sam2"  # a key of the metadata's "extra": a GEFF napari-sam2 wrote
NODE_PROPS = {"y": "y", "x": "x", "area": "area", "track_id": "track_id",
              "mean_intensity": "mean_intensity"}  # measurements table column -> GEFF node property


def geff_kind(path: str | Path) -> str:
    """"missing", "ours" (a GEFF napari-sam2 wrote) or "other"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        attributes = zarr.open_group(str(path), mode="r").attrs.asdict()
    except (FileNotFoundError, ValueError, TypeError, zarr.errors.ContainsArrayError, zarr.errors.GroupNotFoundError):
        return "other"
    extra = attributes.get("geff", {}).get("extra", {})
    return "ours" if isinstance(extra, dict) and MARK in extra else "other"


def check_geff_replaceable(path: str | Path, overwrite: bool = False) -> None:
    check_place(path, geff_kind(path), "a GEFF", overwrite)


def write_geff(path: str | Path, table: dict[str, np.ndarray], lineage: Lineage, overwrite: bool = False,
               labels_path: str | Path | None = None, frame_axis: str = "t",
               sizes: dict[str, AxisSize] | None = None) -> None:
    """The measurements `table` (cell_measurements.measure_cells) and `lineage` as a GEFF at
    `path`; `labels_path`: the label array whose ids are the track ids (recorded in the metadata);
    frame_axis: what the frames are, "t" (time) or "z" (a z-stack tracked along z: space); sizes:
    each axis's physical step (physical_units.store_sizes), given as the GEFF axis's scale to its
    unit where known (positions stay in frames and pixels)."""
    check_geff_replaceable(path, overwrite)  # before any work: the answer may be no
    edges, is_division = track_edges(table, lineage)
    columns = {"frame": frame_axis, **NODE_PROPS, **{c: c for c in table if c.startswith("mean_intensity_c")}}
    node_props = {prop: {"values": np.asarray(table[column]), "missing": None}
                  for column, prop in columns.items() if column in table}
    roots = _first_ancestors(lineage)
    node_props["lineage_id"] = {"values": np.array([roots[int(i)] for i in table["track_id"]], np.int64),
                                "missing": None}
    track_props = {"lineage": "lineage_id"}
    if all(len(d) >= 2 for d in lineage.divisions().values()):
        # A GEFF tracklet is a maximal path: a parent with one daughter (the other never seen)
        # goes on into it, so the track ids are GEFF's tracklets only where every division has two.
        track_props["tracklet"] = "track_id"
    axes = [_axis(frame_axis, "time" if frame_axis == "t" else "space", (sizes or {}).get(frame_axis)),
            _axis("y", "space", (sizes or {}).get("y")), _axis("x", "space", (sizes or {}).get("x"))]
    edge_props = {"division": {"values": is_division, "missing": None}}
    related = None if labels_path is None else [
        RelatedObject(type="labels", path=os.path.relpath(labels_path, path), node_prop="track_id")]
    metadata = GeffMetadata(geff_version=geff.__version__, directed=True, axes=axes,
                            track_node_props=track_props, related_objects=related,
                            node_props_metadata={}, edge_props_metadata={}, extra={MARK: {"tracks": len(lineage)}})
    node_ids = np.arange(len(table["track_id"]), dtype=np.uint64)  # node i is the table's row i
    with written_beside(path, lambda: check_geff_replaceable(path, overwrite)) as partial:
        write_arrays(str(partial), node_ids, node_props, edges.astype(np.uint64), edge_props, metadata)


def _axis(name: str, kind: str, size: AxisSize | None) -> Axis:
    """A GEFF axis; with its scale to a physical unit where that unit is known."""
    if size is None or not size.unit:
        return Axis(name=name, type=kind)
    return Axis(name=name, type=kind, scale=size.scale, scaled_unit=size.unit, offset=size.offset)


def _first_ancestors(lineage: Lineage) -> dict[int, int]:
    """Track id -> the id of its first ancestor (itself for a track with no parent)."""
    roots: dict[int, int] = {}
    for track_id in sorted(lineage.tracks, key=lambda i: lineage.tracks[i].start):  # parents before daughters
        parent = lineage.tracks[track_id].parent
        roots[track_id] = roots.get(parent, parent) if parent in lineage.tracks else track_id
    return roots
