"""Our VideoTracker with precision="float32" vs precision="bfloat16" (the tracker's own option,
which "auto" chooses where bfloat16 is fast): seconds per propagated frame, and each frame's mask
IoU against the float32 masks (mean and min over frames). One object, random weights (seeded),
synthetic frames. Prints the CPU's flags and what "auto" chooses on it.

The two trackers are advanced alternately, one frame at a time, so that a change in the machine's
load hits both alike.
With random weights the object score often stays within about 0.01 of 0, so a tiny difference
can flip "present" (and the whole mask with it): the table also gives the IoU over the frames
where both predict the object present, and the number of presence flips.
If autocast fails in some op, the error and its traceback are printed and the row says FAILED.

    .venv/bin/python benchmarks/bench_precision.py [--image-size 1024 --frames 6]
"""
from __future__ import annotations

import argparse
import traceback

import numpy as np
import torch

from common import (  # first: silences tqdm
    Timer,
    build_ours,
    cpu_description,
    mask_iou,
    preprocessed,
    print_table,
    random_state,
    set_threads,
    small_video,
)
from napari_sam2.engine.device import resolve_precision
from napari_sam2.engine.video_tracker import VideoTracker


class Run:
    """One tracker, float32 or bfloat16, with its timings and results."""

    def __init__(self, model, inputs, bfloat16: bool):
        self.tracker = VideoTracker(model, inputs, precision="bfloat16" if bfloat16 else "float32")
        self.prompt_seconds, self.loop_seconds = 0.0, 0.0
        self.logits, self.scores = [], []
        self.steps = None

    def click(self, point: np.ndarray) -> None:
        with Timer() as timer:
            self.tracker.add_points(0, 1, point[None], np.array([1], np.int32))
        self.prompt_seconds = timer.seconds
        self.steps = self.tracker.propagate()

    def step(self) -> bool:
        """Track one more frame; False when the video is done."""
        with Timer() as timer:
            result = next(self.steps, None)
        self.loop_seconds += timer.seconds
        if result is None:
            return False
        self.logits.append(result.logits().float())
        self.scores.append(result.object_scores.float())
        return True

    @property
    def per_frame(self) -> float:
        return self.loop_seconds / max(len(self.logits) - 1, 1)


def agreement(run: Run, baseline: Run) -> dict:
    ious = [mask_iou(a[0], b[0]) for a, b in zip(run.logits, baseline.logits)]
    present = [bool(s[0] > 0) for s in baseline.scores]
    both = [iou for iou, p, s in zip(ious, present, run.scores) if p and s[0] > 0]
    return dict(
        mean_iou=float(np.mean(ious)), min_iou=float(np.min(ious)),
        both_iou=float(np.mean(both)) if both else "-",
        logit=max((a - b).abs().max().item() for a, b in zip(run.logits, baseline.logits)),
        score=max((a - b).abs().max().item() for a, b in zip(run.scores, baseline.scores)),
        flips=sum(bool((a[0] > 0) != (b[0] > 0)) for a, b in zip(run.scores, baseline.scores)),
        present=f"{sum(present)}/{len(present)}",
    )


def row(name: str, run: Run, baseline: Run) -> list:
    check = agreement(run, baseline)
    return [name, run.prompt_seconds, run.per_frame, baseline.per_frame / run.per_frame, check["mean_iou"],
            check["min_iou"], check["both_iou"], check["logit"], check["score"], check["flips"], check["present"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (default 1024, official)")
    parser.add_argument("--frames", type=int, default=6, help="video length, frame 0 included")
    parser.add_argument("--frame-size", type=int, default=512, help="side of the synthetic frames in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    set_threads()
    model = build_ours(args.config, args.image_size, random_state(args.config, args.image_size, args.seed))
    frames, clicks = small_video(args.frames, 4, args.frame_size, args.seed)
    inputs = preprocessed(frames, args.image_size)

    baseline, bf16 = Run(model, inputs, bfloat16=False), Run(model, inputs, bfloat16=True)
    failure = None
    baseline.click(clicks[0])
    try:
        bf16.click(clicks[0])
        while baseline.step() | bf16.step():  # both, every time (no short-circuit)
            pass
    except Exception as error:  # report, do not hide: which op refused bfloat16, and where
        failure = error
        print(f"\nbfloat16 FAILED: {type(error).__name__}: {error}")
        traceback.print_exc()
        while baseline.step():
            pass

    rows = [row("float32", baseline, baseline)]
    rows.append(row("bfloat16", bf16, baseline) if failure is None else ["bfloat16", "FAILED"] + ["-"] * 9)
    print_table(
        ["precision", "add_points s", "s/frame", "speed-up", "mean IoU", "min IoU", "mean IoU both present",
         "max |logit diff|", "max |score diff|", "presence flips", "present (fp32)"],
        rows,
        title=f"{args.config} at {args.image_size}, {args.frames} frames of {args.frame_size}x{args.frame_size}, "
              f"1 object, {torch.get_num_threads()} threads; against float32",
    )
    print(f"{cpu_description()}; precision='auto' chooses {resolve_precision('auto', 'cpu')} here")


if __name__ == "__main__":
    main()
