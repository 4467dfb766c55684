"""Propagation speed of the embedded micro model at its native size (256 x 256), on the CPU.

    python benchmarks/bench_micro.py [--checkpoint PATH] [--objects 1,5,20] [--frames 32] [--threads 2]

Frames are a simulated time-lapse (256 x 256, one nucleus per object); prompts are one click
per object on frame 0; the time is that of the propagation loop only, divided by its frames.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from napari_sam2.engine import ArrayFrames, VideoTracker, load_model
from napari_sam2.evaluation import central_click
from napari_sam2.simulation import SimulationConfig, simulate_timelapse


def video_with_cells(num_objects: int, num_frames: int, seed: int = 1):
    """A 256 x 256 time-lapse with at least num_objects cells in frame 0 (re-drawn until so)."""
    config = replace(SimulationConfig(), height=256, width=256, num_frames=num_frames,
                     num_cells=(num_objects, num_objects + 2), radius_range=(5.0, 9.0))
    while True:
        sim = simulate_timelapse(config, seed)
        ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0 and (sim.labels[0] == i).sum() >= 20]
        if len(ids) >= num_objects:
            return sim.frames, sim.labels[0], ids[:num_objects]
        seed += 1000


def seconds_per_frame(model, num_objects: int, num_frames: int) -> float:
    frames, first, ids = video_with_cells(num_objects, num_frames)
    tracker = VideoTracker(model, ArrayFrames(frames))
    for obj_id in ids:
        (x, y), _ = central_click(first == obj_id)
        tracker.add_points(0, obj_id, [[x, y]], [1])
    start = time.perf_counter()
    count = sum(1 for _ in tracker.propagate(start=0))
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the embedded model")
    parser.add_argument("--objects", default="1,5,20")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, device="cpu")
    print(f"model {model.cfg.name}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"input {model.cfg.image_size} x {model.cfg.image_size}, {args.threads} threads")
    print("| objects | s/frame | frames/s |\n|---|---|---|")
    for k in [int(v) for v in args.objects.split(",")]:
        spf = seconds_per_frame(model, k, args.frames)
        print(f"| {k} | {spf:.4f} | {1 / spf:.1f} |")


if __name__ == "__main__":
    main()
