"""Many files on a Dask cluster (issue 20): each output equals the file tracked alone, a rerun
skips what is done, a failing file fails alone, a job whose worker dies is run again."""
import os
import threading
import time

import numpy as np
import pytest
import tifffile
import torch
from dask.distributed import WorkerPlugin

from napari_sam2.batch import local_client, track_files
from napari_sam2.click_table import read_clicks
from napari_sam2.evaluation import central_click
from napari_sam2.file_tracking import model_from, track_file
from napari_sam2.storage import LabelsStore
from napari_sam2.testing.synthetic import moving_nuclei_video

FILES = 6
# Outputs compared with a file tracked alone are tracked in one precision: "auto" is decided in each
# process, on a CPU with AVX-512 BF16 but no AMX by a 0.1 s timing (engine/device.py) that a loaded
# machine can tip either way, and bfloat16 labels differ from float32 ones (745 px of well1's).
EXACT = "float32"


@pytest.fixture(scope="module")
def plate(tmp_path_factory):
    """FILES small time-lapses (4 frames of 96 x 128, 2 nuclei) with a click CSV each."""
    folder = tmp_path_factory.mktemp("plate")
    (folder / "images").mkdir()
    (folder / "clicks").mkdir()
    for i in range(FILES):
        frames, labels = moving_nuclei_video(4, 96, 128, 2, seed=i, leaving=False)
        tifffile.imwrite(folder / "images" / f"well{i}.tif", frames, photometric="minisblack")
        rows = [f"{j},{x},{y}" for j in np.unique(labels[0])[1:] for x, y in [central_click(labels[0] == j)[0]]]
        (folder / "clicks" / f"well{i}.csv").write_text("obj_id,x,y\n" + "\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def client():
    with local_client(2) as client:
        yield client


def serial_labels(plate, stem, tmp_path):
    """The file tracked alone in this process, as `track` does, with the workers' one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path / "serial" / f"{stem}.zarr"
        track_file(plate / "images" / f"{stem}.tif", out, read_clicks(plate / "clicks" / f"{stem}.csv"),
                   model_from(None), progress=False, precision=EXACT)
    finally:
        torch.set_num_threads(threads)
    return LabelsStore.open(out, mode="r").array[:]


def test_every_file_as_alone_a_rerun_skips_all_and_a_bad_file_fails_alone(plate, client, tmp_path):
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a tiff at all")
    (tmp_path / "clicks").mkdir()
    for csv in (plate / "clicks").iterdir():
        (tmp_path / "clicks" / csv.name).write_text(csv.read_text())
    (tmp_path / "clicks" / "broken.csv").write_text((plate / "clicks" / "well0.csv").read_text())
    inputs = [plate / "images", str(bad)]

    rows = track_files(inputs, tmp_path / "out", client, points_dir=tmp_path / "clicks", progress=False,
                       precision=EXACT)
    assert [os.path.basename(r.file) for r in rows] == [f"well{i}.tif" for i in range(FILES)] + ["broken.tif"]
    assert [(r.frames, r.objects, r.status) for r in rows[:FILES]] == [(4, 2, "done")] * FILES
    assert "broken.tif cannot be read as a TIFF" in rows[-1].status and "not a TIFF file" in rows[-1].status
    assert not (tmp_path / "out" / "broken.zarr").exists()
    for i in range(FILES):
        batch = LabelsStore.open(tmp_path / "out" / f"well{i}.zarr", mode="r").array[:]
        np.testing.assert_array_equal(batch, serial_labels(plate, f"well{i}", tmp_path))
        assert batch.max() == 2

    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")}
    again = track_files(inputs, tmp_path / "out", client, points_dir=tmp_path / "clicks", progress=False,
                        precision=EXACT)
    assert [r.status for r in again[:FILES]] == ["skipped (already tracked)"] * FILES
    assert again[-1].status == rows[-1].status
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*")} == written


class DieMidJob(WorkerPlugin):
    """Ends the worker process (as a crash or an out-of-memory kill would) once the job of `stem`
    has begun writing its store, the first time only (`marker` remembers)."""

    def __init__(self, stem, out_dir, marker):
        self.stem, self.out_dir, self.marker = stem, out_dir, marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and f"-{self.stem}-" in str(key) and not self.marker.exists():
            self.marker.touch()
            threading.Thread(target=self._die_once_writing, daemon=True).start()

    def _die_once_writing(self):
        while not any(self.out_dir.glob(f".{self.stem}.zarr.*.partial/{self.stem}.zarr/zarr.json")):
            time.sleep(0.002)
        os._exit(1)


def test_a_job_whose_worker_dies_is_run_again(plate, client, tmp_path):
    out = tmp_path / "out"
    client.register_plugin(DieMidJob("well3", out, tmp_path / "died"), name="die-mid-job")
    try:
        rows = track_files([plate / "images"], out, client, points_dir=plate / "clicks", progress=False,
                           precision=EXACT)
    finally:
        client.unregister_worker_plugin("die-mid-job")
    assert (tmp_path / "died").exists()
    # The dying worker had begun writing (DieMidJob waits for it); the job run again deleted that first.
    assert not list(out.glob(".well3.zarr.*.partial")), "what the dead worker half-wrote is left behind"
    assert [r.status for r in rows] == ["done"] * FILES
    np.testing.assert_array_equal(LabelsStore.open(out / "well3.zarr", mode="r").array[:],
                                  serial_labels(plate, "well3", tmp_path))


def test_the_command_prints_the_dashboard_and_the_table_and_fails_if_a_file_failed(plate, tmp_path, capsys):
    from napari_sam2.cli import main

    (tmp_path / "empty.tif").write_bytes(b"")
    images = [str(plate / "images" / "well0.tif"), str(tmp_path / "empty.tif")]
    code = main(["batch", *images, "--points", str(plate / "clicks" / "well0.csv"), "--out", str(tmp_path / "out"),
                 "--workers", "1"])
    printed = capsys.readouterr()
    out = printed.out
    assert code == 1
    assert "Dask dashboard: http" in out and "| file | frames | along | objects | cell diameter (px) | seconds | status |" in out
    assert "well0.tif | 4 | t (assumed) | 2 | " in out and " (estimated) | " in out
    assert "empty.tif | - | - | - | - | - | failed: " in out
    assert "give --axis z" in printed.err  # a plain multi-page TIFF says not whether it is a z-stack
    assert "1 of 2 files tracked or already there" in out


def test_each_series_of_a_multi_position_ome_tiff_is_a_job_and_the_bar_counts_frames(plate, client, tmp_path, capsys):
    positions = [tifffile.imread(plate / "images" / f"well{i}.tif") for i in (1, 2)]
    with tifffile.TiffWriter(tmp_path / "plate.ome.tif", ome=True) as tif:
        for frames in positions:
            tif.write(frames, photometric="minisblack", metadata={"axes": "TYX", "PhysicalSizeX": 0.5,
                                                                 "PhysicalSizeY": 0.5})
    (tmp_path / "clicks").mkdir()
    for k, i in enumerate((1, 2)):
        (tmp_path / "clicks" / f"plate.ome_s{k}.csv").write_text((plate / "clicks" / f"well{i}.csv").read_text())
    rows = track_files([tmp_path / "plate.ome.tif"], tmp_path / "out", client, points_dir=tmp_path / "clicks",
                       precision=EXACT)
    assert [(r.file.endswith(f"[series {k}]"), r.frames, r.status) for k, r in enumerate(rows)] == [(True, 4, "done")] * 2
    for k, i in enumerate((1, 2)):
        store = LabelsStore.open(tmp_path / "out" / f"plate.ome_s{k}.zarr", mode="r")
        np.testing.assert_array_equal(store.array[:], serial_labels(plate, f"well{i}", tmp_path))
        assert store.scale[-1] == 0.5
    assert "8/8" in capsys.readouterr().err  # the bar: frames of both series


def test_every_cell_of_each_file_automatically_with_seeds_and_lineage_outputs(plate, client, tmp_path):
    from napari_sam2.storage.ctc_folder import read_ctc_folder

    (tmp_path / "seeds").mkdir()
    wells = (1, 2)  # two nuclei apart (in well 0 one hides under the other: 43-184 px, below a cell's min_area)
    for i in wells:
        _, labels = moving_nuclei_video(4, 96, 128, 2, seed=i, leaving=False)
        tifffile.imwrite(tmp_path / "seeds" / f"well{i}.tif", labels[0].astype(np.uint16))
    images = [plate / "images" / f"well{i}.tif" for i in wells]
    out = tmp_path / "out"
    rows = track_files(images, out, client, auto=True, seeds_dir=tmp_path / "seeds",
                       lineage_outputs=("ctc", "csv"), progress=False)
    assert [(r.frames, r.objects, r.status) for r in rows] == [(4, 2, "done")] * 2
    for i in wells:
        store = LabelsStore.open(out / f"well{i}.zarr", mode="r")
        labels, lineage = read_ctc_folder(out / f"well{i}_RES")
        np.testing.assert_array_equal(labels, store.array[:])
        assert lineage.tracks == store.load_lineage().tracks and len(lineage) == 2
        assert (out / f"well{i}.csv").is_file() and not (out / f"well{i}.geff").exists()
    # a job killed after its store appeared: run again, it writes the outputs that are missing
    import shutil
    shutil.rmtree(out / "well1_RES")
    again = track_files(images, out, client, auto=True, seeds_dir=tmp_path / "seeds",
                        lineage_outputs=("ctc", "csv"), progress=False)
    assert [r.status for r in again] == ["skipped (already tracked)"] * 2
    assert read_ctc_folder(out / "well1_RES")[1].tracks == LabelsStore.open(out / "well1.zarr").load_lineage().tracks
    with pytest.raises(ValueError, match="automatic tracking only"):
        track_files(images, out, client, points_dir=plate / "clicks", lineage_outputs=("ctc",), progress=False)


def test_a_cell_diameter_given_is_the_one_every_files_tracker_uses_and_the_table_shows_it(plate, client, tmp_path):
    from napari_sam2.batch import format_rows

    images = [plate / "images" / f"well{i}.tif" for i in (1, 2)]
    given = track_files(images, tmp_path / "given", client, auto=True, cell_diameter=17.0, progress=False)
    assert [(r.status, r.cell_diameter, r.cell_diameter_estimated) for r in given] == [("done", 17.0, False)] * 2
    estimated = track_files(images, tmp_path / "estimated", client, points_dir=plate / "clicks", progress=False)
    assert all(r.cell_diameter_estimated and abs(r.cell_diameter - 17.0) > 3 for r in estimated)  # nuclei ~24-40 px
    assert "| 17.0 (given) |" in format_rows(given) and " (estimated) |" in format_rows(estimated)
    # the value is the trackers' own (CellTracker.cell_diameter, which planned the tiles), and they tracked cells
    assert all(r.objects >= 1 for r in given)
    assert all(LabelsStore.open(tmp_path / "given" / f"well{i}.zarr", mode="r").array[:].max() >= 1 for i in (1, 2))


@pytest.mark.parametrize("diameter, message", [("0", "cell_diameter must be a positive number of pixels"),
                                               ("-3", "cell_diameter must be a positive number of pixels"),
                                               ("500", "well1.tif: cell_diameter 500 px is larger than the image "
                                                       "(96 x 128 px)")])
def test_a_bad_cell_diameter_fails_before_any_job_and_nothing_is_written(plate, tmp_path, capsys, diameter, message):
    from napari_sam2.cli import main

    images = [str(plate / "images" / f"well{i}.tif") for i in (1, 2)]
    code = main(["batch", *images, "--auto", "--out", str(tmp_path / "out"), "--workers", "1",
                 "--cell-diameter", diameter])
    printed = capsys.readouterr()
    assert code == 2 and message in printed.err and "| file |" not in printed.out
    assert not (tmp_path / "out").exists()


def test_a_job_run_again_after_its_result_was_lost_with_a_worker_is_done_not_skipped(plate, tmp_path):
    """The scheduler computes a finished job again when the worker holding its result dies before
    the result is gathered (seen under load in test_a_job_whose_worker_dies_is_run_again): the
    store this batch made is there, and the file was tracked by this batch, not before it."""
    from napari_sam2.batch import plan_jobs, run_job

    images, out = [plate / "images" / "well4.tif"], tmp_path / "out"
    threads = torch.get_num_threads()  # run_job sets the worker's
    try:
        [job] = plan_jobs(images, out, points_dir=plate / "clicks")
        assert run_job(job, None, 1).status == "done"
        assert run_job(job, None, 1).status == "done"  # the same job computed again
        [later] = plan_jobs(images, out, points_dir=plate / "clicks")  # a later batch (resuming)
        assert run_job(later, None, 1).status == "skipped (already tracked)"
    finally:
        torch.set_num_threads(threads)


def test_axis_z_tracks_every_stack_along_z_and_a_bad_axis_fails_before_any_job(plate, client, tmp_path):
    """Stacks saved without axis metadata read as time-lapses; axis="z" (batch --axis z) tracks
    each as a z-stack: stores with axes zyx and no divisions."""
    (tmp_path / "seeds").mkdir()
    images = [plate / "images" / f"well{i}.tif" for i in (1, 2)]
    for i in (1, 2):
        _, labels = moving_nuclei_video(4, 96, 128, 2, seed=i, leaving=False)
        tifffile.imwrite(tmp_path / "seeds" / f"well{i}.tif", labels.astype(np.uint16))
    rows = track_files(images, tmp_path / "z", client, auto=True, seeds_dir=tmp_path / "seeds", axis="z", progress=False)
    assert [(r.status, r.along) for r in rows] == [("done", "z")] * 2  # as told: nothing assumed
    for i in (1, 2):
        store = LabelsStore.open(tmp_path / "z" / f"well{i}.zarr", mode="r")
        assert store.axes == "zyx" and store.load_lineage().divisions() == {}
    plain = track_files(images[:1], tmp_path / "t", client, auto=True, seeds_dir=tmp_path / "seeds", progress=False)
    assert plain[0].status == "done" and LabelsStore.open(tmp_path / "t" / "well1.zarr", mode="r").axes == "tyx"
    assert plain[0].along == "t (assumed)"  # the table says the file did not tell
    with pytest.raises(ValueError, match="'t' \\(time-lapses\\) or 'z'"):
        track_files(images, tmp_path / "bad", client, auto=True, axis="c", progress=False)
    assert not (tmp_path / "bad").exists()
