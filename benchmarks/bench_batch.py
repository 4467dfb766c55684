"""Wall time of `napari_sam2.batch.track_files` over 8 small time-lapses with 1 and with 2 worker
processes of a LocalCluster (1 torch thread each), and the ratio (issue 20). The time runs from
submitting the jobs to the last result: each worker's model load is in it, the cluster's start is
not. Files: synthetic nuclei (napari_sam2.testing.synthetic), one click per nucleus on frame 0.

    python benchmarks/bench_batch.py [--files 8] [--frames 8] [--height 192] [--width 256]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from common import cpu_description
from napari_sam2.batch import local_client, track_files
from napari_sam2.evaluation import central_click
from napari_sam2.testing.synthetic import moving_nuclei_video


def write_plate(folder: Path, files: int, frames: int, height: int, width: int) -> None:
    (folder / "images").mkdir(parents=True)
    (folder / "clicks").mkdir()
    for i in range(files):
        video, labels = moving_nuclei_video(frames, height, width, 4, seed=i, leaving=False)
        tifffile.imwrite(folder / "images" / f"well{i}.tif", video, photometric="minisblack")
        rows = [f"{j},{x},{y}" for j in np.unique(labels[0])[1:] for x, y in [central_click(labels[0] == j)[0]]]
        (folder / "clicks" / f"well{i}.csv").write_text("obj_id,x,y\n" + "\n".join(rows) + "\n")


def wall_time(folder: Path, workers: int) -> tuple[float, float]:
    """Seconds from submission to the last result, and the jobs' tracking seconds summed (their
    ratio is how many jobs ran at once, on average; each slower if the cores are shared)."""
    with local_client(workers) as client:
        start = time.perf_counter()
        rows = track_files([folder / "images"], folder / f"out_{workers}", client,
                           points_dir=folder / "clicks", torch_threads=1, progress=False)
        seconds = time.perf_counter() - start
    failed = [r for r in rows if r.status != "done"]
    assert not failed, failed
    return seconds, sum(r.seconds for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args()
    print(cpu_description())
    with tempfile.TemporaryDirectory() as tmp:
        write_plate(Path(tmp), args.files, args.frames, args.height, args.width)
        times = {workers: wall_time(Path(tmp), workers) for workers in (1, 2)}
    print(f"\n{args.files} files of {args.frames} frames, {args.height} x {args.width}, embedded model, "
          "1 torch thread per worker\n")
    print("| workers | wall time, s | files/s | tracking s summed over jobs |\n|---|---|---|---|")
    for workers, (seconds, tracking) in times.items():
        print(f"| {workers} | {seconds:.1f} | {args.files / seconds:.2f} | {tracking:.1f} |")
    print(f"\nspeed-up with 2 workers: {times[1][0] / times[2][0]:.2f} x; load average now "
          f"{os.getloadavg()[0]:.1f} (other processes share the cores)")


if __name__ == "__main__":
    main()
