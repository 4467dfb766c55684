"""Runs another benchmark with cells presented to the model at another size than scale.py's rule
(an experiment on the rule, defaults unchanged): the preferred diameter (28.3 px at a 256 px input)
times `--times`, and, with `--no-fill`, without the rule that an image fitting in one tile is
resampled to fill it. Only the tiled paths (scale.plan_for_cells: TiledVideoTracker, CellTracker,
TiledImagePredictor) follow the rule; the tile halo is one (changed) preferred diameter, as it is.

    python benchmarks/presented_size.py --times 1.25 [--no-fill] -- bench_cell_tracking.py --true-diameter ...

Give the benchmark the cells' true diameter (bench_cell_tracking.py --true-diameter,
bench_real_images.py --tiled) so that the presented size is the one asked for, not the estimate's error.
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

from napari_sam2.engine import scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=float, default=1.0, help="the preferred diameter times this")
    parser.add_argument("--no-fill", action="store_true", help="an image fitting in one tile is not enlarged to fill it")
    parser.add_argument("bench", help="the benchmark script (in benchmarks/), then its arguments after --")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    preferred, times = scale.preferred_cell_diameter, args.times
    scale.preferred_cell_diameter = lambda cfg: times * preferred(cfg)
    if args.no_fill:
        scale.largest_trained_diameter = lambda cfg: 0.0
    print(f"presented size: {args.times:g} x the preferred diameter; filling one tile: {not args.no_fill}", flush=True)
    script = Path(__file__).parent / args.bench
    sys.argv = [str(script), *[a for a in args.bench_args if a != "--"]]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main()
