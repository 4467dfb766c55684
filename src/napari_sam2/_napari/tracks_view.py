"""The lineage shown as a napari Tracks layer beside the Labels layer: a point per cell per frame
at its centroid, a tail along its track, and a line from each parent to its daughters (the
layer's graph). Kept up to date frame by frame while cells are tracked, and redrawn after edits."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..engine.cell_lineage import Lineage
from ..engine.cell_measurements import concatenate, measure_frame
from ..engine.track_graph import tracks_layer_data

TAIL_FRAMES = 10  # how many frames of each track's past the layer draws


class TracksView:
    def __init__(self, viewer, labels_layer, name: str):
        self.viewer, self.labels_layer, self.name = viewer, labels_layer, name
        self.layer = None
        self._frames: dict[int, dict[str, np.ndarray]] = {}  # frame -> its cells' measurements

    def show_frames(self, labels: Mapping[int, np.ndarray], lineage: Lineage) -> None:
        """Frames finished or revised (frame -> its labels (H, W)): their cells join the layer."""
        for frame, frame_labels in labels.items():
            self._frames[frame] = measure_frame(frame, frame_labels, lineage)
        self._draw(lineage)

    def show_all(self, frames, lineage: Lineage) -> None:
        """Every frame again (after an edit or an undo): frames, the label frames (T of (H, W))."""
        self._frames = {t: measure_frame(t, labels, lineage) for t, labels in enumerate(frames)}
        self._draw(lineage)

    def _draw(self, lineage: Lineage) -> None:
        table = concatenate([self._frames[t] for t in sorted(self._frames)])
        data, graph = tracks_layer_data(table, lineage)
        if self.layer is None or self.layer not in self.viewer.layers:
            if len(data):
                self._add(data, graph)
            return
        if len(data):
            self.layer.graph = {}  # the old graph may name tracks no longer in the data
            self.layer.data = data
            self.layer.graph = graph
        else:
            self.viewer.layers.remove(self.layer)

    def _add(self, data: np.ndarray, graph: dict[int, list[int]]) -> None:
        labels = self.labels_layer  # (frames, rows, columns): its last three axes are the tracks' (t, y, x)
        self.layer = self.viewer.add_tracks(data, graph=graph, name=self.name, scale=labels.scale[-3:],
                                            translate=labels.translate[-3:], tail_length=TAIL_FRAMES)
        layers = self.viewer.layers
        layers.move(layers.index(self.layer), layers.index(labels) + 1)  # just above the labels
