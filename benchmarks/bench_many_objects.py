"""Object-frames per second of the embedded model tracking many cells at once (issue 23): simulated
time-lapses (napari_sam2.simulation, held-out seeds) holding 1, 20, 100, 200 nuclei, each nucleus
given as a mask prompt from the truth on frame 0, then a forward propagation. Only the propagation
is timed (image encoder included: frames are encoded as they are reached).

For each count the tracker runs twice, interleaved frame by frame so that a change in the
machine's load hits both alike: objects batched as `objects_per_call` decides (ours), and one
object per model call (the reference's way). Object-frames/s = objects x tracked frames / seconds.

    .venv/bin/python benchmarks/bench_many_objects.py [--objects 1,20,100,200 --frames 6 --threads 2]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from common import cpu_description, print_table, set_threads
from napari_sam2 import VideoTracker, load_model
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse


def crowded_timelapse(count: int, frames: int, seed: int):
    """(frames (T, H, W), labels (T, H, W)): `count` nuclei of radius 6-10 px covering about a
    quarter of a square field; no divisions, none entering, so the count holds."""
    side = max(128, int(math.sqrt(count * math.pi * 8.0**2 / 0.25)))
    config = SimulationConfig(height=side, width=side, num_frames=frames, num_cells=(count, count),
                              radius_range=(6.0, 10.0), division_probability=0.0, enter_rate=0.0)
    sim = simulate_timelapse(config, seed=seed)
    return sim.frames, sim.labels


class Run:
    """One tracker over the time-lapse, its propagation advanced a frame at a time."""

    def __init__(self, model, frames, labels, per_object: bool, precision: str):
        one_per_call = {"objects_per_call": 1} if per_object else {}  # (so that older versions run it too)
        self.tracker = VideoTracker(model, frames, precision=precision, feature_cache_size=2, **one_per_call)
        ids = [int(i) for i in np.unique(labels[0]) if i]
        for obj_id in ids:
            self.tracker.add_mask(0, obj_id, labels[0] == obj_id)
        self.objects = len(ids)
        self.steps = self.tracker.propagate()
        self.seconds, self.frames = 0.0, 0

    def step(self) -> bool:
        """Track one more frame (the first step, frame 0, encodes the prompts' memories: not timed)."""
        start = time.perf_counter()
        result = next(self.steps, None)
        if self.frames:
            self.seconds += time.perf_counter() - start
        self.frames += result is not None
        return result is not None

    @property
    def rate(self) -> float:
        return self.objects * (self.frames - 1) / self.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="1,20,100,200", help="comma-separated numbers of nuclei")
    parser.add_argument("--frames", type=int, default=6, help="time-lapse length, frame 0 (the prompts) included")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--no-per-object", action="store_true", help="skip the one-object-per-call runs")
    args = parser.parse_args()
    set_threads(args.threads)
    model = load_model(device="cpu")
    print(cpu_description())
    rows = []
    for count in [int(k) for k in args.objects.split(",")]:
        frames, labels = crowded_timelapse(count, args.frames, args.seed)
        runs = [Run(model, frames, labels, False, args.precision)]
        if not args.no_per_object:
            runs.append(Run(model, frames, labels, True, args.precision))
        for step in range(args.frames + 1):
            for run in runs if step % 2 == 0 else runs[::-1]:
                run.step()
        ours = runs[0]
        row = [ours.objects, f"{frames.shape[1]}x{frames.shape[2]}", ours.seconds / max(ours.frames - 1, 1), ours.rate]
        if len(runs) > 1:
            row += [runs[1].rate, ours.rate / runs[1].rate]
        rows.append(row)
        print(f"{count} nuclei done", flush=True)
    headers = ["objects", "frame", "s/frame", "object-frames/s"] + ([] if args.no_per_object else
                                                                    ["one per call: object-frames/s", "ratio"])
    print_table(headers, rows, title=f"embedded model, {args.frames} frames ({args.frames - 1} tracked), "
                                     f"{args.precision}, {torch.get_num_threads()} threads; {cpu_description()}")


if __name__ == "__main__":
    main()
