"""The frame's edge: which labels of a label image touch it (a cell there is cut by the frame)."""
from __future__ import annotations

import numpy as np


def edge_ids(labels: np.ndarray) -> set[int]:
    """The labels of an (H, W) label image on the frame's edge (0 left out)."""
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    return set(np.unique(edge).tolist()) - {0}
