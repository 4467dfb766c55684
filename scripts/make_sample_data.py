"""Write the small simulated sample files of ``sample_data/`` (time-lapse and z-stack, with ground truth).

Usage (from the repository root):

    python scripts/make_sample_data.py            # writes into sample_data/
    python scripts/make_sample_data.py --out DIR

The files are fully determined by the configurations and seeds below (see sample_data/README.md).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tifffile

from napari_sam2.simulation import SimulationConfig, simulate_timelapse, simulate_zstack, write_lineage

TIMELAPSE_SEED = 2030
ZSTACK_SEED = 7
TIMELAPSE_CONFIG = SimulationConfig(
    height=192, width=256, num_frames=40, num_cells=(10, 10), division_probability=0.012,
)
ZSTACK_CONFIG = SimulationConfig(height=192, width=256, num_frames=24, num_cells=(14, 14))


def _write(path: Path, data: np.ndarray, axes: str) -> None:
    tifffile.imwrite(
        path, data, metadata={"axes": axes}, compression="zlib", compressionargs={"level": 9}, predictor=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sample_data")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"time-lapse: seed {TIMELAPSE_SEED}")
    tl = simulate_timelapse(TIMELAPSE_CONFIG, seed=TIMELAPSE_SEED)
    _write(args.out / "timelapse.tif", tl.frames, "TYX")
    _write(args.out / "timelapse_labels.tif", tl.labels, "TYX")
    write_lineage(args.out / "timelapse_lineage.csv", tl.lineage)
    print(f"z-stack: seed {ZSTACK_SEED}")
    zs = simulate_zstack(ZSTACK_CONFIG, seed=ZSTACK_SEED)
    _write(args.out / "zstack.tif", zs.frames, "ZYX")
    _write(args.out / "zstack_labels.tif", zs.labels, "ZYX")

    n0 = len(np.unique(tl.labels[0])) - 1
    print(f"time-lapse {tl.frames.shape} {tl.frames.dtype}: {n0} cells in frame 0, "
          f"{int(tl.labels.max())} ids in all, {len(tl.lineage) // 2} divisions, lineage {tl.lineage}")
    print(f"z-stack {zs.frames.shape} {zs.frames.dtype}: {len(np.unique(zs.labels)) - 1} cells")
    for name in ("timelapse.tif", "timelapse_labels.tif", "zstack.tif", "zstack_labels.tif"):
        print(f"{name}: {(args.out / name).stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
