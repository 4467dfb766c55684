"""Peak resident memory (RSS) of propagating one object through N frames of uint16 frames held in a
zarr array on disk, with our VideoTracker reading them lazily through ArrayFrames. Each N runs in
its own fresh process. With --reference, the reference SAM2VideoPredictor does the same in its own
process (its init_state reads a folder of JPEG files: 8-bit versions of the same frames).

Both use the same random weights (seeded), the same click on frame 0, forward propagation, and
drop every result as it comes (nothing accumulates in the caller). Once the model is loaded,
"baseline" is the process's RSS; the peak is then reset (Linux clear_refs) so that "peak" is the
peak RSS while opening the video, clicking and propagating, and "growth" is peak - baseline.
The peak of loading the weights comes before and is left out (it is the same for every N).

    .venv/bin/python benchmarks/bench_memory.py [--frames 20,100 --image-size 1024 --reference auto]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import (  # first: silences tqdm
    THREADS,
    DriftingNuclei,
    Timer,
    build_ours,
    build_reference,
    print_table,
    random_state,
    run_in_fresh_process,
    set_threads,
    start_measured_phase,
    write_jpegs,
)
from napari_sam2.engine.frames import ArrayFrames
from napari_sam2.engine.video_tracker import VideoTracker

LABEL = np.array([1], np.int32)


def load_weights(path: str) -> dict:
    return torch.load(path, mmap=True, weights_only=True)


def track_ours(zarr_path: str, weights: str, config: str, image_size: int, click) -> dict:
    """Runs in a fresh process: our tracker over the zarr frames; results dropped as they come."""
    import zarr

    model = build_ours(config, image_size, load_weights(weights))
    setup = start_measured_phase()
    tracker = VideoTracker(model, ArrayFrames(zarr.open_array(zarr_path, mode="r")))
    tracker.add_points(0, 1, np.asarray([click], np.float32), LABEL)
    with Timer() as timer:
        count = sum(1 for _ in tracker.propagate())
    return dict(setup, frames=count, seconds=timer.seconds, encoder_runs=tracker.features.computed)


def track_reference(jpg_folder: str, weights: str, config: str, image_size: int, click) -> dict:
    """Runs in a fresh process: the reference predictor over the JPEG folder; results dropped."""
    predictor = build_reference(config, image_size, state=load_weights(weights))[0]
    setup = start_measured_phase()
    with torch.inference_mode():
        state = predictor.init_state(jpg_folder)
        predictor.add_new_points_or_box(state, 0, 1, points=np.asarray([click], np.float32), labels=LABEL)
    with Timer() as timer:
        count = sum(1 for _ in predictor.propagate_in_video(state))
    return dict(setup, frames=count, seconds=timer.seconds)


def measure(fn, *args, threads: int = THREADS) -> dict:
    result, peak = run_in_fresh_process(fn, *args, threads=threads)
    return dict(result, peak=peak, growth=peak - result["baseline"], per_frame=result["seconds"] / max(result["frames"] - 1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sam2.1_hiera_tiny")
    parser.add_argument("--frames", default="20,100", help="comma-separated video lengths N")
    parser.add_argument("--image-size", type=int, default=1024, help="model input size (default 1024, official)")
    parser.add_argument("--frame-size", type=int, default=1024, help="side of the uint16 frames on disk")
    parser.add_argument("--reference", choices=["auto", "on", "off"], default="auto",
                        help="measure the reference too: auto = only for N <= 100 (it holds every frame in memory)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each measured process")
    parser.add_argument("--workdir", help="where to write the zarr and JPEG frames (default: a temporary folder)")
    args = parser.parse_args()
    lengths = sorted(int(n) for n in args.frames.split(","))

    set_threads(args.threads)
    video = DriftingNuclei(args.frame_size, seed=args.seed)
    click = video.clicks[0].tolist()
    rows, ours_peaks, ref_peaks = [], {}, {}
    growths = {"ours": {}, "reference": {}}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        weights = str(Path(tmp) / "weights.pt")
        torch.save(random_state(args.config, args.image_size, args.seed), weights)
        for n in lengths:
            folder = Path(tmp) / f"n{n}"
            video.write_zarr(folder / "frames.zarr", n)
            ours = measure(track_ours, str(folder / "frames.zarr"), weights, args.config, args.image_size, click,
                           threads=args.threads)
            ours_peaks[n], growths["ours"][n] = ours["peak"], ours["growth"]
            row = [n, ours["baseline"], ours["peak"], ours["growth"], ours["per_frame"]]
            print(f"N={n} ours: baseline {ours['baseline']:.0f} MB, peak {ours['peak']:.0f} MB "
                  f"(loading the weights: {ours['setup_peak']:.0f}), {ours['frames']} frames, {ours['seconds']:.0f} s, "
                  f"image encoder ran {ours['encoder_runs']} times", flush=True)
            if args.reference == "on" or (args.reference == "auto" and n <= 100):
                import zarr

                write_jpegs(zarr.open_array(str(folder / "frames.zarr"), mode="r"), folder / "jpg")
                ref = measure(track_reference, str(folder / "jpg"), weights, args.config, args.image_size, click,
                              threads=args.threads)
                ref_peaks[n], growths["reference"][n] = ref["peak"], ref["growth"]
                row += [ref["baseline"], ref["peak"], ref["growth"], ref["per_frame"], ours["peak"] / ref["peak"],
                        ours["growth"] / ref["growth"]]
                print(f"N={n} reference: baseline {ref['baseline']:.0f} MB, peak {ref['peak']:.0f} MB "
                      f"(loading the weights: {ref['setup_peak']:.0f}), {ref['frames']} frames, {ref['seconds']:.0f} s",
                      flush=True)
            else:
                row += ["-"] * 6
            rows.append(row)

    print_table(
        ["N", "ours baseline MB", "ours peak MB", "ours growth MB", "ours s/frame",
         "ref baseline MB", "ref peak MB", "ref growth MB", "ref s/frame", "ours/ref peak", "ours/ref growth"],
        rows,
        title=f"{args.config} at {args.image_size}, {args.frame_size}x{args.frame_size} uint16 frames, 1 object, "
              "each run in a fresh process",
    )
    for name, peaks in (("ours", ours_peaks), ("reference", ref_peaks)):
        if len(peaks) > 1:
            small, large = min(peaks), max(peaks)
            print(f"{name}: peak RSS at N={large} / at N={small} = {peaks[large] / peaks[small]:.3f}", end="")
            print(f" ({name} growth: {growths[name][large]:.0f} MB at N={large}, {growths[name][small]:.0f} MB at N={small})")


if __name__ == "__main__":
    main()
