"""Our VideoTracker with precision="float32" vs precision="bfloat16" (the tracker's own option,
which "auto" chooses where bfloat16 is fast): seconds per propagated frame, the speed-up, and how
far the bfloat16 masks are from the float32 ones. Prints the CPU's flags and what "auto" chooses
on it.

Two setups:
- default: an official configuration with random weights (seeded) on synthetic frames, K objects
  clicked on frame 0 (`--objects`): speed only, in the end (with random weights the object score
  often stays within about 0.01 of 0, so a tiny difference can flip "present" and the whole mask
  with it: the table gives the IoU over the frames where both predict the object present, and the
  number of presence flips);
- `--embedded`: the trained embedded model on the shipped sample time-lapse, every cell given
  by its mask on frame 0 (the truth's first frame), as a biologist's session would: the accuracy
  figure that counts (issue 23: per-object IoU >= 0.98 against float32).

The two trackers are advanced alternately, one frame at a time, so that a change in the machine's
load hits both alike. If autocast fails in some op, the error and its traceback are printed and
the row says FAILED.

    .venv/bin/python benchmarks/bench_precision.py [--image-size 1024 --frames 6 --objects 1]
    .venv/bin/python benchmarks/bench_precision.py --embedded [--frames 40]
"""
from __future__ import annotations

import argparse
import traceback
from pathlib import Path

import numpy as np
import tifffile
import torch

from common import (  # first: silences tqdm
    Timer,
    build_ours,
    cpu_description,
    preprocessed,
    print_table,
    random_state,
    set_threads,
    small_video,
)
from napari_sam2 import load_model
from napari_sam2.engine.device import resolve_precision
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.engine.video_tracker import VideoTracker

SAMPLE = Path(__file__).parents[1] / "sample_data"


class Run:
    """One tracker, float32 or bfloat16, with its timings and per-object masks and scores."""

    def __init__(self, model, inputs, precision: str, cleanup: MaskCleanup):
        self.tracker = VideoTracker(model, inputs, precision=precision, cleanup=cleanup)
        self.prompt_seconds, self.loop_seconds = 0.0, 0.0
        self.masks: list[dict[int, np.ndarray]] = []  # per frame: object id -> (H, W) bool
        self.present: list[dict[int, bool]] = []  # per frame: object id -> score > 0
        self.steps = None

    def prompt(self, add) -> None:
        """`add(tracker)` gives frame 0's prompts; then propagation starts."""
        with Timer() as timer:
            add(self.tracker)
        self.prompt_seconds = timer.seconds
        self.steps = self.tracker.propagate()

    def step(self) -> bool:
        """Track one more frame; False when the video is done."""
        with Timer() as timer:
            result = next(self.steps, None)
        self.loop_seconds += timer.seconds
        if result is None:
            return False
        self.masks.append(result.masks)
        self.present.append({o: bool(s > 0) for o, s in zip(result.object_ids, result.object_scores.float())})
        return True

    @property
    def per_frame(self) -> float:
        return self.loop_seconds / max(len(self.masks) - 1, 1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return 1.0 if union == 0 else float((a & b).sum() / union)


def agreement(run: Run, baseline: Run) -> dict:
    """Per object: IoU over all its frames (masks stacked) against the baseline; per frame and
    object: IoU, and IoU where both call the object present; presence flips."""
    objects = list(baseline.masks[0])
    per_object = [iou(np.stack([m[o] for m in run.masks]), np.stack([m[o] for m in baseline.masks]))
                  for o in objects]
    per_frame = [iou(r[o], b[o]) for r, b in zip(run.masks, baseline.masks) for o in objects]
    both = [iou(r[o], b[o]) for r, b, pr, pb in zip(run.masks, baseline.masks, run.present, baseline.present)
            for o in objects if pr[o] and pb[o]]
    flips = sum(pr[o] != pb[o] for pr, pb in zip(run.present, baseline.present) for o in objects)
    present = sum(pb[o] for pb in baseline.present for o in objects)
    return dict(min_object=min(per_object), mean_object=float(np.mean(per_object)),
                min_frame=min(per_frame), both=float(np.mean(both)) if both else "-",
                flips=flips, present=f"{present}/{len(per_frame)}")


def row(name: str, run: Run, baseline: Run) -> list:
    check = agreement(run, baseline)
    return [name, run.prompt_seconds, run.per_frame, baseline.per_frame / run.per_frame, check["min_object"],
            check["mean_object"], check["min_frame"], check["both"], check["flips"], check["present"]]


def embedded_setup(frames: int):
    """The embedded model, the sample time-lapse's first `frames` frames, and every cell of
    frame 0 given by its true mask."""
    video = tifffile.imread(SAMPLE / "timelapse.tif")[:frames]
    first = tifffile.imread(SAMPLE / "timelapse_labels.tif")[0]

    def add(tracker):
        for obj_id in np.unique(first)[1:]:
            tracker.add_mask(0, int(obj_id), first == obj_id)

    title = f"embedded model on the sample time-lapse, {len(video)} frames, {len(np.unique(first)) - 1} objects by mask"
    return load_model(device="cpu"), video, add, title


def official_setup(args):
    model = build_ours(args.config, args.image_size, random_state(args.config, args.image_size, args.seed))
    frames, clicks = small_video(args.frames, max(args.objects, 4), args.frame_size, args.seed)

    def add(tracker):
        for k in range(args.objects):
            tracker.add_points(0, k + 1, clicks[k][None], np.array([1], np.int32))

    title = (f"{args.config} at {args.image_size} (random weights), {args.frames} frames of "
             f"{args.frame_size}x{args.frame_size}, {args.objects} objects clicked")
    return model, preprocessed(frames, args.image_size), add, title


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedded", action="store_true", help="the embedded model on the sample time-lapse")
    parser.add_argument("--config", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (default 1024, official)")
    parser.add_argument("--frames", type=int, default=None, help="video length, frame 0 included (6; 40 embedded)")
    parser.add_argument("--objects", type=int, default=1, help="objects clicked (official configurations)")
    parser.add_argument("--frame-size", type=int, default=512, help="side of the synthetic frames in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--split-touching", action="store_true",
                        help="keep the split of touching masks on (a rule on thresholded masks: a pixel's "
                             "rounding can move a segment's border)")
    args = parser.parse_args()

    set_threads(args.threads)
    if args.embedded:
        model, inputs, add, title = embedded_setup(args.frames or 40)
    else:
        args.frames = args.frames or 6
        model, inputs, add, title = official_setup(args)
    cleanup = MaskCleanup(split_touching=args.split_touching)
    baseline = Run(model, inputs, "float32", cleanup)
    bf16 = Run(model, inputs, "bfloat16", cleanup)
    failure = None
    baseline.prompt(add)
    try:
        bf16.prompt(add)
        while baseline.step() | bf16.step():  # both, every time (no short-circuit)
            pass
    except Exception as error:  # report, do not hide: which op refused bfloat16, and where
        failure = error
        print(f"\nbfloat16 FAILED: {type(error).__name__}: {error}")
        traceback.print_exc()
        while baseline.step():
            pass

    rows = [row("float32", baseline, baseline)]
    rows.append(row("bfloat16", bf16, baseline) if failure is None else ["bfloat16", "FAILED"] + ["-"] * 8)
    print_table(
        ["precision", "prompts s", "s/frame", "speed-up", "min object IoU", "mean object IoU", "min frame IoU",
         "mean IoU both present", "presence flips", "present (fp32)"],
        rows,
        title=f"{title}, {torch.get_num_threads()} threads, split of touching masks "
              f"{'on' if args.split_touching else 'off'}; against float32",
    )
    print(f"{cpu_description()}; precision='auto' chooses {resolve_precision('auto', model)} here for this model")


if __name__ == "__main__":
    main()
