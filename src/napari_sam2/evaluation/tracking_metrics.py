"""Scores of a cell tracking result (a label stack with one id per track, and its lineage) against
the ground truth, as the Cell Tracking Challenge scores them, with traccuracy:

- TRA, DET and LNK (traccuracy's CTCMetrics over its CTCMatcher: a predicted cell matches a true
  cell when it covers more than half of it);
- SEG, the CTC's segmentation score (traccuracy 0.4 has none): the mean, over every true cell on
  every frame, of its IoU with the predicted cell covering more than half of it (0 if none);
- division precision, recall and F1 (traccuracy's DivisionMetrics, which needs a one-to-one
  matching: cells matched at IoU >= DIVISION_MATCH_IOU), with a division found up to
  DIVISION_FRAME_BUFFER frames early or late counted as found, and also on the exact frame.

Both sides go through the CTC result folder format (storage/ctc_folder.py) and traccuracy's CTC
loader, so what is scored is what a user's CTC folder would hold."""
from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import astuple, dataclass
from pathlib import Path

import networkx as nx
import numpy as np
from traccuracy import TrackingGraph, run_metrics
from traccuracy.loaders import load_ctc_data
from traccuracy.matchers import CTCMatcher, IOUMatcher
from traccuracy.metrics import CTCMetrics, DivisionMetrics

from ..engine.cell_lineage import Lineage, split_at_gaps
from ..storage.ctc_folder import TRACKS_FILE, write_ctc_folder
from .detection import MATCH_IOU, label_overlaps

DIVISION_MATCH_IOU = MATCH_IOU  # above 0.5 IoU a true cell matches at most one predicted cell
CTC_ERRORS = ("fn_nodes", "fp_nodes", "ns_nodes", "fn_edges", "fp_edges", "ws_edges")  # traccuracy's names
DIVISION_FRAME_BUFFER = 2  # frames a division may be found early or late (traccuracy's documented example)


@dataclass(frozen=True)
class DivisionCounts:
    """Divisions over one or many sequences; add them up with `+` (pooled scores: a sequence with
    one division weighs less than one with ten)."""

    found: int = 0  # true divisions found, parent and both daughters matched, within the frame buffer
    found_exact: int = 0  # ... on their very frame
    true: int = 0
    predicted: int = 0

    def __add__(self, other: DivisionCounts) -> DivisionCounts:
        return DivisionCounts(*(a + b for a, b in zip(astuple(self), astuple(other))))

    @property
    def precision(self) -> float:
        return self.found / self.predicted if self.predicted else 1.0  # nothing predicted, nothing wrong

    @property
    def recall(self) -> float:
        return self.found / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        return _f1(self.found, self.true, self.predicted)

    @property
    def f1_exact(self) -> float:
        return _f1(self.found_exact, self.true, self.predicted)


def _f1(found: int, true: int, predicted: int) -> float:
    return 2 * found / (true + predicted) if true + predicted else 1.0


@dataclass(frozen=True)
class TrackingScores:
    tra: float
    det: float
    lnk: float
    seg: float
    divisions: DivisionCounts
    errors: dict[str, int]  # the CTC error counts behind TRA: cells missed (fn_nodes), extra (fp_nodes),
    # merged (ns_nodes: one predicted cell over several true ones), links missed, extra, and of wrong kind


    def as_dict(self) -> dict[str, float]:
        """Every score and count, flat (for a JSON file)."""
        d = self.divisions
        return dict(tra=self.tra, det=self.det, lnk=self.lnk, seg=self.seg, division_precision=d.precision,
                    division_recall=d.recall, division_f1=d.f1, division_f1_exact=d.f1_exact,
                    divisions_found=d.found, divisions_found_exact=d.found_exact, divisions_true=d.true,
                    divisions_predicted=d.predicted) | self.errors


def tracking_scores(labels: np.ndarray, lineage: Lineage, truth_labels: np.ndarray,
                    truth_lineage: Lineage) -> TrackingScores:
    """Scores of `labels` (T, H, W) + `lineage` against the truth's (same shape)."""
    if labels.shape != truth_labels.shape:
        raise ValueError(f"the tracking result has shape {labels.shape} but the ground truth {truth_labels.shape}: "
                         "score a result of the very frames the truth annotates")
    # traccuracy draws a progress bar per step on stderr: noise around the one line of scores
    with tempfile.TemporaryDirectory(prefix="tracking-scores-") as folder, contextlib.redirect_stderr(io.StringIO()):
        truth = _tracking_graph(Path(folder) / "truth", truth_labels, truth_lineage)
        result = _tracking_graph(Path(folder) / "result", labels, lineage)
        (ctc,), _ = run_metrics(gt_data=truth, pred_data=result, matcher=CTCMatcher(), metrics=[CTCMetrics()])
        (div,), _ = run_metrics(gt_data=truth, pred_data=result,
                                matcher=IOUMatcher(DIVISION_MATCH_IOU, one_to_one=True),
                                metrics=[DivisionMetrics(max_frame_buffer=DIVISION_FRAME_BUFFER)])
    buffered, exact = div["results"][f"Frame Buffer {DIVISION_FRAME_BUFFER}"], div["results"]["Frame Buffer 0"]
    divisions = DivisionCounts(found=int(buffered["True Positive Divisions"]),
                               found_exact=int(exact["True Positive Divisions"]),
                               true=int(exact["Total GT Divisions"]), predicted=int(exact["Total Predicted Divisions"]))
    return TrackingScores(tra=float(ctc["results"]["TRA"]), det=float(ctc["results"]["DET"]),
                          lnk=float(ctc["results"]["LNK"]), seg=segmentation_score(labels, truth_labels),
                          divisions=divisions, errors={k: int(ctc["results"][k]) for k in CTC_ERRORS})


def segmentation_score(labels: np.ndarray, truth_labels: np.ndarray) -> float:
    """CTC SEG over a (T, H, W) stack: mean IoU of each true cell with the predicted cell that covers
    more than half of it, 0 for a true cell no predicted cell covers so; 1.0 without true cells."""
    ious = []
    for predicted, truth in zip(labels, truth_labels):
        counts = label_overlaps(predicted, truth)  # (P + 1, T + 1), background row and column first
        inter = counts[1:, 1:]
        pred_area, true_area = counts[1:].sum(1), counts[:, 1:].sum(0)
        covering = inter > 0.5 * true_area[None]  # (P, T): at most one True per column
        union = pred_area[:, None] + true_area[None] - inter
        ious.extend(np.where(covering, inter / np.maximum(union, 1), 0.0).max(0, initial=0.0))
    return float(np.mean(ious)) if ious else 1.0


def points_in_one_track(labels: np.ndarray, tracks: np.ndarray) -> dict[int, tuple[int, int]]:
    """How well a label stack (T, H, W) follows point tracks (N, 4) of rows (track id, frame, y, x),
    e.g. hand-clicked centroids: true track id -> (how many of its points lie inside the one predicted
    track holding most of them, how many points it has). Points outside the stack count as missed."""
    out = {}
    for track_id in np.unique(tracks[:, 0]).astype(int):
        rows = tracks[tracks[:, 0] == track_id]
        t, y, x = (np.rint(rows[:, k]).astype(int) for k in (1, 2, 3))
        inside = (t >= 0) & (t < labels.shape[0]) & (y >= 0) & (y < labels.shape[1]) & (x >= 0) & (x < labels.shape[2])
        hit = labels[t[inside], y[inside], x[inside]]
        _, counts = np.unique(hit[hit > 0], return_counts=True)
        out[int(track_id)] = (int(counts.max(initial=0)), len(rows))
    return out


def _tracking_graph(folder: Path, labels: np.ndarray, lineage: Lineage) -> TrackingGraph:
    """The traccuracy graph of a result, read back from the CTC folder it makes (gaps closed as CTC
    wants: split_at_gaps)."""
    ctc_labels, ctc_lineage = split_at_gaps(labels, lineage)
    write_ctc_folder(folder, ctc_labels, ctc_lineage)
    if not len(ctc_lineage):  # traccuracy's loader needs at least one track
        return TrackingGraph(nx.DiGraph(), segmentation=ctc_labels.astype(np.uint16), name=folder.name)
    return load_ctc_data(str(folder), str(folder / TRACKS_FILE), name=folder.name)
