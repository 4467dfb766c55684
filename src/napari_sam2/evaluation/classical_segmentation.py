"""The classical baseline for nuclei: Otsu threshold, then a watershed on the distance transform
to split touching nuclei (scikit-image). Peers are measured over this segmentation; the tracker
uses the same one for its second look (engine/cell_candidates.py holds it)."""
from __future__ import annotations

from ..engine.cell_candidates import otsu_watershed

__all__ = ["otsu_watershed"]
