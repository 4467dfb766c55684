"""`track --auto`: every cell of a simulated time-lapse tracked by the embedded model from the
command line into the store and every output, and the bad input that must lose nothing."""
import geff
import numpy as np
import pytest
import tifffile

from napari_sam2 import file_tracking
from napari_sam2.cli import main
from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse, simulate_zstack
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.ctc_folder import read_ctc_folder
from napari_sam2.storage.measurements_csv import read_measurements_csv

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
SMALL = SimulationConfig(height=96, width=96, num_frames=8, division_probability=0.0, enter_rate=0.0)


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auto")
    sim = simulate_timelapse(SMALL, EVALUATION_SEEDS + 610)
    tifffile.imwrite(folder / "img.tif", sim.frames)
    tifffile.imwrite(folder / "seeds.tif", sim.labels[0].astype(np.uint16))
    return sim, folder


def test_track_auto_writes_the_store_with_its_lineage_and_every_output(sequence, tmp_path, capsys):
    sim, folder = sequence
    out = {"--out": tmp_path / "cells.zarr", "--ctc": tmp_path / "01_RES", "--geff": tmp_path / "cells.geff",
           "--csv": tmp_path / "cells.csv"}
    command = ["track", str(folder / "img.tif"), "--auto", "--seeds", str(folder / "seeds.tif")]
    assert main(command + [str(v) for pair in out.items() for v in pair]) == 0
    printed, err = capsys.readouterr()
    assert "tracking cells: 100%" in err and "through 8 frames" in printed
    assert "does not say what its images are along: they are tracked as a time-lapse" in err  # numpy's TIFF names no axis
    assert err.index("give --axis z") < err.index("tracking cells")  # said before the wait, not after
    store = LabelsStore.open(out["--out"], mode="r")
    labels, lineage = store.array[:], store.load_lineage()
    assert lineage.check(labels) == [] and set(np.unique(sim.labels[0])[1:]) <= set(lineage.tracks)
    ctc_labels, ctc_lineage = read_ctc_folder(out["--ctc"])
    np.testing.assert_array_equal(ctc_labels, labels)
    assert ctc_lineage.tracks == lineage.tracks
    graph, _ = geff.read(str(out["--geff"]))
    table = read_measurements_csv(out["--csv"])
    assert graph.number_of_nodes() == len(table["frame"]) == sum(len(np.unique(f)) - 1 for f in labels)


def test_a_blank_frame_amid_the_time_lapse_is_written_empty_and_every_output_follows_the_gap(sequence, tmp_path, capsys):
    sim, folder = sequence
    frames = sim.frames.copy()
    frames[4] = 0  # a dropped frame: it stopped the run with "the image is constant"
    tifffile.imwrite(tmp_path / "dropped.tif", frames)
    out = {"--out": tmp_path / "cells.zarr", "--ctc": tmp_path / "01_RES", "--geff": tmp_path / "cells.geff",
           "--csv": tmp_path / "cells.csv"}
    assert main(["track", str(tmp_path / "dropped.tif"), "--auto"] + [str(v) for pair in out.items() for v in pair]) == 0
    store = LabelsStore.open(out["--out"], mode="r")
    labels, lineage = store.array[:], store.load_lineage()
    assert lineage.check(labels) == [] and not labels[4].any() and labels[3].any() and labels[5].any()
    after = [lineage.tracks[t] for t in np.unique(labels[5])[1:]]
    assert sum(t.start == 5 and t.end >= 7 and lineage.tracks[t.parent].end == 3 for t in after if t.parent) >= 3
    ctc_labels, _ = read_ctc_folder(out["--ctc"])
    np.testing.assert_array_equal(ctc_labels, labels)
    assert 4 not in read_measurements_csv(out["--csv"])["frame"].tolist()


def test_seeds_saved_as_32_bit_float_labels_give_the_labels_of_integer_seeds(sequence, tmp_path):
    """Fiji saves label images as 32-bit float: whole-number floats are ids, the same run as integers."""
    _, folder = sequence
    tifffile.imwrite(tmp_path / "seeds32.tif", tifffile.imread(folder / "seeds.tif").astype(np.float32))
    for seeds, out in ((folder / "seeds.tif", "int.zarr"), (tmp_path / "seeds32.tif", "float.zarr")):
        assert main(["track", str(folder / "img.tif"), "--auto", "--seeds", str(seeds), "--out", str(tmp_path / out)]) == 0
    as_int, as_float = (LabelsStore.open(tmp_path / out, mode="r") for out in ("int.zarr", "float.zarr"))
    np.testing.assert_array_equal(as_float.array[:], as_int.array[:])
    assert as_float.load_lineage().tracks == as_int.load_lineage().tracks


def test_seeds_of_another_shape_are_refused_and_nothing_is_written(sequence, tmp_path, capsys):
    sim, folder = sequence
    tifffile.imwrite(tmp_path / "small.tif", sim.labels[0, :64].astype(np.uint16))
    code = main(["track", str(folder / "img.tif"), "--auto", "--seeds", str(tmp_path / "small.tif"),
                 "--out", str(tmp_path / "cells.zarr"), "--ctc", str(tmp_path / "01_RES")])
    assert code == 2
    assert "the seeds have shape (64, 96) but the video is 8 frames of (96, 96)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.tif"]


def test_an_output_that_is_not_ours_is_refused_before_any_work(sequence, tmp_path, capsys, monkeypatch):
    _, folder = sequence
    monkeypatch.setattr(file_tracking, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    (tmp_path / "notes.csv").write_text("my notes\n")
    code = main(["track", str(folder / "img.tif"), "--auto", "--out", str(tmp_path / "cells.zarr"),
                 "--csv", str(tmp_path / "notes.csv")])
    assert code == 2 and "not a measurements table napari-sam2 wrote" in capsys.readouterr().err
    assert (tmp_path / "notes.csv").read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv"]


def test_outputs_without_auto_say_to_add_it(sequence, tmp_path, capsys):
    _, folder = sequence
    assert main(["track", str(folder / "img.tif"), "--out", str(tmp_path / "o.zarr"),
                 "--ctc", str(tmp_path / "01_RES")]) == 2
    assert "add --auto" in capsys.readouterr().err


@pytest.mark.slow  # the model looks for nuclei on every slice: about a minute on a shared CPU
def test_a_z_stack_is_tracked_along_z_without_divisions(tmp_path, capsys):
    sim = simulate_zstack(SimulationConfig(height=96, width=96, num_frames=8), EVALUATION_SEEDS + 613)
    tifffile.imwrite(tmp_path / "stack.tif", sim.frames, imagej=True, metadata={"axes": "ZYX", "spacing": 2.0})
    assert main(["track", str(tmp_path / "stack.tif"), "--auto", "--out", str(tmp_path / "nuclei.zarr"),
                 "--geff", str(tmp_path / "nuclei.geff")]) == 0
    printed = capsys.readouterr()
    assert "(0 divisions)" in printed.out and "--axis" not in printed.err  # the file says Z: nothing assumed
    store = LabelsStore.open(tmp_path / "nuclei.zarr", mode="r")
    assert store.axes == "zyx" and store.load_lineage().divisions() == {}
    _, metadata = geff.read(str(tmp_path / "nuclei.geff"))
    assert [(a.name, a.type) for a in metadata.axes] == [("z", "space"), ("y", "space"), ("x", "space")]


def test_truth_with_auto_only_scores_the_result(sequence, tmp_path, capsys):
    sim, folder = sequence
    tifffile.imwrite(folder / "truth.tif", sim.labels.astype(np.uint16))
    command = ["track", str(folder / "img.tif"), "--auto", "--seeds", str(folder / "seeds.tif"),
               "--truth", str(folder / "truth.tif"), "--out", str(tmp_path / "cells.zarr")]
    assert main(command) == 0
    printed = capsys.readouterr().out
    line = next(row for row in printed.splitlines() if row.startswith("Cell Tracking Challenge scores"))
    tra = float(line.split("TRA ")[1].split(",")[0])
    assert 0.8 < tra <= 1.0  # seeded with the true first frame, no division, no entering cell
    seeds_only = LabelsStore.open(tmp_path / "cells.zarr", mode="r").load_lineage()
    assert set(seeds_only.tracks) >= set(np.unique(sim.labels[0])[1:])


def test_a_truth_of_another_shape_is_refused_before_any_work(sequence, tmp_path, capsys):
    sim, folder = sequence
    tifffile.imwrite(tmp_path / "short.tif", sim.labels[:5].astype(np.uint16))
    assert main(["track", str(folder / "img.tif"), "--auto", "--out", str(tmp_path / "cells.zarr"),
                 "--truth", str(tmp_path / "short.tif")]) == 2
    assert "has shape (5, 96, 96) but the image (8, 96, 96)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.tif"]


def test_track_auto_uses_the_cell_diameter_given_and_refuses_a_bad_one_before_any_work(sequence, tmp_path, capsys,
                                                                                       monkeypatch):
    _, folder = sequence
    command = ["track", str(folder / "img.tif"), "--auto", "--out", str(tmp_path / "cells.zarr")]
    assert main(command + ["--cell-diameter", "17"]) == 0
    assert "cell diameter 17.0 px (given" in capsys.readouterr().out
    monkeypatch.setattr(file_tracking, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(command + ["--overwrite", "--cell-diameter", "-3"]) == 2
    assert "cell_diameter must be a positive number of pixels" in capsys.readouterr().err
    assert LabelsStore.open(tmp_path / "cells.zarr", mode="r").load_lineage() is not None  # the store is as it was


def test_a_z_stack_saved_without_axis_metadata_is_tracked_along_z_when_told(tmp_path, capsys):
    """A TIFF written with no ImageJ or OME metadata (numpy's own tifffile.imwrite) reads as a
    time-lapse: --axis z says it is a z-stack (3-D labels, no divisions, axes zyx in the store)."""
    from napari_sam2.storage.tiff_geometry import tiff_geometry

    sim = simulate_zstack(SimulationConfig(height=96, width=96, num_frames=6), EVALUATION_SEEDS + 617)
    tifffile.imwrite(tmp_path / "stack.tif", sim.frames)
    tifffile.imwrite(tmp_path / "seeds.tif", sim.labels.astype(np.uint16))
    assert tiff_geometry(tmp_path / "stack.tif")["axes"] == "tyx"
    assert main(["track", str(tmp_path / "stack.tif"), "--auto", "--seeds", str(tmp_path / "seeds.tif"), "--axis", "z",
                 "--out", str(tmp_path / "nuclei.zarr")]) == 0
    printed = capsys.readouterr()
    assert "(0 divisions)" in printed.out and "--axis" not in printed.err  # told: nothing assumed
    store = LabelsStore.open(tmp_path / "nuclei.zarr", mode="r")
    assert store.axes == "zyx" and store.load_lineage().divisions() == {}
    with pytest.raises(ValueError, match="'t' \\(a time-lapse\\) or 'z'"):
        tiff_geometry(tmp_path / "stack.tif", axis="c")
