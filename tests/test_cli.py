"""The headless command line: track a TIFF into a Zarr label store and score it."""
import numpy as np
import pytest
import tifffile

from napari_sam2 import file_tracking
from napari_sam2.cli import main
from napari_sam2.click_table import Click, read_clicks
from napari_sam2.engine import loading
from napari_sam2.model import save_checkpoint
from napari_sam2.storage import LabelsStore
from napari_sam2.testing.synthetic import moving_nuclei_video
from ome_check import read_as_ome_labels


def test_track_writes_every_frame_and_prints_j_and_f(micro_model, tmp_path, capsys, monkeypatch):
    frames, labels = moving_nuclei_video(6, 96, 128, 3, seed=2, leaving=False)
    tifffile.imwrite(tmp_path / "img.tif", frames, imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"axes": "ZYX", "spacing": 2.0, "unit": "um"})
    tifffile.imwrite(tmp_path / "truth.tif", labels)
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    code = main(["track", str(tmp_path / "img.tif"), "--truth", str(tmp_path / "truth.tif"), "--out", str(tmp_path / "out.zarr")])
    assert code == 0
    out, err = capsys.readouterr()
    assert "tracked 3 objects through 6 frames" in out and "| **mean** |" in out
    assert "tracking: 100%" in err  # a progress bar (issue 16) over the frames the plan covers
    store = LabelsStore.open(tmp_path / "out.zarr", mode="r")
    assert store.shape == (6, 96, 128)
    assert set(np.unique(store.read_frame(0))) <= {0, 1, 2, 3}
    on_disk, axes, scale, units = read_as_ome_labels(tmp_path / "out.zarr")
    np.testing.assert_array_equal(on_disk, store.array[:])
    assert on_disk.dtype == np.uint16 and axes == "zyx" and units == ("micrometer",) * 3
    np.testing.assert_allclose(scale, [2.0, 0.65, 0.65])


def test_track_without_prompts_says_what_to_give(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", np.zeros((2, 8, 8), np.uint16))
    assert main(["track", str(tmp_path / "img.tif"), "--out", str(tmp_path / "o.zarr")]) == 2
    assert "--truth" in capsys.readouterr().err


def _tracking_inputs(tmp_path, micro_model, monkeypatch, num_frames=5):
    """A small time-lapse and its truth as TIFFs, the micro model as the embedded one, and the
    start of a `track` command over them (also used by test_tiled_tracker)."""
    frames, labels = moving_nuclei_video(num_frames, 96, 128, 2, seed=3, leaving=False)
    tifffile.imwrite(tmp_path / "img.tif", frames)
    tifffile.imwrite(tmp_path / "truth.tif", labels)
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    return ["track", str(tmp_path / "img.tif"), "--truth", str(tmp_path / "truth.tif")]


def test_track_never_touches_an_existing_folder_that_is_not_its_store(micro_model, tmp_path, capsys, monkeypatch):
    command = _tracking_inputs(tmp_path, micro_model, monkeypatch)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    for extra in ([], ["--overwrite"]):
        assert main(command + ["--out", str(tmp_path / "d"), *extra]) == 2
        assert "not a napari-sam2 labels store: it is left as it is" in capsys.readouterr().err
        assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["notes.txt"]
        assert (tmp_path / "d" / "notes.txt").read_text() == "x"
    (tmp_path / "f.zarr").write_text("y")  # a file is refused the same way
    assert main(command + ["--out", str(tmp_path / "f.zarr"), "--overwrite"]) == 2
    assert (tmp_path / "f.zarr").read_text() == "y"


def test_track_replaces_its_own_store_only_with_overwrite(micro_model, tmp_path, capsys, monkeypatch):
    command = _tracking_inputs(tmp_path, micro_model, monkeypatch) + ["--out", str(tmp_path / "out.zarr")]
    old = LabelsStore.create(tmp_path / "out.zarr", (2, 5, 5))
    old.write_frame(1, np.full((5, 5), 9, np.uint8))
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "already holds a napari-sam2 labels store" in error and "--overwrite" in error
    assert LabelsStore.open(tmp_path / "out.zarr", mode="r").read_frame(1)[0, 0] == 9
    assert main(command + ["--overwrite"]) == 0
    assert LabelsStore.open(tmp_path / "out.zarr", mode="r").shape == (5, 96, 128)
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == ["out.zarr"]  # no partial left


def test_a_failed_run_leaves_no_store_and_an_old_one_as_it_was(micro_model, tmp_path, monkeypatch):
    command = _tracking_inputs(tmp_path, micro_model, monkeypatch)

    def fails_after_a_frame(self, plan):
        yield next(iter(original(self, plan)))
        raise RuntimeError("out of memory")

    original = file_tracking.TiledVideoTracker.run
    monkeypatch.setattr(file_tracking.TiledVideoTracker, "run", fails_after_a_frame)
    with pytest.raises(RuntimeError, match="out of memory"):
        main(command + ["--out", str(tmp_path / "new.zarr")])
    old = LabelsStore.create(tmp_path / "old.zarr", (2, 5, 5))
    old.write_frame(1, np.full((5, 5), 9, np.uint8))
    with pytest.raises(RuntimeError, match="out of memory"):
        main(command + ["--out", str(tmp_path / "old.zarr"), "--overwrite"])
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zarr" or "partial" in p.name) == ["old.zarr"]
    assert LabelsStore.open(tmp_path / "old.zarr", mode="r").read_frame(1)[0, 0] == 9


def _track_clicks(tmp_path, csv_text: str, out: str, capsys):
    """Runs `track --points` on a small video with the test model; returns (exit code, stderr)."""
    (tmp_path / f"{out}.csv").write_text(csv_text)
    code = main(["track", str(tmp_path / "img.tif"), "--points", str(tmp_path / f"{out}.csv"),
                 "--out", str(tmp_path / f"{out}.zarr")])
    return code, capsys.readouterr().err


@pytest.fixture
def small_video(micro_model, tmp_path, monkeypatch):
    frames, labels = moving_nuclei_video(5, 96, 128, 2, seed=2, leaving=False)
    tifffile.imwrite(tmp_path / "img.tif", frames)
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    return labels


def _labels(tmp_path, out: str) -> np.ndarray:
    store = LabelsStore.open(tmp_path / f"{out}.zarr", mode="r")
    return np.stack([store.read_frame(t) for t in range(store.shape[0])])


@pytest.mark.parametrize("csv_text, named", [
    ("obj_id,x,y\n1,40,30\n2,50\n", "line 3 ('2,50'): it has 2 values where 3 (obj_id,x,y) are expected"),
    ("1,40,30\n2,50\n", "line 2 ('2,50'): it has 2 values where 3 (obj_id,x,y) are expected"),
    ("obj_id,x,y\n1,40,thirty\n", "line 2 ('1,40,thirty'): y is 'thirty', not a number"),
    ("obj_id,x,y\n1.5,40,30\n", "obj_id must be a whole number from 1, got 1.5"),
    ("a,b,c\n1,2,3\n", "has neither obj_id,x,y nor 2 or 3 napari axis columns"),
    ("index,axis-t,axis-1\n0,1,2\n", "has neither obj_id,x,y nor 2 or 3 napari axis columns"),
    ("", "has no clicks"),
])
def test_a_bad_points_file_names_the_row_and_writes_nothing(small_video, tmp_path, capsys, csv_text, named):
    """Issue 21: a short row raised TypeError from float(None), a headerless file KeyError: 'obj_id'."""
    code, err = _track_clicks(tmp_path, csv_text, "bad", capsys)
    assert code == 2 and named in err and "bad.csv" in err, err
    assert not (tmp_path / "bad.zarr").exists()
    assert _track_clicks(tmp_path, "obj_id,x,y\n1,40,30\n", "bad", capsys)[0] == 0  # the same --out, now good


def test_a_click_outside_the_video_is_an_error_before_anything_is_written(small_video, tmp_path, capsys):
    code, err = _track_clicks(tmp_path, "obj_id,x,y,frame\n1,40,30,9\n", "late", capsys)
    assert code == 2 and "late.csv" in err and "frame 9" in err, err
    assert not (tmp_path / "late.zarr").exists()


def test_points_with_or_without_header_and_from_napari_give_the_same_labels(small_video, tmp_path, capsys):
    """Issue 21 (the headerless obj_id,x,y the CLI's own hint suggests) and issue 16 (the CSV
    napari writes for a Points layer: index,axis-0,axis-1,axis-2[,features], (frame, row, col))."""
    write_points = pytest.importorskip("napari_builtins.io._write").napari_write_points
    clicks = [(1, 40.0, 30.0), (2, 80.0, 60.0)]  # obj_id, x, y on frame 0
    assert _track_clicks(tmp_path, "obj_id,x,y\n" + "".join(f"{i},{x},{y}\n" for i, x, y in clicks), "header", capsys)[0] == 0
    assert _track_clicks(tmp_path, "".join(f"{i},{x},{y}\n" for i, x, y in clicks), "plain", capsys)[0] == 0
    napari_points = np.array([[0, y, x] for _, x, y in clicks])
    write_points(str(tmp_path / "napari.csv"), napari_points, {"properties": {"obj_id": np.array([1, 2])}})
    write_points(str(tmp_path / "napari_ids.csv"), napari_points, {})  # no obj_id: one object per point
    for out in ("napari", "napari_ids"):
        assert main(["track", str(tmp_path / "img.tif"), "--points", str(tmp_path / f"{out}.csv"),
                     "--out", str(tmp_path / f"{out}.zarr")]) == 0
    expected = _labels(tmp_path, "header")
    assert set(np.unique(expected)) == {0, 1, 2}
    for out in ("plain", "napari", "napari_ids"):
        np.testing.assert_array_equal(_labels(tmp_path, out), expected)


def test_a_points_file_saved_by_a_spreadsheet_with_a_byte_order_mark_reads(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffobj_id,x,y,positive\r\n1,40,30,false\r\n".encode())
    assert read_clicks(path) == [Click(frame=0, obj_id=1, x=40.0, y=30.0, positive=False)]
