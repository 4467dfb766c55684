"""One-click IoU on single simulated frames of 256, 1024 and 2048 px a side with the same nuclei
(radius 6-14 px) and density, one click per cell at its centre from the truth (issue 17):
before (ImagePredictor: the frame resized to the model's input) and after (TiledImagePredictor:
resampled to the model's preferred cell size, tiled), with the diameter estimated, given
right, and given 1.5x too small or too large.

    python benchmarks/bench_scale.py [--cells-per-size 60] [--threads 2] [--model PATH]

Each size draws frames until `--cells-per-size` cells are clicked (a random sample of the cells
on large frames, so that every size costs about the same); IoU of the best-scored of 3 masks.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from scipy import ndimage

from napari_sam2.engine import ImagePredictor, load_model
from napari_sam2.engine.tiled_predictor import TiledImagePredictor
from napari_sam2.evaluation import central_click
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse

SIDES = (256, 1024, 2048)
CELLS_PER_256 = (10, 18)  # the model card's 256 x 256 density; x16 and x64 on the larger frames


def frames_of_side(side: int, cells_wanted: int, rng: np.random.Generator):
    """(frame, truth labels, ids of the cells to click) until cells_wanted cells are drawn."""
    scale = (side / 256) ** 2
    config = replace(SimulationConfig(), height=side, width=side, num_frames=1,
                     num_cells=tuple(int(round(n * scale)) for n in CELLS_PER_256))
    seed, clicked = EVALUATION_SEEDS + 1000 * side, 0
    while clicked < cells_wanted:
        sim = simulate_timelapse(config, seed)
        ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0]
        chosen = rng.permutation(ids)[:cells_wanted - clicked]
        clicked += len(chosen)
        seed += 1
        yield sim.frames[0], sim.labels[0], chosen


def true_diameter(labels: np.ndarray) -> float:
    _, areas = np.unique(labels[labels > 0], return_counts=True)
    return float(np.median(2 * np.sqrt(areas / np.pi)))


def one_click_iou(predictor, frame, labels, ids) -> list[float]:
    """IoU of the best-scored mask of one click at each cell's centre (found in its bounding box)."""
    predictor.set_image(frame)
    boxes = ndimage.find_objects(labels)
    scores = []
    for obj_id in ids:
        rows, cols = boxes[obj_id - 1]
        (x, y), _ = central_click(labels[rows, cols] == obj_id)
        p = predictor.predict(points=[[x + cols.start, y + rows.start]], labels=[1], multimask=True)
        mask = p.masks[p.best]
        truth_area = int((labels[rows, cols] == obj_id).sum())
        overlap = int(mask[rows, cols][labels[rows, cols] == obj_id].sum())
        scores.append(overlap / (int(mask.sum()) + truth_area - overlap))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells-per-size", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu")
    methods = {
        "before (resize)": lambda d: ImagePredictor(model),
        "after, estimated": lambda d: TiledImagePredictor(model),
        "after, true diameter": lambda d: TiledImagePredictor(model, cell_diameter=d),
        "after, diameter / 1.5": lambda d: TiledImagePredictor(model, cell_diameter=d / 1.5),
        "after, diameter x 1.5": lambda d: TiledImagePredictor(model, cell_diameter=d * 1.5),
    }
    print("| frame | method | one-click IoU | cells | diameter used (true median) | tiles embedded | s/image |")
    print("|---|---|---|---|---|---|---|")  # diameters in px, means over the frames
    for side in SIDES:
        frames = list(frames_of_side(side, args.cells_per_size, np.random.default_rng(side)))
        for name, make in methods.items():
            scores, used, true, tiles, seconds = [], [], [], [], 0.0
            for frame, labels, ids in frames:
                truth_d = true_diameter(labels)
                true.append(truth_d)
                predictor = make(truth_d)
                start = time.time()
                scores += one_click_iou(predictor, frame, labels, ids)
                seconds += time.time() - start
                used.append(getattr(predictor, "cell_diameter_used", None) or float("nan"))
                tiles.append(len(getattr(predictor, "tiles_embedded", [None])))
            print(f"| {side} | {name} | {np.mean(scores):.3f} | {len(scores)} | {np.mean(used):.1f} ({np.mean(true):.1f}) "
                  f"| {np.mean(tiles):.1f} | {seconds / len(frames):.1f} |", flush=True)


if __name__ == "__main__":
    main()
