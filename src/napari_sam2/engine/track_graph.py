"""The lineage as a graph over cells on frames (the rows of a measurements table, see
cell_measurements.py): the form of GEFF and of the napari Tracks layer.

A node is one track on one frame. A track's nodes are linked frame after frame (across a frame it
is missing from, too); a division links the parent's last node to each daughter's first node."""
from __future__ import annotations

import numpy as np

from .cell_lineage import Lineage


def track_edges(table: dict[str, np.ndarray], lineage: Lineage) -> tuple[np.ndarray, np.ndarray]:
    """(edges (E, 2) of row indices of `table`, source -> target forward in time; is_division (E,) bool)."""
    order = np.lexsort((table["frame"], table["track_id"]))  # rows by track, then frame
    tracks, frames = table["track_id"][order], table["frame"][order]
    same_track = tracks[1:] == tracks[:-1]
    links = np.stack([order[:-1][same_track], order[1:][same_track]], axis=1) if len(order) else np.zeros((0, 2), int)
    first, last = _ends(order, tracks, frames)
    divisions = [(last[parent], first[daughter]) for daughter, parent in sorted(lineage.parents().items())
                 if parent in last and daughter in first]
    edges = np.concatenate([links.reshape(-1, 2), np.array(divisions, np.int64).reshape(-1, 2)]).astype(np.int64)
    is_division = np.arange(len(edges)) >= len(links)
    return edges, is_division


def _ends(order: np.ndarray, tracks: np.ndarray, frames: np.ndarray) -> tuple[dict[int, int], dict[int, int]]:
    """Track id -> the row of its first node, and of its last node."""
    first, last = {}, {}
    for row, track_id in zip(order, tracks):
        first.setdefault(int(track_id), int(row))
        last[int(track_id)] = int(row)
    return first, last


def tracks_layer_data(table: dict[str, np.ndarray], lineage: Lineage) -> tuple[np.ndarray, dict[int, list[int]]]:
    """napari Tracks layer data (N, 4) rows of (track_id, t, y, x), by track then frame, and its
    graph {daughter: [parent]} (napari draws a division from it), for the tracks in `table`."""
    order = np.lexsort((table["frame"], table["track_id"]))
    data = np.stack([table[name][order].astype(np.float64) for name in ("track_id", "frame", "y", "x")], axis=1)
    present = set(int(i) for i in table["track_id"])
    graph = {daughter: [parent] for daughter, parent in sorted(lineage.parents().items())
             if daughter in present and parent in present}
    return data.reshape(-1, 4), graph
