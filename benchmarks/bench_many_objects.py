"""Object-frames per second of the embedded model tracking many cells at once (issue 23): simulated
time-lapses (napari_sam2.simulation, held-out seeds) holding 1, 20, 100, 200 nuclei, each nucleus
given as a mask prompt from the truth on frame 0, then a forward propagation. Only the propagation
is timed (image encoder included: frames are encoded as they are reached).

For each count the tracker runs twice, interleaved frame by frame so that a change in the
machine's load hits both alike: objects batched as `objects_per_call` decides (ours), and one
object per model call (the reference's way). Object-frames/s = objects x tracked frames / seconds.
--labels also times each frame's label image (FrameResult.label_image, what the cell tracker and
the stores take from a result); --parts prints where our time goes (model parts through forward
hooks, the memory encoder's mask inputs, the clean-up's drop_dim test, the label image, in CPU
seconds; the one-per-call runs are left out).

    .venv/bin/python benchmarks/bench_many_objects.py [--objects 1,20,100,200 --frames 6 --threads 2]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from common import MODEL_PARTS, PartTimer, cpu_description, print_table, set_threads
from napari_sam2 import MaskCleanup, VideoTracker, load_model
from napari_sam2.engine import frame_step
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

    def __init__(self, model, frames, labels, per_object: bool, precision: str, label_images: bool):
        one_per_call = {"objects_per_call": 1} if per_object else {}  # (so that older versions run it too)
        self.tracker = VideoTracker(model, frames, precision=precision, feature_cache_size=2, **one_per_call)
        ids = [int(i) for i in np.unique(labels[0]) if i]
        for obj_id in ids:
            self.tracker.add_mask(0, obj_id, labels[0] == obj_id)
        self.objects = len(ids)
        self.steps = self.tracker.propagate()
        self.label_images = label_images
        self.seconds, self.cpu_seconds, self.frames = 0.0, 0.0, 0

    def step(self) -> bool:
        """Track one more frame (the first step, frame 0, encodes the prompts' memories: not timed)."""
        start, cpu_start = time.perf_counter(), time.process_time()
        result = next(self.steps, None)
        if result is not None and self.label_images:
            timed_call("label image", result.label_image)
        if self.frames:
            self.seconds += time.perf_counter() - start
            self.cpu_seconds += time.process_time() - cpu_start
        self.frames += result is not None
        return result is not None

    @property
    def rate(self) -> float:
        return self.objects * (self.frames - 1) / self.seconds

    @property
    def cpu_rate(self) -> float:
        """Object-frames per CPU-second (all threads): steadier than `rate` on a shared machine."""
        return self.objects * (self.frames - 1) / self.cpu_seconds


EXTRA_PARTS: dict[str, float] = {}  # seconds of what is not a model part, by name (--parts)


def timed_call(name: str, function, *args, **kwargs):
    start = time.process_time()
    out = function(*args, **kwargs)
    EXTRA_PARTS[name] = EXTRA_PARTS.get(name, 0.0) + time.process_time() - start
    return out


def time_memory_masks() -> None:
    """Count the memory encoder's mask inputs (upsampling, separation) and the clean-up's test of
    dim masks among the parts."""
    masks = frame_step.memory_masks
    frame_step.memory_masks = lambda *args, **kwargs: timed_call("memory masks", masks, *args, **kwargs)
    dim_masks = MaskCleanup.dim_masks
    MaskCleanup.dim_masks = lambda *args, **kwargs: timed_call("drop_dim test", dim_masks, *args, **kwargs)


def part_rows(count: int, timer: PartTimer, run: Run) -> list[list]:
    """CPU seconds per tracked frame and share of the run's CPU time of each part (the prompt
    step's frame 0 left out, as in the run's own time)."""
    tracked = run.frames - 1
    seconds = {**timer.seconds, **EXTRA_PARTS}
    seconds["everything else"] = run.cpu_seconds - sum(seconds.values())
    return [[count, name, value / tracked, value / count / tracked * 1e3, value / run.cpu_seconds]
            for name, value in sorted(seconds.items(), key=lambda item: -item[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="1,20,100,200", help="comma-separated numbers of nuclei")
    parser.add_argument("--frames", type=int, default=6, help="time-lapse length, frame 0 (the prompts) included")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--no-per-object", action="store_true", help="skip the one-object-per-call runs")
    parser.add_argument("--labels", action="store_true", help="time each frame's label image too")
    parser.add_argument("--parts", action="store_true", help="where our time goes (implies --no-per-object)")
    args = parser.parse_args()
    args.no_per_object |= args.parts
    set_threads(args.threads)
    model = load_model(device="cpu")
    print(cpu_description())
    timer = PartTimer(model, clock=time.process_time) if args.parts else None
    if args.parts:
        time_memory_masks()
    rows, parts = [], []
    for count in [int(k) for k in args.objects.split(",")]:
        frames, labels = crowded_timelapse(count, args.frames, args.seed)
        runs = [Run(model, frames, labels, False, args.precision, args.labels)]
        if not args.no_per_object:
            runs.append(Run(model, frames, labels, True, args.precision, args.labels))
        for step in range(args.frames + 1):
            if step == 1 and timer is not None:  # the prompts' frame 0 is not timed
                timer.reset()
                EXTRA_PARTS.clear()
            for run in runs if step % 2 == 0 else runs[::-1]:
                run.step()
        ours = runs[0]
        if timer is not None:
            parts += part_rows(ours.objects, timer, ours)
        row = [ours.objects, f"{frames.shape[1]}x{frames.shape[2]}", ours.seconds / max(ours.frames - 1, 1), ours.rate,
               ours.cpu_rate]
        if len(runs) > 1:
            row += [runs[1].rate, runs[1].cpu_rate, ours.cpu_rate / runs[1].cpu_rate]
        rows.append(row)
        print(f"{count} nuclei done", flush=True)
    headers = ["objects", "frame", "s/frame", "object-frames/s", "per CPU-s"] + (
        [] if args.no_per_object else ["one per call: object-frames/s", "per CPU-s", "ratio (CPU)"])
    labels_note = ", label images included" if args.labels else ""
    print_table(headers, rows, title=f"embedded model, {args.frames} frames ({args.frames - 1} tracked){labels_note}, "
                                     f"{args.precision}, {torch.get_num_threads()} threads; {cpu_description()}")
    if parts:
        print_table(["objects", "part", "CPU s/frame", "CPU ms/object-frame", "share"], parts,
                    title="where our CPU time goes (forward hooks on the model parts; " + ", ".join(MODEL_PARTS) + ")")


if __name__ == "__main__":
    main()
