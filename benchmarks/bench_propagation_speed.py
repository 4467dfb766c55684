"""Seconds per propagated frame, our VideoTracker vs the reference SAM2VideoPredictor: same random
weights, same preprocessed frames, one positive click per object on frame 0, forward propagation.

Only the propagation loop is timed (the prompts are not). Both have frame 0's features cached by
the prompt step and output nothing new for it, so s/frame = loop time / (frames - 1), the frames
actually tracked through memory. Our loop includes turning each result into video-resolution
logits, as the reference's loop does. The masks are compared so both time the same computation.

    /work/venv/bin/python benchmarks/bench_propagation_speed.py [--image-size 1024 --frames 6 --objects 1,10]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import Timer, build_pair, mask_iou, preprocessed, print_table, reference_state, set_threads, small_video  # first: it silences tqdm

import numpy as np
import torch

from napari_sam2.engine.video_tracker import VideoTracker


def prompt_both(reference, state, ours: VideoTracker, clicks: np.ndarray) -> None:
    label = np.array([1], np.int32)
    for k, click in enumerate(clicks):
        with torch.inference_mode():
            reference.add_new_points_or_box(state, 0, k + 1, points=click[None], labels=label)
        ours.add_points(0, k + 1, click[None], label)


def time_reference(reference, state):
    with Timer() as timer:
        outputs = [(frame, logits[:, 0].float()) for frame, _, logits in reference.propagate_in_video(state)]
    return timer.seconds, outputs


def reference_scores(state, frame: int) -> torch.Tensor:
    """(K,) object-score logits the reference stored for a frame."""
    scores = []
    for outputs in state["output_dict_per_obj"].values():
        out = outputs["cond_frame_outputs"].get(frame) or outputs["non_cond_frame_outputs"][frame]
        scores.append(out["object_score_logits"].reshape(()))
    return torch.stack(scores).float()


def time_ours(ours: VideoTracker):
    with Timer() as timer:
        outputs = [(result.frame, result.logits(), result.object_scores) for result in ours.propagate()]
    return timer.seconds, outputs


def compare(ref_outputs, our_outputs, state) -> dict:
    """Over every frame and object: max abs difference of mask logits and of object-score logits,
    min mask IoU, and how many (frame, object) pairs the reference predicts present. Where an object
    is absent both masks are the constant 'no object' logit, so then only the scores compare."""
    assert [r[0] for r in ref_outputs] == [o[0] for o in our_outputs], "the two propagated different frames"
    logit, score, iou, present = 0.0, 0.0, 1.0, 0
    for (frame, ref), (_, mine, our_scores) in zip(ref_outputs, our_outputs):
        logit = max(logit, (ref - mine).abs().max().item())
        iou = min(iou, *(mask_iou(ref[k], mine[k]) for k in range(len(ref))))
        ref_score = reference_scores(state, frame)
        score = max(score, (ref_score - our_scores.float()).abs().max().item())
        present += int((ref_score > 0).sum())
    return dict(logit=logit, score=score, iou=iou, present=f"{present}/{len(ref_outputs) * len(ref_outputs[0][1])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sam2.1_hiera_tiny")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (default 1024, official)")
    parser.add_argument("--frames", type=int, default=6, help="video length, frame 0 included")
    parser.add_argument("--objects", default="1,10", help="comma-separated numbers of objects")
    parser.add_argument("--frame-size", type=int, default=512, help="side of the synthetic frames in pixels")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    counts = [int(k) for k in args.objects.split(",")]
    if args.frames < 2:
        parser.error("--frames must be at least 2")

    set_threads()
    reference, model, _ = build_pair(args.config, args.image_size, args.seed)
    frames, clicks = small_video(args.frames, max(counts), args.frame_size, args.seed)
    inputs = preprocessed(frames, args.image_size)
    tracked = args.frames - 1

    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            state = reference_state(reference, frames, inputs, Path(tmp) / "jpg")
        ours = VideoTracker(model, inputs, fill_hole_area=0)  # the reference fills holes only with CUDA
        prompt_both(reference, state, ours, clicks[:count])
        ref_seconds, ref_outputs = time_reference(reference, state)
        our_seconds, our_outputs = time_ours(ours)
        check = compare(ref_outputs, our_outputs, state)
        rows.append([count, our_seconds / tracked, ref_seconds / tracked, our_seconds / ref_seconds,
                     check["logit"], check["score"], check["iou"], check["present"]])
        print(f"{count} object(s): ours {our_seconds:.1f} s, reference {ref_seconds:.1f} s for {tracked} tracked frames", flush=True)

    print_table(
        ["objects", "ours s/frame", "reference s/frame", "ours/reference", "max |logit diff|", "max |score diff|",
         "min mask IoU", "present (ref)"],
        rows,
        title=f"{args.config} at {args.image_size}, {args.frames} frames ({tracked} tracked) of "
              f"{args.frame_size}x{args.frame_size}, {torch.get_num_threads()} threads",
    )


if __name__ == "__main__":
    main()
