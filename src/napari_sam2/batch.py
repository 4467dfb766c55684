"""Many time-lapses tracked on a Dask cluster, one job per TIFF file:

    napari-sam2 batch plate/*.tif --points-dir clicks/ --out tracked/ [--scheduler tcp://host:8786]

Each job writes OUT_DIR/<stem>.zarr through file_tracking.track_file (the `track` command's job),
so a store appears only when its file is tracked to the end. A job whose store is already there
is skipped (run the command again to resume); a worker that dies has its job run again
elsewhere by the scheduler; a file that fails fails alone, with its error in the table.
"""
from __future__ import annotations

import glob
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from dask.distributed import Client, LocalCluster, as_completed
from tqdm import tqdm

from .click_table import read_clicks
from .file_tracking import cached_model, track_file
from .storage.labels_store import LabelsStore, is_labels_store

TIFF_SUFFIXES = (".tif", ".tiff")
RETRIES = 1  # an error raised by a job is tried once more (a worker that dies: the scheduler's allowed-failures)


@dataclass(frozen=True)
class JobRow:
    file: str
    frames: int | None
    objects: int | None
    seconds: float | None
    status: str  # "done", "skipped (already tracked)" or "failed: <the error>"


@dataclass(frozen=True)
class Job:
    image: Path
    points: Path
    out: Path


def tiff_inputs(inputs: list[str | Path]) -> list[Path]:
    """The TIFFs named by `inputs`: files, folders (their TIFFs, not recursing) or glob patterns."""
    found: list[Path] = []
    for given in map(str, inputs):
        if Path(given).is_dir():
            found += sorted(p for p in Path(given).iterdir() if p.suffix.lower() in TIFF_SUFFIXES)
        elif Path(given).exists():
            found.append(Path(given))
        elif matches := sorted(glob.glob(given)):
            found += [Path(p) for p in matches]
        else:
            raise FileNotFoundError(f"{given}: no such file or folder, and no file matches it as a pattern")
    return list(dict.fromkeys(found))  # a file named twice is tracked once


def plan_jobs(images: list[Path], out_dir: Path, points_dir: Path | None = None,
              points: Path | None = None) -> list[Job]:
    """A job per image: its clicks are `points` (the same for every file) or `points_dir/<stem>.csv`."""
    if (points_dir is None) == (points is None):
        raise ValueError("give the clicks either as one CSV for every file (points) or as a folder of "
                         "<file stem>.csv files (points_dir)")
    stems = [image.stem for image in images]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"files with the same name {twice} would write the same store in {out_dir}: "
                         "give them different names or track them into different folders")
    return [Job(image, points or points_dir / f"{image.stem}.csv", out_dir / f"{image.stem}.zarr")
            for image in images]


def run_job(job: Job, model: str | None, torch_threads: int) -> JobRow:
    """One file, on a worker: skipped if its store is there (it appears only once complete)."""
    if is_labels_store(job.out):
        store = LabelsStore.open(job.out, mode="r")
        return JobRow(str(job.image), store.shape[0], None, None, "skipped (already tracked)")
    torch.set_num_threads(torch_threads)
    clicks = read_clicks(job.points)  # before the model: a bad file is refused at once
    tracked = track_file(job.image, job.out, clicks, cached_model(model), progress=False)
    return JobRow(str(job.image), tracked.frames, len(tracked.objects), tracked.seconds, "done")


def track_files(paths: list[str | Path], out_dir: str | Path, client: Client | None = None,
                points_dir: str | Path | None = None, points: str | Path | None = None,
                model: str | None = None, torch_threads: int = 1, progress: bool = True) -> list[JobRow]:
    """Tracks every TIFF of `paths` (files, folders, globs) into out_dir/<stem>.zarr on the Dask
    `client` (None: a LocalCluster of one worker per `torch_threads` cores, closed at the end);
    a row per file, in the order of `paths`."""
    jobs = plan_jobs(tiff_inputs(paths), Path(out_dir), points_dir and Path(points_dir), points and Path(points))
    if client is None:
        with local_client(default_workers(torch_threads)) as own:
            return track_files(paths, out_dir, own, points_dir, points, model, torch_threads, progress)
    futures = {client.submit(run_job, job, model, torch_threads, retries=RETRIES, pure=False,
                             key=f"track-{job.image.stem}-{uuid.uuid4().hex[:8]}"): job for job in jobs}
    rows = {}
    for future in tqdm(as_completed(futures, loop=client.loop), total=len(futures), desc="files", unit="file",
                       disable=not progress):
        rows[futures[future]] = _row(futures[future], future)
    return [rows[job] for job in jobs]


def _row(job: Job, future) -> JobRow:
    """The job's row; an error (raised by the job, or KilledWorker after its workers died) fails it alone."""
    if future.status == "finished":
        return future.result()
    error = future.exception() if future.status == "error" else None
    reason = f"{type(error).__name__}: {error}" if error is not None else future.status
    return JobRow(str(job.image), None, None, None, f"failed: {reason}")


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

    lines = ["| file | frames | objects | seconds | status |", "|---|---|---|---|---|"]
    lines += [f"| {r.file} | {shown(r.frames)} | {shown(r.objects)} | {shown(r.seconds, '{:.1f}')} | {r.status} |"
              for r in rows]
    return "\n".join(lines)
