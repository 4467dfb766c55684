"""Masks spilling over touching neighbours (issue 19, issue 18): every object of held-out simulated
time-lapses tracked from prompts on frame 0 (as `python -m napari_sam2.training evaluate`), its
wrong and missed pixels classed by what lies there (evaluation/spill.py): a neighbour's cell, an
untracked cell, background at the cell's edge or away from it; missed where a neighbour's mask is
or free. With J&F per prompt kind, and the pixels on a neighbour per frame (% of the true area):
spill that grows frame by frame is remembered, spill that stays flat is the decoder's edge.

    python benchmarks/bench_spill.py [--sequences 20] [--first-seed EVALUATION_SEEDS] [--kinds mask,box]
                                     [--no-separate-memories] [--threads 1]
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from common import cpu_description
from napari_sam2.engine.loading import load_model
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.evaluation import j_and_f, track_sequence
from napari_sam2.evaluation.spill import SPILL_KINDS, spill_pixels
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, ground_truth_masks, simulate_timelapse

MIN_CELLS = 5  # as the model card's evaluation: sequences with fewer cells in frame 0 are skipped
CURVE_FRAMES = (1, 4, 8, 16, 24, 31)


def held_out(count: int, first_seed: int, frames: int):
    """(seed, simulation, object ids) of the first `count` sequences with MIN_CELLS in frame 0."""
    config, seed, found = replace(SimulationConfig(), num_frames=frames), first_seed, 0
    while found < count:
        sim = simulate_timelapse(config, seed)
        ids = [int(i) for i in np.unique(sim.labels[0]) if i > 0]
        if len(ids) >= MIN_CELLS:
            found += 1
            yield seed, sim, ids
        seed += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--first-seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--kinds", default="mask,1 click,box", help="comma-separated prompt kinds on frame 0")
    parser.add_argument("--separate-memories", action=argparse.BooleanOptionalAction, default=True,
                        help="the tracker's winner rule for memories (its default)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--keep-touching-masks", action="store_true",
                        help="tracked masks that touch as the model gives them (MaskCleanup.split_touching off)")
    parser.add_argument("--model", default=None, help="a checkpoint file (default: the embedded model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kinds = args.kinds.split(",")
    model = load_model(args.model, device="cpu")
    print(cpu_description())
    print(f"model: {args.model or 'embedded'}")
    cleanup = MaskCleanup(split_touching=not args.keep_touching_masks)
    print(cleanup)
    counts = {kind: {} for kind in kinds}
    scores = {kind: [] for kind in kinds}
    start = time.perf_counter()
    for seed, sim, ids in held_out(args.sequences, args.first_seed, args.frames):
        truths = ground_truth_masks(sim, ids)
        for kind in kinds:
            pred = track_sequence(model, sim.frames, truths, kind, args.separate_memories, cleanup)
            scores[kind] += [j_and_f(pred[i], truths[i]) for i in ids]
            for name, per_frame in spill_pixels(pred, truths, sim.labels > 0).items():
                counts[kind][name] = counts[kind].get(name, 0) + per_frame
        print(f"seed {seed}: {len(ids)} objects, {time.perf_counter() - start:.0f} s", flush=True)
    print(f"\n{args.sequences} sequences from seed {args.first_seed}, {args.frames} frames, separate memories "
          f"{args.separate_memories}; pixels summed over objects and frames")
    print("| prompt | J&F | " + " | ".join(SPILL_KINDS) + " | on a neighbour, % of true area at frames "
          + ", ".join(map(str, CURVE_FRAMES)) + " |")
    print("|---" * (len(SPILL_KINDS) + 3) + "|")
    for kind in kinds:
        jf = np.mean([(j + f) / 2 for j, f in scores[kind]])
        on_neighbour = 100 * counts[kind]["on a neighbour"] / np.maximum(counts[kind]["cell area"], 1)
        curve = ", ".join(f"{on_neighbour[t]:.1f}" for t in CURVE_FRAMES if t < args.frames)
        print(f"| {kind} | {jf:.4f} | " + " | ".join(str(int(counts[kind][k].sum())) for k in SPILL_KINDS)
              + f" | {curve} |")


if __name__ == "__main__":
    main()
