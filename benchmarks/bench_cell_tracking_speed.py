"""Frames per second of tracking every cell against the number of cells (issue 18): our automatic
tracker (napari_sam2.engine.cell_tracker.CellTracker, the embedded model, streaming frames) and, in
the same run on the same frames, the laptrack pipeline (Otsu + watershed + laptrack with splitting).

    python benchmarks/bench_cell_tracking_speed.py [--cells 10,50,200] [--frames 10] [--threads 1]

Frames: held-out simulated time-lapses (seed EVALUATION_SEEDS) with N cells on frame 0 and a frame
side that holds them at the simulator's usual density (about AREA_PER_CELL px^2 per cell: 7 cells
in 128 x 128 px). Ours: time from the tracker's construction to its last frame (seeding included)
divided into the frame count; the model's loading is not timed, nor a first warm-up run of each. The laptrack pipeline is timed as
a whole (segmentation and linking), as it needs every frame before it links."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from common import cpu_description, print_table  # before torch: it silences tqdm
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.testing.peer_trackers import laptrack_cells

AREA_PER_CELL = 2300  # px^2 per cell at the simulator's default density (128^2 px / 7 cells)


def frames_with(cells: int, num_frames: int, seed: int) -> tuple[np.ndarray, int]:
    """(frames (T, H, W), true cells on the last frame)."""
    side = int(round(np.sqrt(cells * AREA_PER_CELL) / 8) * 8)
    config = SimulationConfig(height=side, width=side, num_frames=num_frames, num_cells=(cells, cells), enter_rate=0.0)
    sim = simulate_timelapse(config, seed)
    return sim.frames, len(np.unique(sim.labels[-1])) - 1


def ours_fps(model, frames: np.ndarray) -> tuple[float, int]:
    """(frames per second, tracks on the last frame) of CellTracker over `frames`."""
    from napari_sam2.engine.cell_tracker import CellTracker

    start = time.perf_counter()
    tracker = CellTracker(model, frames)
    last = None
    for finished in tracker.run():
        if last is None or finished.frame >= last.frame:  # not an earlier frame revised (CellFrame.again)
            last = finished
    seconds = time.perf_counter() - start
    return len(frames) / seconds, len(np.unique(last.labels)) - 1 if last is not None else 0


def laptrack_fps(frames: np.ndarray) -> tuple[float, int]:
    start = time.perf_counter()
    labels, _ = laptrack_cells(frames)
    return len(frames) / (time.perf_counter() - start), len(np.unique(labels[-1])) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="10,50,200", help="cells on frame 0, comma-separated")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--seed", type=int, default=EVALUATION_SEEDS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", type=Path, default=Path("bench_cell_tracking_speed.json"))
    args = parser.parse_args()
    import torch

    from napari_sam2.engine import load_model

    torch.set_num_threads(args.threads)
    model = load_model(device="cpu")
    print(cpu_description())
    warm_up, _ = frames_with(10, 2, args.seed)  # first calls pay for imports and JIT compilation: untimed
    ours_fps(model, warm_up), laptrack_fps(warm_up)
    rows, results = [], []
    for cells in (int(c) for c in args.cells.split(",")):
        frames, true_cells = frames_with(cells, args.frames, args.seed)
        ours, ours_cells = ours_fps(model, frames)
        peer, peer_cells = laptrack_fps(frames)
        rows.append([cells, f"{frames.shape[2]} x {frames.shape[1]}", true_cells, ours, ours_cells, peer, peer_cells,
                     ours / peer])
        results.append(dict(cells=cells, side=frames.shape[1], frames=args.frames, true_cells_last_frame=true_cells,
                            ours_fps=ours, ours_tracks_last_frame=ours_cells, laptrack_fps=peer,
                            laptrack_cells_last_frame=peer_cells))
        print(f"  {cells} cells: ours {ours:.3g} fps, laptrack {peer:.3g} fps", flush=True)
    print_table(["cells", "frame px", "true cells (last frame)", "ours fps", "ours cells (last frame)", "laptrack fps",
                 "laptrack cells", "ours / laptrack"],
                rows, title=f"{args.frames} frames per time-lapse, {args.threads} torch thread(s)")
    args.json.write_text(json.dumps(dict(cpu=cpu_description(), results=results), indent=1))


if __name__ == "__main__":
    main()
