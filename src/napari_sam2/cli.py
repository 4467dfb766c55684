"""Headless commands over the engine and storage (no napari):

    napari-sam2 track IMAGE.tif --out masklets.zarr [--truth LABELS.tif --lineage L.csv]
    napari-sam2 track IMAGE.tif --out masklets.zarr --points clicks.csv
    napari-sam2 track IMAGE.tif --auto --out cells.zarr [--ctc 01_RES] [--geff cells.geff] [--csv cells.csv]
                                [--seeds LABELS.tif] [--truth LABELS.tif --lineage L.csv]
    napari-sam2 export cells.zarr [--ctc 01_RES] [--geff cells.geff] [--csv cells.csv --image IMAGE.tif]
    napari-sam2 segment IMAGE.tif --points clicks.csv --out labels.tif [--cell-diameter D]
    napari-sam2 batch plate/*.tif --points-dir clicks/ --out tracked/ [--scheduler tcp://host:8786]
    napari-sam2 convert-store OLD.zarr NEW.zarr

(`napari-sam2` is the installed console script; `python -m napari_sam2` is the same.)

Tracks every object of the ground truth (one click at its centre: for a time-lapse the objects
of frame 0, clicked there; for a z-stack every object, on the slice where it is largest), or the
clicks of a CSV file (see click_table.py), through the whole stack, writes the label stack to a
Zarr store frame by frame, and, with --truth, prints J&F per object and averaged. The store is
OME-Zarr 0.5 with the TIFF's axis ("t", or "z" for an ImageJ/OME z-stack), pixel sizes and units.

With --auto (or --seeds) every cell is tracked, with no clicks: found by the model on the first
frame, entering later, dividing (a daughter gets a new id, its parent recorded); the lineage is
kept in the store, and written with the labels as a Cell Tracking Challenge folder, GEFF and a
CSV of per-cell measurements; with --truth (and --lineage), the result is scored afterwards as the
Cell Tracking Challenge scores it (TRA, DET, LNK, SEG, divisions): the truth is not used to track.
`export` writes those outputs again from a store (e.g. after corrections).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import tifffile
import torch

from .click_table import Click, ClickTableError, read_clicks
from .engine.clicked_outlines import grown_into_cells, written_as_given
from .engine.frames import open_image_frames, open_tiff_frames
from .engine.image_layout import check_channels, image_layout
from .engine.label_rule import winning_labels
from .engine.postprocess import add_cleanup_flag
from .engine.scale import check_cell_diameter
from .engine.tiled_predictor import TiledImagePredictor
from .engine.tiling import LocalLogits
from .file_tracking import BadClick, axis_assumed, model_from, track_cells_file, track_file
from .storage.labels_store import LabelsStore
from .storage.labels_tiff import check_tiff_replaceable, write_labels_tiff
from .storage.store_edits import store_lineage
from .storage.store_opening import check_replaceable, convert_legacy_store
from .storage.tiff_geometry import STACK_AXES, tiff_geometry
from .storage.tracking_outputs import TrackingOutputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="napari-sam2", description="(also: python -m napari_sam2)")
    sub = parser.add_subparsers(required=True)
    track = sub.add_parser("track", help="track the cells of a time-lapse (or z-stack) TIFF")
    track.add_argument("image", type=Path, help="a TIFF (time-lapse, z-stack or one image) or an OME-Zarr image folder")
    track.add_argument("--out", type=Path, required=True,
                       help="Zarr store for the label stack (a new folder; it appears when tracking ends)")
    track.add_argument("--overwrite", action="store_true",
                       help="replace the napari-sam2 labels store already at --out (anything else is never replaced)")
    track.add_argument("--truth", type=Path,
                       help="label stack TIFF: clicks from it (z-stack: each object's largest slice), and J&F; "
                            "with --auto, only to score the result (Cell Tracking Challenge TRA, DET, SEG, divisions)")
    track.add_argument("--points", type=Path,
                       help="CSV of clicks (instead of --truth): obj_id,x,y per line (header optional; optional "
                            "columns frame, positive), or the CSV napari saves for a Points layer")
    track.add_argument("--lineage", type=Path, help="CSV daughter,parent: after a division, truth = descendants")
    track.add_argument("--auto", action="store_true",
                       help="track every cell, with no clicks: cells found by the model, new cells, divisions")
    track.add_argument("--seeds", type=Path,
                       help="with --auto: a label TIFF of the first frame (H, W) or of every frame (T, H, W), e.g. "
                            "cellpose output, instead of finding the cells with the model")
    _add_output_arguments(track)
    track.add_argument("--cell-diameter", type=float, default=None,
                       help="a typical cell's width in pixels (default: estimated from the frames, and printed)")
    track.add_argument("--axis", choices=STACK_AXES, default=None,
                       help="what the stack's first axis is: t (a time-lapse; cells divide) or z (a z-stack: 3-D "
                            "labels, no divisions); default: as the TIFF's ImageJ or OME metadata says, else t")
    _add_channels(track)
    _add_max_projection(track)
    track.add_argument("--model", default=None, help="official name or checkpoint path (default: embedded)")
    track.add_argument("--threads", type=int, default=2)
    _add_precision(track)
    add_cleanup_flag(track)
    track.set_defaults(run=_track)
    segment = sub.add_parser("segment", help="segment the clicked cells of one image (any size) into a labels TIFF")
    segment.add_argument("image", type=Path, help="one 2-D image (TIFF or OME-Zarr; with channels, or RGB)")
    segment.add_argument("--points", type=Path, required=True,
                         help="CSV of clicks: obj_id,x,y per line (header optional; optional column positive), "
                              "or the CSV napari saves for a Points layer")
    segment.add_argument("--out", type=Path, required=True, help="labels TIFF to write (a new file)")
    segment.add_argument("--overwrite", action="store_true",
                         help="replace the labels TIFF napari-sam2 wrote at --out (anything else is never replaced)")
    segment.add_argument("--cell-diameter", type=float, default=None,
                         help="a typical cell's width in pixels (default: estimated from the image)")
    segment.add_argument("--model", default=None, help="official name or checkpoint path (default: embedded)")
    segment.add_argument("--threads", type=int, default=2)
    _add_precision(segment)
    _add_channels(segment)
    add_cleanup_flag(segment)
    segment.add_argument("--single-view", dest="averaged_views", action="store_false", default=None,
                         help="the model's masks of the image alone (default for models of input <= 512 px, the "
                              "embedded one: averaged over the image, its mirror images and these moved by half a "
                              "patch: better masks, at 8 times the embedding time)")
    segment.set_defaults(run=_segment)
    batch = sub.add_parser("batch", help="track many time-lapse TIFFs, one job per file, on a Dask cluster",
                           description="Tracks each TIFF into OUT/<file stem>.zarr on a local Dask cluster, or on "
                                       "the one at --scheduler. A file whose store is already in OUT is skipped: run "
                                       "the command again to resume. Clicks come from CSV files, or --auto tracks "
                                       "every cell with its lineage.")
    batch.add_argument("inputs", nargs="+",
                       help="TIFF files or OME-Zarr images, folders of them, or glob patterns ('plate/*.tif')")
    batch.add_argument("--out", type=Path, required=True, help="folder for the stores, one <file stem>.zarr per file")
    clicks = batch.add_mutually_exclusive_group(required=True)
    clicks.add_argument("--points-dir", type=Path, help="folder of <file stem>.csv click files (forms as track --points)")
    clicks.add_argument("--points", type=Path, help="one click CSV for every file (forms as track --points)")
    clicks.add_argument("--auto", action="store_true", help="track every cell with no clicks, as track --auto")
    batch.add_argument("--seeds-dir", type=Path,
                       help="with --auto: folder of <file stem>.tif label files (first frame or every frame) as seeds")
    batch.add_argument("--lineage-outputs", default="",
                       help="with --auto: comma-separated of ctc,geff,csv, written as OUT/<stem>_RES, OUT/<stem>.geff, "
                            "OUT/<stem>.csv")
    batch.add_argument("--cell-diameter", type=float, default=None,
                       help="a typical cell's width in pixels, the same for every file (default: estimated from each "
                            "file's frames, as track does; the table shows the one used)")
    batch.add_argument("--axis", choices=STACK_AXES, default=None,
                       help="what every stack's first axis is: t (time-lapses) or z (z-stacks: 3-D labels, no "
                            "divisions); default: as each TIFF's ImageJ or OME metadata says, else t")
    batch.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786); default: a "
                                           "local cluster on this machine")
    batch.add_argument("--workers", type=int, default=None,
                       help="local worker processes, each tracking one file at a time (default: cores / threads)")
    batch.add_argument("--threads-per-worker", type=int, default=1, dest="threads",
                       help="torch threads of each job (default 1)")
    _add_channels(batch)
    _add_max_projection(batch)
    batch.add_argument("--model", default=None, help="official name or checkpoint path (default: embedded)")
    _add_precision(batch)
    batch.set_defaults(run=_batch)
    export = sub.add_parser("export", help="write the CTC folder, GEFF or CSV of a store tracked with --auto")
    export.add_argument("store", type=Path, help="a labels store with a lineage (track --auto, or the napari plugin)")
    export.add_argument("--image", type=Path, help="the TIFF the store was tracked on: the CSV's mean intensities")
    export.add_argument("--overwrite", action="store_true",
                        help="replace outputs napari-sam2 wrote before (anything else is never replaced)")
    _add_output_arguments(export)
    export.set_defaults(run=_export, threads=1)
    convert = sub.add_parser("convert-store",
                             help="copy a labels store of napari-sam2 0.1 into the OME-Zarr 0.5 layout")
    convert.add_argument("old", type=Path)
    convert.add_argument("new", type=Path)
    convert.set_defaults(run=_convert_store, threads=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_as_interrupted)
    try:
        return args.run(args)
    except FileExistsError as error:
        print(error, file=sys.stderr)
        return 2


def _stop_as_interrupted(signum, frame) -> None:
    """SIGTERM (kill, timeout, a cluster's time limit) ends a run as Ctrl-C does: what it was
    writing is removed (storage.output_place) and nothing half-written is left at --out."""
    raise SystemExit(128 + signum)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ctc", type=Path, help="Cell Tracking Challenge result folder (maskTTT.tif, res_track.txt)")
    parser.add_argument("--geff", type=Path, help="GEFF zarr of the lineage graph (a node per cell per frame)")
    parser.add_argument("--csv", type=Path,
                        help="CSV of per-cell, per-frame measurements (frame, track_id, parent, y, x, area, "
                             "mean_intensity)")


def _outputs(args) -> TrackingOutputs:
    return TrackingOutputs(args.ctc, args.geff, args.csv, args.overwrite)


def _add_channels(command) -> None:
    command.add_argument("--channels", type=_channel_list, default=None,
                         help="the channels the model sees, numbered from 0: the one that shows the cells (e.g. 0), or up "
                              "to three merged, the brightest at each pixel (e.g. 0,1); needed for a TIFF of several "
                              "microscope channels (axis C); default: the image as it is (grey, or an RGB image)")


def _add_max_projection(command) -> None:
    command.add_argument("--max-projection", action="store_true",
                         help="a time-lapse of z-stacks (T, Z, Y, X): track each time point's maximum-intensity "
                              "projection along Z (2-D labels over time)")


def _channel_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: channel numbers separated by commas, e.g. 0 or 0,1") from None


def _add_precision(command) -> None:
    command.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                         help="numbers the model computes with; auto (default): bfloat16 where this machine runs it "
                              "fast (a GPU with bfloat16, a CPU with AMX or fast AVX-512 BF16), float32 elsewhere")


def _track(args) -> int:
    if args.auto or args.seeds:
        return _track_cells(args)
    if args.ctc or args.geff or args.csv:
        print("--ctc, --geff and --csv describe a lineage: add --auto to track every cell", file=sys.stderr)
        return 2
    if args.truth is None and args.points is None:
        print("give --truth (a label stack) or --points (obj_id,x,y per line) to say what to track", file=sys.stderr)
        return 2
    check_replaceable(args.out, args.overwrite)  # before any work: the answer may be no
    truth = open_tiff_frames(args.truth) if args.truth else None
    try:  # the clicks and the diameter first: bad input is reported before the model loads
        tracked_axis = tiff_geometry(args.image, axis=args.axis)["axes"][0]
        clicks = _clicks_from_truth(truth, tracked_axis) if truth is not None else read_clicks(args.points)
        if args.cell_diameter is not None:
            check_cell_diameter(args.cell_diameter)
        _say_if_axis_assumed(args)
    except (ClickTableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        tracked = track_file(args.image, args.out, clicks, model_from(args.model), args.overwrite,
                             keep_masks=truth is not None, cell_diameter=args.cell_diameter,
                             precision=args.precision, cleanup=args.cleanup, axis=args.axis, channels=args.channels,
                             max_projection=args.max_projection)
    except BadClick as error:  # a click outside the image or the frames: nothing written
        print(f"error: {args.points or args.truth}: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # a diameter the frames cannot take, no cells to estimate it from: nothing written
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(tracked.describe_scale())
    print(f"tracked {len(tracked.objects)} objects through {tracked.frames} frames in {tracked.seconds:.1f} s "
          f"({tracked.frames / tracked.seconds:.1f} frames/s, {tracked.precision}); labels written to {args.out}")
    if truth is not None:
        print(_score_table(tracked.masks, truth, args.lineage))
    return 0


def _track_cells(args) -> int:
    if args.points:
        print("--auto tracks every cell without clicks: leave out --points (or --auto)", file=sys.stderr)
        return 2
    check_replaceable(args.out, args.overwrite)  # before any work: the answer may be no
    _outputs(args).check()
    try:
        if args.truth is not None and _shape_of(args.truth) != _shape_of(args.image):
            print(f"error: the truth {args.truth} has shape {_shape_of(args.truth)} but the image "
                  f"{_shape_of(args.image)}: give the label stack of this very image", file=sys.stderr)
            return 2
        if args.cell_diameter is not None:  # before the model loads
            check_cell_diameter(args.cell_diameter)
        _say_if_axis_assumed(args)
        done = track_cells_file(args.image, args.out, model_from(args.model), _outputs(args), args.seeds,
                                args.overwrite, precision=args.precision, cell_diameter=args.cell_diameter,
                                axis=args.axis, channels=args.channels, max_projection=args.max_projection)
    except ValueError as error:  # bad seeds or diameter, an image the model cannot read: no store written
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(done.describe_scale())
    print(f"tracked {done.tracks} tracks ({done.divisions} divisions) through {done.frames} frames in "
          f"{done.seconds:.1f} s ({done.frames / done.seconds:.1f} frames/s, {done.precision}); labels and lineage "
          f"written to {args.out}"
          + "".join(f"; {path}" for path in done.written))
    if args.truth:
        print(_cell_tracking_scores(args.out, args.truth, args.lineage))
    return 0


AXIS_ASSUMED = ("the file does not say what its images are along: they are tracked as a time-lapse (cells divide); "
                "for a z-stack give --axis z (3-D labels, no divisions), or --axis t to say it is a time-lapse")


def _say_if_axis_assumed(args) -> None:
    """Tells, before the work, that a plain multi-page TIFF's frames are taken as time (file_tracking.axis_assumed)."""
    if axis_assumed(args.image, axis=args.axis, channels=args.channels, max_projection=args.max_projection):
        print(f"note: {args.image}: {AXIS_ASSUMED}", file=sys.stderr, flush=True)


def _shape_of(tiff: Path) -> tuple[int, ...]:
    frames = open_image_frames(tiff)
    return (len(frames), *frames.frame_shape[:2])  # the image's channels aside


def _cell_tracking_scores(store_path: Path, truth_path: Path, lineage_csv: Path | None) -> str:
    """The Cell Tracking Challenge scores of the store's labels and lineage against the truth (the
    truth plays no part in the tracking: it is read only now)."""
    from .engine.cell_lineage import Lineage
    from .evaluation.tracking_metrics import tracking_scores
    from .simulation import read_lineage

    store = LabelsStore.open(store_path, mode="r")
    truth = tifffile.imread(truth_path)
    scores = tracking_scores(store.array[:], store_lineage(store), truth,
                             Lineage.from_labels(truth, read_lineage(lineage_csv)))
    d = scores.divisions
    return (f"Cell Tracking Challenge scores against {truth_path}: TRA {scores.tra:.3f}, DET {scores.det:.3f}, "
            f"SEG {scores.seg:.3f}, LNK {scores.lnk:.3f}; divisions: {d.found} of {d.true} found, "
            f"{d.predicted} predicted (precision {d.precision:.3f}, recall {d.recall:.3f}, F1 {d.f1:.3f})")


def _export(args) -> int:
    outputs = _outputs(args)
    if outputs == TrackingOutputs(overwrite=args.overwrite):
        print("say what to write: --ctc, --geff and/or --csv", file=sys.stderr)
        return 2
    outputs.check()
    try:
        store = LabelsStore.open(args.store, mode="r")
        written = outputs.write(store, store_lineage(store), open_image_frames(args.image) if args.image else None)
    except (ValueError, FileNotFoundError) as error:  # no store, no lineage, an image of another size, ...
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"written from {args.store}: " + ", ".join(str(path) for path in written))
    return 0


def _segment(args) -> int:
    check_tiff_replaceable(args.out, args.overwrite)  # before any work: the answer may be no
    try:  # the clicks and the diameter first: bad input is reported before the model loads
        image = _one_image(args.image, args.channels)
        clicks = _clicks_by_object(read_clicks(args.points))
        predictor_args = {} if args.cell_diameter is None else {"cell_diameter": check_cell_diameter(args.cell_diameter)}
    except (ClickTableError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    predictor = TiledImagePredictor(model_from(args.model), precision=args.precision, cleanup=args.cleanup,
                                    averaged_views=args.averaged_views, **predictor_args)
    try:
        predictor.set_image(image, channels=args.channels)
        objects = {obj_id: _best_mask(predictor, group) for obj_id, group in clicks.items()}
    except ValueError as error:  # a click outside the image, an image the model cannot read: nothing written
        print(f"error: {error}", file=sys.stderr)
        return 2
    labels = winning_labels(predictor.plan.image_hw, objects)
    if predictor.outline_image() is not None:  # as the plugin writes clicks: grown to the cells' outlines
        given = written_as_given((c.obj_id, c.positive) for group in clicks.values() for c in group)
        labels = grown_into_cells(labels, set(objects) - given, predictor.outline_image())
    write_labels_tiff(args.out, labels, overwrite=args.overwrite)
    print(f"segmented {len(objects)} objects (cell diameter {predictor.cell_diameter_used:.1f} px"
          f"{'' if args.cell_diameter else ', estimated'}; {len(predictor.tiles_embedded)} of "
          f"{len(predictor.plan.tiles)} tiles embedded); labels written to {args.out}")
    return 0


def _one_image(path: Path, channels: tuple[int, ...] | None) -> np.ndarray:
    """(H, W) or (H, W, C): the one image of a TIFF (its axes as engine.image_layout reads them), its channels checked."""
    layout = image_layout(path)
    check_channels(layout, channels, str(path), frames_possible=False)
    frames = open_image_frames(path, layout=layout)
    if len(frames) != 1:
        raise ValueError(f"{path} holds {len(frames)} images (axes {layout.axes}, shape {layout.shape}); segment reads "
                         "one: track them all (napari-sam2 track), or save the one to segment as a TIFF of its own")
    return frames[0]


def _clicks_by_object(clicks: list[Click]) -> dict[int, list[Click]]:
    """Each object's clicks; segment reads one image, so every click must be on frame 0."""
    by_object: dict[int, list[Click]] = {}
    for click in clicks:
        if click.frame != 0:
            raise ValueError(f"object {click.obj_id} has a click on frame {click.frame}, but segment reads one image "
                             "(frame 0); use track for a time-lapse or z-stack")
        by_object.setdefault(click.obj_id, []).append(click)
    return by_object


def _best_mask(predictor: TiledImagePredictor, group: list[Click]) -> LocalLogits:
    """The object's best-scored mask (of 3 for one click, the only one for several)."""
    local, prediction = predictor.predict_local([[c.x, c.y] for c in group], [int(c.positive) for c in group],
                                                multimask=len(group) == 1)
    best = prediction.best
    return LocalLogits(local.box, local.logits[best:best + 1])


def _batch(args) -> int:
    from .batch import default_workers, format_rows, local_client, track_files

    if args.scheduler:
        from dask.distributed import Client

        cluster = Client(args.scheduler)
    else:
        cluster = local_client(args.workers or default_workers(args.threads))
    with cluster as client:
        print(f"Dask dashboard: {client.dashboard_link}", flush=True)
        try:
            rows = track_files(args.inputs, args.out, client, args.points_dir, args.points, args.model, args.threads,
                               precision=args.precision, auto=args.auto, seeds_dir=args.seeds_dir,
                               lineage_outputs=tuple(kind for kind in args.lineage_outputs.split(",") if kind),
                               cell_diameter=args.cell_diameter, axis=args.axis, channels=args.channels,
                               max_projection=args.max_projection)
        except (ValueError, FileNotFoundError) as error:  # what to track, a bad diameter, inputs that are not there
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(format_rows(rows))
    if any(row.along and row.along.endswith("(assumed)") for row in rows):
        print(f"note: along t (assumed): {AXIS_ASSUMED}", file=sys.stderr)
    failed = sum(row.status.startswith("failed") for row in rows)
    print(f"{len(rows) - failed} of {len(rows)} files tracked or already there; stores in {args.out}")
    return 1 if failed else 0


def _convert_store(args) -> int:
    store = convert_legacy_store(args.old, args.new)
    print(f"{args.old} copied into {args.new}: labels {store.shape} ({store.axes}), prompts; {args.old} is unchanged")
    return 0


def _clicks_from_truth(truth, tracked_axis: str) -> list[Click]:
    """One click per object at its centre. Along z, every object of the stack on the slice where
    it is largest (most nuclei are absent from the first slice); along t, the objects of frame 0
    on frame 0 (cells born later are scored as their parent's descendants)."""
    from .evaluation import central_click

    if tracked_axis != "z":
        first = np.asarray(truth[0])
        return [Click(0, int(i), *central_click(first == i)[0], positive=True) for i in np.unique(first) if i > 0]
    stack = np.stack([np.asarray(truth[z]) for z in range(len(truth))])  # (Z, H, W)
    areas = np.stack([np.bincount(plane.ravel(), minlength=int(stack.max()) + 1) for plane in stack])  # (Z, ids)
    largest = {int(i): int(np.argmax(areas[:, i])) for i in np.unique(stack) if i > 0}
    return [Click(z, i, *central_click(stack[z] == i)[0], positive=True) for i, z in largest.items()]


def _score_table(predicted: dict[int, np.ndarray], truth, lineage_csv: Path | None) -> str:
    """J&F per object and their mean; after a division, an object's truth is its descendants."""
    from .evaluation import format_table, object_scores
    from .simulation import family_masks, read_lineage

    stack = np.stack([np.asarray(truth[t]) for t in range(len(truth))])
    truths = family_masks(stack, read_lineage(lineage_csv), predicted)
    return format_table(object_scores(predicted, truths), first_column="object")
