"""Seconds per propagated frame, our VideoTracker vs the reference SAM2VideoPredictor: same random
weights, same preprocessed frames, one positive click per object on frame 0, forward propagation.

Only the propagation loops are timed (the prompts are not), advanced alternately one frame at a
time so that a change in the machine's load hits both alike. Both have frame 0's features cached
by the prompt step and output nothing new for it, so s/frame = loop time / (frames - 1), the
frames actually tracked through memory. One untimed step of tracking warms both up first. Our
loop includes turning each result into video-resolution logits, as the reference's loop does.
The outputs are compared so that both are known to time the same computation.

    .venv/bin/python benchmarks/bench_propagation_speed.py [--image-size 1024 --frames 6 --objects 1,10]
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import (  # first: it silences tqdm
    MODEL_PARTS,
    PartTimer,
    Timer,
    build_pair,
    cpu_description,
    mask_iou,
    preprocessed,
    print_table,
    reference_state,
    set_threads,
    small_video,
)
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.engine.video_tracker import VideoTracker


def prompt_both(reference, state, ours: VideoTracker, clicks: np.ndarray) -> None:
    label = np.array([1], np.int32)
    for k, click in enumerate(clicks):
        with torch.inference_mode():
            reference.add_new_points_or_box(state, 0, k + 1, points=click[None], labels=label)
        ours.add_points(0, k + 1, click[None], label)


def new_states(reference, model, frames, inputs, clicks, precision="float32"):
    """Fresh reference state and fresh tracker, each object clicked on frame 0."""
    with tempfile.TemporaryDirectory() as tmp:
        state = reference_state(reference, frames, inputs, Path(tmp) / "jpg")
    # the reference fills holes only with CUDA, and tracks each object alone (no separate memories)
    ours = VideoTracker(model, inputs, fill_hole_area=0, separate_memories=False, precision=precision,
                        cleanup=MaskCleanup.off())
    prompt_both(reference, state, ours, clicks)
    return state, ours


def warm_up(reference, model, frames, inputs, clicks) -> None:
    """One untimed step of tracking in both: the first call of each layer pays one-time costs
    (kernel selection, allocations) that the prompt step alone does not cover."""
    state, ours = new_states(reference, model, frames, inputs, clicks[:1])
    for _ in reference.propagate_in_video(state, max_frame_num_to_track=1):
        pass
    for _ in ours.propagate(max_frames=2):
        pass


def time_interleaved(reference, state, ours: VideoTracker):
    """Advance both propagations one frame at a time, alternating which goes first, and time each
    step: a change in the machine's load during the run then hits both alike.
    Returns (reference seconds, reference outputs, our seconds, our outputs)."""
    ref_steps = ((frame, logits[:, 0].float()) for frame, _, logits in reference.propagate_in_video(state))
    our_steps = ((r.frame, r.logits(), r.object_scores) for r in ours.propagate())
    seconds = {"ref": 0.0, "ours": 0.0}
    outputs = {"ref": [], "ours": []}
    running = {"ref": True, "ours": True}
    for step in itertools.count():
        if not any(running.values()):
            break
        order = [("ref", ref_steps), ("ours", our_steps)]
        for name, steps in order if step % 2 == 0 else order[::-1]:
            with Timer() as timer:
                output = next(steps, None)
            seconds[name] += timer.seconds
            if output is None:
                running[name] = False
            else:
                outputs[name].append(output)
    return seconds["ref"], outputs["ref"], seconds["ours"], outputs["ours"]


def reference_scores(state, frame: int) -> torch.Tensor:
    """(K,) object-score logits the reference stored for a frame."""
    scores = []
    for outputs in state["output_dict_per_obj"].values():
        out = outputs["cond_frame_outputs"].get(frame) or outputs["non_cond_frame_outputs"][frame]
        scores.append(out["object_score_logits"].reshape(()))
    return torch.stack(scores).float()


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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="float32", help="ours: float32 (default), bfloat16 or auto")
    parser.add_argument("--parts", action="store_true", help="also print where the time goes: s/frame per model part")
    args = parser.parse_args()
    counts = [int(k) for k in args.objects.split(",")]
    if args.frames < 2:
        parser.error("--frames must be at least 2")

    set_threads(args.threads)
    print(cpu_description(), flush=True)
    reference, model, _ = build_pair(args.config, args.image_size, args.seed)
    part_timers = (PartTimer(model), PartTimer(reference)) if args.parts else ()
    frames, clicks = small_video(args.frames, max(counts), args.frame_size, args.seed)
    inputs = preprocessed(frames, args.image_size)
    tracked = args.frames - 1
    warm_up(reference, model, frames, inputs, clicks)

    rows, part_rows = [], []
    for count in counts:
        state, ours = new_states(reference, model, frames, inputs, clicks[:count], args.precision)
        for timer in part_timers:
            timer.reset()
        ref_seconds, ref_outputs, our_seconds, our_outputs = time_interleaved(reference, state, ours)
        check = compare(ref_outputs, our_outputs, state)
        rows.append([count, our_seconds / tracked, ref_seconds / tracked, our_seconds / ref_seconds,
                     check["logit"], check["score"], check["iou"], check["present"]])
        if part_timers:
            part_rows += part_table_rows(count, part_timers, our_seconds, ref_seconds, tracked)
        print(f"{count} object(s): ours {our_seconds:.1f} s, reference {ref_seconds:.1f} s for {tracked} tracked frames",
              flush=True)

    print_table(
        ["objects", "ours s/frame", "reference s/frame", "ours/reference", "max |logit diff|", "max |score diff|",
         "min mask IoU", "present (ref)"],
        rows,
        title=f"{args.config} at {args.image_size}, ours in {ours.precision}, {args.frames} frames ({tracked} tracked) of "
              f"{args.frame_size}x{args.frame_size}, {torch.get_num_threads()} threads",
    )
    if part_rows:
        print_table(["objects", "part", "ours s/frame", "reference s/frame", "ours/reference", "share of ours"], part_rows,
                    title="where the time of a tracked frame goes (forward hooks on each model part)")


def part_table_rows(count: int, part_timers, our_seconds: float, ref_seconds: float, tracked: int) -> list[list]:
    ours, ref = (timer.seconds for timer in part_timers)
    rows = [[count, name, ours[name] / tracked, ref[name] / tracked, ours[name] / max(ref[name], 1e-9), ours[name] / our_seconds]
            for name in MODEL_PARTS]
    our_rest, ref_rest = our_seconds - sum(ours.values()), ref_seconds - sum(ref.values())
    rows.append([count, "everything else", our_rest / tracked, ref_rest / tracked, our_rest / max(ref_rest, 1e-9),
                 our_rest / our_seconds])
    return rows


if __name__ == "__main__":
    main()
