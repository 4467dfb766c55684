"""Tracking on simulated time-lapses of 256, 1024 and 2048 px a side with the same nuclei (radius
6-14 px) and density (so 16x and 64x the cells of the small frames), one click per cell at its
centre on frame 0 from the truth (issue 17): the plain VideoTracker (every frame resized to the
model's input) against the TiledVideoTracker (resampled to the model's preferred cell size,
tiled), with the diameter estimated from frame 0, given right (the truth's median), and given
1.5x too small or too large.

    python benchmarks/bench_tiled_tracking.py [--frames 8] [--sides 256 1024 2048] [--threads 1]
        [--small-sequences 16] [--plain-up-to 1024] [--model PATH] [--methods "plain (resize)" "tiled, estimated" ...]

The 256 px row pools `--small-sequences` time-lapses (16: as many cells as one 1024 px frame), so
that its mean is not that of 15 cells; each larger size is one time-lapse.

J&F per object over the frames (after a division the truth is the object's descendants), on a
crop around the object: F matches boundaries within 3 px whatever the frame size, the tolerance
DAVIS's 0.8% of the diagonal gives a 256 x 256 frame (at 2048 px it would be 24 px, several
nuclei). Times are the propagation's (clicks apart): seconds per frame, per tile encoded, and
per frame divided by the area relative to 256 x 256 (constant = linear growth with the area).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from scipy import ndimage

from common import cpu_description
from napari_sam2.engine import ArrayFrames, TiledVideoTracker, VideoTracker, load_model
from napari_sam2.evaluation import boundary_measure, central_click, region_similarity
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

CELLS_PER_256 = (10, 18)  # the model card's 256 x 256 density; x16 and x64 on the larger frames
BOUNDARY_PX = 3  # F's tolerance: DAVIS's ceil(0.008 x diagonal) of a 256 x 256 frame
MARGIN = 4  # px around an object's crop


def simulate(side: int, frames: int, sequence: int = 0):
    scale = (side / 256) ** 2
    config = replace(SimulationConfig(), height=side, width=side, num_frames=frames,
                     num_cells=tuple(int(round(n * scale)) for n in CELLS_PER_256))
    return simulate_timelapse(config, EVALUATION_SEEDS + 1000 * side + sequence)


def family_labels(sim) -> np.ndarray:
    """(T, H, W) labels with every cell relabelled to its frame-0 ancestor (0 for cells that
    entered later): the truth of the object clicked on frame 0."""
    ancestor = {}
    for cell in np.unique(sim.labels):
        root = int(cell)
        while root in sim.lineage:
            root = sim.lineage[root]
        ancestor[int(cell)] = root
    first = set(np.unique(sim.labels[0]).tolist()) - {0}
    lookup = np.zeros(int(sim.labels.max()) + 1, np.int32)
    for cell, root in ancestor.items():
        lookup[cell] = root if root in first else 0
    return lookup[sim.labels]


def true_diameter(labels: np.ndarray) -> float:
    _, areas = np.unique(labels[labels > 0], return_counts=True)
    return float(np.median(2 * np.sqrt(areas / np.pi)))


def click_every_cell(tracker, first_labels: np.ndarray) -> None:
    for obj_id, (rows, cols) in enumerate(ndimage.find_objects(first_labels), start=1):
        if rows is None:
            continue
        (x, y), _ = central_click(first_labels[rows, cols] == obj_id)
        tracker.add_points(0, obj_id, [[x + cols.start, y + rows.start]], [1])


def track(tracker, sim, num_frames: int) -> tuple[np.ndarray, float, float]:
    """(T, H, W) predicted labels (each frame's label image), click seconds, propagation seconds."""
    start = time.perf_counter()
    click_every_cell(tracker, sim.labels[0])
    clicked = time.perf_counter()
    predicted = np.zeros((num_frames, *sim.labels.shape[1:]), np.int32)
    for result in tracker.propagate(start=0):
        predicted[result.frame] = result.label_image(np.int32)
    return predicted, clicked - start, time.perf_counter() - clicked


def j_and_f_per_object(predicted: np.ndarray, truth: np.ndarray) -> list[tuple[float, float]]:
    """(J, F) of each frame-0 object, on the crop holding its truth and its prediction over time."""
    truth_boxes, predicted_boxes = ndimage.find_objects(truth), ndimage.find_objects(predicted)
    scores = []
    for obj_id in np.unique(truth[0])[1:]:
        boxes = [b for b in (truth_boxes[obj_id - 1], _box(predicted_boxes, obj_id)) if b is not None]
        y0 = max(0, min(b[1].start for b in boxes) - MARGIN)
        y1 = min(truth.shape[1], max(b[1].stop for b in boxes) + MARGIN)
        x0 = max(0, min(b[2].start for b in boxes) - MARGIN)
        x1 = min(truth.shape[2], max(b[2].stop for b in boxes) + MARGIN)
        pred, gt = predicted[:, y0:y1, x0:x1] == obj_id, truth[:, y0:y1, x0:x1] == obj_id
        tolerance = (BOUNDARY_PX - 1e-6) / np.hypot(y1 - y0, x1 - x0)  # boundary_measure's ceil gives 3 px
        scores.append((np.mean([region_similarity(p, g) for p, g in zip(pred, gt)]),
                       np.mean([boundary_measure(p, g, tolerance) for p, g in zip(pred, gt)])))
    return scores


def _box(boxes, obj_id):
    return boxes[obj_id - 1] if obj_id <= len(boxes) else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--small-sequences", type=int, default=16, help="time-lapses pooled at 256 px")
    parser.add_argument("--plain-up-to", type=int, default=1024, help="largest side tracked by the plain tracker too")
    parser.add_argument("--model", default=None)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), metavar="METHOD",
                        help=f"rows to run, of: {'; '.join(METHODS)} (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(cpu_description())
    model = load_model(args.model, device="cpu")
    print("| frame | tracker | J&F | J | F | cells | diameter used (true) | tiles in use (of) | click s "
          "| s/frame | s/tile | s/frame / area ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for side in args.sides:
        sims = [simulate(side, args.frames, k) for k in range(args.small_sequences if side == 256 else 1)]
        for name in args.methods:
            if name == "plain (resize)" and side > args.plain_up_to:
                continue
            rows = [run_method(model, name, sim, args.frames) for sim in sims]
            scores = [pair for row in rows for pair in row["scores"]]
            j, f = np.mean(scores, axis=0)
            track_s, encodings = sum(r["track_s"] for r in rows), sum(r["encodings"] for r in rows)
            per_frame = track_s / (args.frames * len(rows))
            used, true = np.mean([r["diameter"] for r in rows]), np.mean([r["true"] for r in rows])
            tiles = f"{np.mean([r['tiles'] for r in rows]):.1f} ({np.mean([r['of'] for r in rows]):.0f})"
            print(f"| {side} | {name} | {(j + f) / 2:.3f} | {j:.3f} | {f:.3f} | {len(scores)} | {used:.1f} ({true:.1f}) "
                  f"| {tiles} | {sum(r['click_s'] for r in rows) / len(rows):.1f} | {per_frame:.2f} "
                  f"| {track_s / encodings:.3f} | {per_frame / (side / 256) ** 2:.3f} |", flush=True)


METHODS = {  # name -> the diameter given, as a factor of the truth's (None: estimated); plain: no tiles
    "plain (resize)": "plain", "tiled, estimated": None, "tiled, true diameter": 1.0,
    "tiled, true / 1.5": 1 / 1.5, "tiled, true x 1.5": 1.5,
}


def run_method(model, name: str, sim, num_frames: int) -> dict:
    truth, true_d = family_labels(sim), true_diameter(sim.labels[0])
    factor = METHODS[name]
    frames = ArrayFrames(sim.frames)
    if factor == "plain":
        tracker = VideoTracker(model, frames)
    else:
        tracker = TiledVideoTracker(model, frames, cell_diameter=None if factor is None else true_d * factor)
    predicted, click_s, track_s = track(tracker, sim, num_frames)
    tiled = factor != "plain"
    return {"scores": j_and_f_per_object(predicted, truth), "click_s": click_s, "track_s": track_s,
            "encodings": tracker.features.computed, "true": true_d,
            "diameter": tracker.cell_diameter if tiled else float("nan"),
            "tiles": len(tracker.tiles_in_use) if tiled else 1, "of": len(tracker.tile_plan.tiles) if tiled else 1}


if __name__ == "__main__":
    main()
