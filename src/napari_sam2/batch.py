"""Many time-lapses tracked on a Dask cluster, one job per TIFF file:

    napari-sam2 batch plate/*.tif --points-dir clicks/ --out tracked/ [--scheduler tcp://host:8786]

Each job writes OUT_DIR/<stem>.zarr through file_tracking.track_file (the `track` command's job),
so a store appears only when its file is tracked to the end. A multi-series (multi-position
OME-) TIFF gives a job per series, OUT_DIR/<stem>_s<k>.zarr. A job whose store is already there
is skipped (run the command again to resume); a worker that dies has its job run again
elsewhere by the scheduler (what the dead worker had half-written is deleted first); a file that
fails fails alone, with its error in the table. The progress bar counts frames across jobs, as
the workers report them.
"""
from __future__ import annotations

import glob
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
from dask.distributed import Client, LocalCluster, Queue
from tqdm import tqdm

from .click_table import read_clicks
from .engine.frames import open_image_frames
from .engine.image_layout import check_channels, is_ome_zarr
from .engine.scale import check_cell_diameter
from .file_tracking import axis_assumed, cached_model, file_layout, track_cells_file, track_file
from .storage.geff_file import geff_kind
from .storage.labels_store import LabelsStore, is_labels_store
from .storage.store_edits import store_lineage
from .storage.store_opening import remove_abandoned_partials
from .storage.tiff_geometry import STACK_AXES, tiff_series_frames
from .storage.tracking_outputs import TrackingOutputs

TIFF_SUFFIXES = (".tif", ".tiff")
RETRIES = 1  # an error raised by a job is tried once more (a worker that dies: the scheduler's allowed-failures)


@dataclass(frozen=True)
class JobRow:
    file: str
    frames: int | None
    objects: int | None
    seconds: float | None
    status: str  # "done", "skipped (already tracked)" or "failed: <the error>"
    cell_diameter: float | None = None  # px of the image, as the tracker used it (None: not tracked in this run)
    cell_diameter_estimated: bool = False  # from the frames, as none was given
    along: str | None = None  # what the frames are along: "t" or "z", "t (assumed)" where the file does not say

    @property
    def shown_diameter(self) -> str:
        if self.cell_diameter is None:
            return "-"
        return f"{self.cell_diameter:.1f} ({'estimated' if self.cell_diameter_estimated else 'given'})"


LINEAGE_OUTPUTS = ("ctc", "geff", "csv")  # what an automatic job can write beside its store


@dataclass(frozen=True)
class Job:
    image: Path
    points: Path | None  # the clicks; None: every cell tracked automatically
    out: Path
    series: int = 0  # the image series of a multi-series TIFF
    frames: int = 0  # as the file's header says (0 if it cannot be read: the job will fail and say why)
    seeds: Path | None = None  # automatic: a label TIFF of the first frame or every frame (else the model finds cells)
    lineage_outputs: tuple[str, ...] = ()  # automatic: of LINEAGE_OUTPUTS, written as OUT/<name>_RES, .geff, .csv
    cell_diameter: float | None = None  # px of the image; None: estimated from the frames, as `track` does
    tracked_before: bool = False  # its store was there when the batch was planned (else this batch tracks it)
    axis: str | None = None  # the stack's first axis, "t" or "z"; None: as the TIFF says (storage.tiff_geometry)
    channels: tuple[int, ...] | None = None  # those the model sees (engine.image_layout.check_channels)
    max_projection: bool = False  # a time-lapse of z-stacks: each time point's maximum-intensity projection

    def frames_read(self):
        """The job's frames as its tracking read them (a projection where asked), for the outputs' intensities."""
        return open_image_frames(self.image, series=self.series, layout=self.layout())

    def layout(self):
        """How the job reads its file (file_tracking.file_layout)."""
        return file_layout(self.image, self.series, self.axis, self.channels, self.max_projection)

    @property
    def auto(self) -> bool:
        return self.points is None

    def outputs(self, only_missing: bool = False) -> TrackingOutputs:
        """The lineage outputs asked for, beside the store (only those not there yet: a job killed
        after its store appeared, run again, writes the rest)."""
        paths = {"ctc": self.out.with_name(f"{self.name}_RES"), "geff": self.out.with_name(f"{self.name}.geff"),
                 "csv": self.out.with_name(f"{self.name}.csv")}
        wanted = {kind: paths[kind] for kind in self.lineage_outputs if not (only_missing and paths[kind].exists())}
        return TrackingOutputs(**wanted)

    @property
    def name(self) -> str:
        return self.out.name.removesuffix(".zarr")

    @property
    def shown(self) -> str:
        """The file (and series) as the table shows it."""
        return str(self.image) if self.out.name == f"{image_name(self.image)}.zarr" else f"{self.image} [series {self.series}]"


def image_name(image: Path) -> str:
    """The name a file's outputs take: a TIFF's stem, an OME-Zarr image's name without .zarr and .ome."""
    return image.name.removesuffix(".zarr").removesuffix(".ome") if is_ome_zarr(image) else image.stem


def tiff_inputs(inputs: list[str | Path]) -> list[Path]:
    """The images named by `inputs`: TIFF files or OME-Zarr images, folders (their images, not
    recursing: folder_images) or glob patterns."""
    found: list[Path] = []
    for given in map(str, inputs):
        if Path(given).is_dir():
            found += [Path(given)] if is_ome_zarr(given) else folder_images(Path(given))
        elif Path(given).exists():
            found.append(Path(given))
        elif matches := sorted(glob.glob(given)):
            found += [Path(p) for p in matches]
        else:
            raise FileNotFoundError(f"{given}: no such file or folder, and no file matches it as a pattern")
    return list(dict.fromkeys(found))  # a file named twice is tracked once


def folder_images(folder: Path) -> list[Path]:
    """A folder's TIFFs and OME-Zarr images, but not hidden files (a Mac's "._" copies on a shared
    drive, outputs being written) nor the outputs napari-sam2 wrote beside them (labels stores, GEFFs:
    Zarr folders too)."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and (
        p.suffix.lower() in TIFF_SUFFIXES or (is_ome_zarr(p) and not is_labels_store(p) and geff_kind(p) != "ours")))


def plan_jobs(images: list[Path], out_dir: Path, points_dir: Path | None = None, points: Path | None = None,
              auto: bool = False, seeds_dir: Path | None = None, lineage_outputs: tuple[str, ...] = (),
              cell_diameter: float | None = None, axis: str | None = None,
              channels: tuple[int, ...] | None = None, max_projection: bool = False) -> list[Job]:
    """A job per image, or per series of a multi-series TIFF (named <stem>_s<k>): its clicks are
    `points` (the same for every job) or `points_dir/<job name>.csv`; or, with `auto`, every cell
    is tracked (seeds from `seeds_dir/<job name>.tif` if given) and `lineage_outputs` are written.
    A `cell_diameter` given is checked (scale.check_cell_diameter) against every job's frames here,
    before any job starts; None: each job estimates its own, as `track` does. axis: every file's
    first axis, "t" or "z" (None: as each TIFF says). channels: those the model sees in every file,
    checked here against each file's (image_layout.check_channels) before any job starts;
    max_projection: each time point of a time-lapse of z-stacks is its maximum-intensity projection."""
    if axis is not None and axis not in STACK_AXES:
        raise ValueError(f"axis {axis!r}: the stacks' first axis is 't' (time-lapses) or 'z' (z-stacks)")
    if cell_diameter is not None:
        cell_diameter = check_cell_diameter(cell_diameter)  # before reading any file
    if sum((points_dir is not None, points is not None, auto)) != 1:
        raise ValueError("say what to track: one click CSV for every file (points), a folder of <file stem>.csv "
                         "files (points_dir), or every cell automatically (auto) - one of the three")
    unknown = set(lineage_outputs) - set(LINEAGE_OUTPUTS)
    if unknown or (lineage_outputs and not auto):
        raise ValueError(f"lineage outputs are {LINEAGE_OUTPUTS}, written by automatic tracking only; got "
                         f"{lineage_outputs} with auto={auto}")
    jobs = []
    for image in images:
        series_frames = _series_frames(image)
        stem = image_name(image)
        names = [stem] if len(series_frames) == 1 else [f"{stem}_s{k}" for k in range(len(series_frames))]
        for k, (name, frames) in enumerate(zip(names, series_frames)):
            clicks = None if auto else points or points_dir / f"{name}.csv"
            seeds = seeds_dir / f"{name}.tif" if seeds_dir is not None else None
            out = out_dir / f"{name}.zarr"
            jobs.append(Job(image, clicks, out, k, frames, seeds, tuple(lineage_outputs), cell_diameter,
                            is_labels_store(out), axis, channels, max_projection))
    names = [job.name for job in jobs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"files with the same name {twice} would write the same store in {out_dir}: "
                         "give them different names or track them into different folders")
    for job in jobs:
        _check_channels(job)
        if cell_diameter is not None:
            _check_diameter_fits(job)
    return jobs


def _check_channels(job: Job) -> None:
    """The channels asked for checked against the job's file (one that cannot be read here is left
    to its job, which fails and says why)."""
    try:
        layout = job.layout()
    except ValueError:
        return
    try:
        check_channels(layout, job.channels, job.shown)
    except ValueError as error:
        raise ValueError(f"{error}{'' if job.channels else ' (for every file of the batch)'}") from None


def _check_diameter_fits(job: Job) -> None:
    """The job's cell diameter checked against its frames (a file that cannot be read here is
    left to its job, which fails and says why)."""
    try:
        frame_hw = job.frames_read().frame_shape[:2]  # as the job reads it (a projection where asked)
    except Exception:  # noqa: BLE001 - any unreadable file: the job itself reports the error
        return
    try:
        check_cell_diameter(job.cell_diameter, frame_hw)
    except ValueError as error:
        raise ValueError(f"{job.shown}: {error}") from None


def _series_frames(image: Path) -> list[int]:
    """Frames per series; [0] for a file that cannot be read here (its job fails with the reason)."""
    try:
        return tiff_series_frames(image)
    except Exception:  # noqa: BLE001 - any unreadable file: the job itself reports the error
        return [0]


def run_job(job: Job, model: str | None, torch_threads: int, progress_queue: str | None = None,
            precision: str = "auto") -> JobRow:
    """One file (series), on a worker: skipped if its store is there (it appears only once
    complete). Frames done go to the Dask queue named `progress_queue` as (job name, frames).
    precision "auto" is decided by each worker for its own machine. A job run again by the
    scheduler after its result was lost with a worker (the store made by this batch) is "done",
    though what its result told (objects, seconds, the diameter) is lost with it."""
    if is_labels_store(job.out):
        store = LabelsStore.open(job.out, mode="r")
        if job.auto:  # outputs a killed job had not written yet
            job.outputs(only_missing=True).write(store, store_lineage(store), job.frames_read())
        _report(progress_queue, job, store.shape[0])
        return JobRow(job.shown, store.shape[0], None, None, "skipped (already tracked)" if job.tracked_before else "done",
                      along=_frames_along(job))
    remove_abandoned_partials(job.out)  # a worker that died on this job: nobody else writes job.out
    torch.set_num_threads(torch_threads)
    return replace(_tracked(job, model, precision, partial(_report, progress_queue, job)), along=_frames_along(job))


def _tracked(job: Job, model: str | None, precision: str, on_frame) -> JobRow:
    """The job tracked into its store (which is not there yet)."""
    if job.auto:
        cells = track_cells_file(job.image, job.out, cached_model(model), job.outputs(only_missing=True), job.seeds,
                                 progress=False, series=job.series, on_frame=on_frame, precision=precision,
                                 cell_diameter=job.cell_diameter, axis=job.axis, channels=job.channels,
                                 max_projection=job.max_projection)
        return JobRow(job.shown, cells.frames, cells.tracks, cells.seconds, "done", cells.cell_diameter,
                      cells.cell_diameter_estimated)
    clicks = read_clicks(job.points)  # before the model: a bad file is refused at once
    tracked = track_file(job.image, job.out, clicks, cached_model(model), progress=False, series=job.series,
                         on_frame=on_frame, precision=precision, cell_diameter=job.cell_diameter, axis=job.axis,
                         channels=job.channels, max_projection=job.max_projection)
    return JobRow(job.shown, tracked.frames, len(tracked.objects), tracked.seconds, "done", tracked.cell_diameter,
                  tracked.cell_diameter_estimated)


def _report(queue_name: str | None, job: Job, frames_done: int) -> None:
    if queue_name is not None:
        Queue(queue_name).put((job.name, frames_done))


def track_files(paths: list[str | Path], out_dir: str | Path, client: Client | None = None,
                points_dir: str | Path | None = None, points: str | Path | None = None,
                model: str | None = None, torch_threads: int = 1, progress: bool = True,
                precision: str = "auto", auto: bool = False, seeds_dir: str | Path | None = None,
                lineage_outputs: tuple[str, ...] = (), cell_diameter: float | None = None,
                axis: str | None = None, channels: tuple[int, ...] | None = None,
                max_projection: bool = False) -> list[JobRow]:
    """Tracks every TIFF of `paths` (files, folders, globs) into out_dir/<stem>.zarr on the Dask
    `client` (None: a LocalCluster of one worker per `torch_threads` cores, closed at the end):
    the clicks of `points` or `points_dir`, or with `auto` every cell (plan_jobs), with cells of
    `cell_diameter` px (None: estimated per file); a row per file, in the order of `paths`
    (objects: the tracks of an automatic job), each stack's first axis `axis` ("t", "z"; None: as
    its TIFF says), the model seeing `channels` of each (None: the image as it is), each time point of
    a time-lapse of z-stacks its maximum-intensity projection with `max_projection`. Bad input raises
    ValueError before any job starts."""
    jobs = plan_jobs(tiff_inputs(paths), Path(out_dir), points_dir and Path(points_dir), points and Path(points),
                     auto, seeds_dir and Path(seeds_dir), tuple(lineage_outputs), cell_diameter, axis, channels,
                     max_projection)
    if client is None:
        with local_client(default_workers(torch_threads)) as own:
            return track_files(paths, out_dir, own, points_dir, points, model, torch_threads, progress, precision,
                               auto, seeds_dir, lineage_outputs, cell_diameter, axis, channels, max_projection)
    queue = Queue(f"napari-sam2-progress-{uuid.uuid4().hex}", client=client) if progress else None
    futures = {client.submit(run_job, job, model, torch_threads, queue and queue.name, precision, retries=RETRIES,
                             pure=False,
                             key=f"track-{job.name}-{uuid.uuid4().hex[:8]}"): job for job in jobs}
    with tqdm(total=sum(job.frames for job in jobs), desc="tracking", unit="frame", disable=not progress) as bar:
        rows = _follow(futures, queue, bar)
    return [rows[job] for job in jobs]


def _follow(futures: dict, queue: Queue | None, bar: tqdm) -> dict[Job, JobRow]:
    """Each job's row, taken as soon as it ends (a result left on a worker that dies later would
    be computed again, and its job then found "already tracked"); the bar moves as workers report
    frames, a job run again after its worker died counting each frame once (the most reported)."""
    rows: dict[Job, JobRow] = {}
    done_per_job: dict[str, int] = {}
    while True:
        for future, job in futures.items():
            if job not in rows and future.done():
                rows[job] = _row(job, future)
        while queue is not None and queue.qsize() > 0:
            for name, frames in queue.get(batch=True):
                done_per_job[name] = max(done_per_job.get(name, 0), frames)
        bar.update(sum(done_per_job.values()) - bar.n)
        if len(rows) == len(futures):
            return rows
        time.sleep(0.1)


def _row(job: Job, future) -> JobRow:
    """The job's row; an error (raised by the job, or KilledWorker after its workers died) fails it alone."""
    if future.status == "finished":
        return future.result()
    error = future.exception() if future.status == "error" else None
    reason = f"{type(error).__name__}: {error}" if error is not None else future.status
    return JobRow(job.shown, None, None, None, f"failed: {reason}")


def _frames_along(job: Job) -> str:
    """What a tracked job's frames are along, as its store says ("t" or "z"), "(assumed)" added where
    neither the file nor the job's axis said it (file_tracking.axis_assumed)."""
    along = LabelsStore.open(job.out, mode="r").axes[0]
    assumed = axis_assumed(job.image, job.series, job.axis, job.channels, job.max_projection)
    return f"{along} (assumed)" if assumed else along


def default_workers(torch_threads: int) -> int:
    return max(1, (os.cpu_count() or 1) // torch_threads)


@contextmanager
def local_client(workers: int, dashboard: str = ":0"):
    """A client of a new LocalCluster on this machine, closed with it: `workers` processes, each
    running one file at a time (a job's torch threads are its parallelism)."""
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=dashboard)
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def format_rows(rows: list[JobRow]) -> str:
    """The jobs as a Markdown table."""
    def shown(value, form="{}"):
        return "-" if value is None else form.format(value)

    lines = ["| file | frames | along | objects | cell diameter (px) | seconds | status |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.file} | {shown(r.frames)} | {shown(r.along)} | {shown(r.objects)} | {r.shown_diameter} "
              f"| {shown(r.seconds, '{:.1f}')} | {r.status} |" for r in rows]
    return "\n".join(lines)
