"""Why cells are missed, extra, merged or badly outlined by the automatic tracker (issue 18): every
DET error (traccuracy's node errors, the CTC rule: a predicted cell matches a true cell when it
covers more than half of it) and every SEG loss (1 - IoU of a true cell with its match, 1 for a
missed cell) on held-out simulated time-lapses, classed by kind and cause.

    python benchmarks/bench_detection_errors.py [--sequences 6] [--first-seed EVALUATION_SEEDS]

The sequences are bench_cell_tracking.py's (the same seeds for the same --first-seed). Causes, per
true cell on a frame (several may hold; the table counts each error once, under its first cause):
- missed (false negative): "merged into a neighbour's mask" (a predicted cell over it covers more of
  another true cell), "mask too small" (a predicted cell covers part of it, at most half), "nothing
  on it"; each split by "at the border" (touches the frame's edge), "new" (its track began on this
  frame or the 2 before: entered, born or appeared), "small" (less than half the sequence's median
  area), "dim" (mean brightness above background less than half the frame's median cell's);
- merged (non-split vertex): a predicted cell over two or more true cells: "sisters" (the true
  cells are daughters of one mother) or "touching neighbours";
- extra (false positive): a predicted cell covering no true cell by more than half: "a second mask on
  a matched cell", "a part of a missed cell", "background" (less than half of it on cells);
- SEG loss of matched cells: the predicted cell too small (fewer pixels than the true cell) or too
  large, by the true cell's size (below / above the sequence's median area) and at the border."""
from __future__ import annotations

import argparse
import logging
from collections import Counter

import numpy as np

from bench_cell_tracking import held_out_sequences, our_tracker
from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.evaluation.detection import label_overlaps
from napari_sam2.simulation import EVALUATION_SEEDS

NEW_FRAMES = 2  # a track is "new" on its first frame and this many after


def frame_errors(pred: np.ndarray, truth: np.ndarray, image: np.ndarray, new_ids: set[int],
                 sisters: dict[int, int], median_area: float, errors: Counter, seg_loss: Counter) -> None:
    """Adds the errors of one frame (pred, truth (H, W) labels; image (H, W)) to the counters."""
    counts = label_overlaps(pred, truth)  # (P + 1, T + 1), background first
    pred_ids, true_ids = np.union1d([0], pred)[1:], np.union1d([0], truth)[1:]
    inter = counts[1:, 1:]
    pred_area, true_area = counts[1:].sum(1), counts[:, 1:].sum(0)
    covers = inter > 0.5 * true_area[None]  # (P, T)
    background = np.median(image[truth == 0]) if (truth == 0).any() else 0.0
    brightness = np.array([image[truth == i].mean() for i in true_ids]) - background
    median_brightness = np.median(brightness) if len(brightness) else 0.0
    border = set(np.unique(np.concatenate([truth[0], truth[-1], truth[:, 0], truth[:, -1]])))
    for j, true_id in enumerate(true_ids):
        owner = np.flatnonzero(covers[:, j])
        if len(owner) and covers[owner[0]].sum() > 1:
            others = true_ids[covers[owner[0]]]
            kind = "sisters" if len({sisters.get(int(i), -i) for i in others}) < len(others) else "touching neighbours"
            errors["merged: " + kind] += 1
            seg_loss["merged"] += 1 - _iou(inter[owner[0], j], pred_area[owner[0]], true_area[j])
            continue
        if len(owner):
            p = owner[0]
            iou = _iou(inter[p, j], pred_area[p], true_area[j])
            size = "small cell" if true_area[j] < median_area else "large cell"
            fit = "mask too small" if pred_area[p] < true_area[j] else "mask too large"
            where = ", border" if true_id in border else ""
            seg_loss[f"matched, {fit}, {size}{where}"] += 1 - iou
            continue
        best = int(np.argmax(inter[:, j])) if len(pred_ids) else -1
        if best >= 0 and inter[best, j] > 0:
            how = "merged into a neighbour's mask" if covers[best].any() else "mask too small"
        else:
            how = "nothing on it"
        cause = ("at the border" if true_id in border else "new" if int(true_id) in new_ids
                 else "small" if true_area[j] < 0.5 * median_area
                 else "dim" if brightness[j] < 0.5 * median_brightness else "other")
        errors[f"missed: {how}, {cause}"] += 1
        seg_loss[f"missed: {cause}"] += 1
    for i, pred_id in enumerate(pred_ids):
        if covers[i].any():
            continue
        on_cells = inter[i].sum() / max(pred_area[i], 1)
        if on_cells < 0.5:
            kind = "background"
        else:
            j = int(np.argmax(inter[i]))
            kind = "a second mask on a matched cell" if covers[:, j].any() else "a part of a missed cell"
        errors[f"extra: {kind}" + (", border" if pred_id in set(np.unique(_edges(pred))) else "")] += 1


def _edges(labels: np.ndarray) -> np.ndarray:
    return np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])


def _iou(inter: float, a: float, b: float) -> float:
    return float(inter / max(a + b - inter, 1))


def sequence_errors(sim, labels: np.ndarray) -> tuple[Counter, Counter]:
    truth = Lineage.from_labels(sim.labels, sim.lineage)
    sisters = {d: mother for mother, ds in truth.divisions().items() for d in ds}
    median_area = float(np.median([a for frame in sim.labels for a in np.bincount(frame.ravel())[1:] if a]))
    errors, seg_loss = Counter(), Counter()
    for t, (pred, true, image) in enumerate(zip(labels, sim.labels, sim.frames)):
        new_ids = {i for i, track in truth.tracks.items() if t - NEW_FRAMES <= track.start <= t}
        frame_errors(pred, true, np.asarray(image, np.float64), new_ids, sisters, median_area, errors, seg_loss)
    return errors, seg_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=6)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.getLogger("traccuracy").setLevel(logging.ERROR)
    track = our_tracker(args.threads)
    sims, _ = held_out_sequences(args.sequences, args.size, args.frames, args.first_seed)
    errors, seg_loss, cells = Counter(), Counter(), 0
    for sim in sims:
        labels, _ = track(sim.frames)
        e, s = sequence_errors(sim, labels)
        errors += e
        seg_loss += s
        cells += sum(len(np.unique(f)) - 1 for f in sim.labels)
        print(f"seed {sim.seed}: " + ", ".join(f"{k} {v}" for k, v in sorted(e.items())), flush=True)
    print(f"\n{len(sims)} sequences, seeds {sims[0].seed}..{sims[-1].seed}: {cells} true cell-frames\n")
    print("| DET error | count |\n|---|---|")
    for kind, count in errors.most_common():
        print(f"| {kind} | {count} |")
    print(f"\n| SEG loss (sum of 1 - IoU over true cell-frames; SEG = 1 - total / {cells}) | loss |\n|---|---|")
    for kind, loss in seg_loss.most_common():
        print(f"| {kind} | {loss:.1f} |")
    print(f"| total | {sum(seg_loss.values()):.1f} (SEG {1 - sum(seg_loss.values()) / cells:.3f}) |")


if __name__ == "__main__":
    main()
