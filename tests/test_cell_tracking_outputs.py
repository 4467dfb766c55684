"""One run of the cell tracker into every output (store with lineage, CTC folder, GEFF, CSV),
checked on the simulator's ground truth replayed as a tracker would stream it."""
from dataclasses import dataclass

import geff
import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.file_tracking import write_cell_tracking
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.ctc_folder import read_ctc_folder
from napari_sam2.storage.measurements_csv import read_measurements_csv
from napari_sam2.storage.tracking_outputs import TrackingOutputs


@dataclass(frozen=True)
class TruthFrame:
    frame: int
    labels: np.ndarray
    again: bool = False  # never a frame revised: the truth is streamed once


class TruthReplay:
    """The ground truth streamed frame by frame, the way CellTracker.run gives its results."""

    def __init__(self, sim):
        self.sim, self.lineage = sim, Lineage()

    def run(self):
        whole = Lineage.from_labels(self.sim.labels, self.sim.lineage)
        for t, labels in enumerate(self.sim.labels):
            for track_id in np.unique(labels[labels > 0]):
                track = whole.tracks[int(track_id)]
                if int(track_id) in self.lineage:
                    self.lineage.extend(int(track_id), t)
                else:
                    self.lineage.begin(int(track_id), t, track.parent)
            yield TruthFrame(t, labels.astype(np.uint32))


def test_one_run_writes_the_store_with_its_lineage_and_every_output(dividing_sequence, tmp_path):
    sim = dividing_sequence
    outputs = TrackingOutputs(ctc=tmp_path / "01_RES", geff=tmp_path / "cells.geff", csv=tmp_path / "cells.csv")
    outputs.check()
    done = write_cell_tracking(TruthReplay(sim), sim.frames, tmp_path / "cells.zarr", outputs,
                               {"axes": "tyx"}, progress=False)
    truth = Lineage.from_labels(sim.labels, sim.lineage)
    assert (done.frames, done.tracks, done.divisions) == (len(sim.frames), len(truth), len(truth.divided()))
    assert done.written == [outputs.ctc, outputs.geff, outputs.csv]
    store = LabelsStore.open(tmp_path / "cells.zarr", mode="r")
    np.testing.assert_array_equal(store.array[:], sim.labels)
    assert store.load_lineage().tracks == truth.tracks
    labels, lineage = read_ctc_folder(outputs.ctc)
    np.testing.assert_array_equal(labels, sim.labels)
    assert lineage.tracks == truth.tracks
    graph, metadata = geff.read(str(outputs.geff))
    assert graph.number_of_nodes() == len(read_measurements_csv(outputs.csv)["frame"])
    assert metadata.related_objects[0].path.endswith("cells.zarr/0")
    with pytest.raises(FileExistsError, match="overwrite"):
        outputs.check()


def test_export_writes_the_outputs_of_a_store_and_refuses_what_is_not_its_own(dividing_sequence, tmp_path, capsys):
    sim = dividing_sequence
    write_cell_tracking(TruthReplay(sim), sim.frames, tmp_path / "cells.zarr", TrackingOutputs(), {"axes": "tyx"},
                        progress=False)
    tifffile.imwrite(tmp_path / "img.tif", sim.frames)
    (tmp_path / "notes.csv").write_text("mine\n")
    store = str(tmp_path / "cells.zarr")
    assert main(["export", store, "--csv", str(tmp_path / "notes.csv"), "--ctc", str(tmp_path / "01_RES")]) == 2
    assert "not a measurements table napari-sam2 wrote" in capsys.readouterr().err
    assert (tmp_path / "notes.csv").read_text() == "mine\n" and not (tmp_path / "01_RES").exists()
    tifffile.imwrite(tmp_path / "first.tif", sim.frames[:1])  # another image than the store's: its first frame
    assert main(["export", store, "--csv", str(tmp_path / "cells.csv"), "--image", str(tmp_path / "first.tif")]) == 2
    assert "the image has 1 frames" in capsys.readouterr().err and not (tmp_path / "cells.csv").exists()
    assert main(["export", store, "--csv", str(tmp_path / "cells.csv"), "--image", str(tmp_path / "img.tif"),
                 "--ctc", str(tmp_path / "01_RES")]) == 0
    table = read_measurements_csv(tmp_path / "cells.csv")
    first = (table["frame"] == 0) & (table["track_id"] == table["track_id"][0])
    assert table["mean_intensity"][first][0] == pytest.approx(sim.frames[0][sim.labels[0] == table["track_id"][0]].mean())
    assert read_ctc_folder(tmp_path / "01_RES")[1].tracks == Lineage.from_labels(sim.labels, sim.lineage).tracks
    LabelsStore.create(tmp_path / "clicked.zarr", (2, 8, 8))
    assert main(["export", str(tmp_path / "clicked.zarr"), "--ctc", str(tmp_path / "02_RES")]) == 2
    assert "have no lineage" in capsys.readouterr().err


def test_the_csv_and_geff_carry_the_images_physical_units_where_the_store_knows_them(dividing_sequence, tmp_path):
    """A time-lapse of 0.65 um pixels every 5 minutes: the CSV has time, centroid and area in those
    units beside the pixel columns, the GEFF axes their scale; a store of unknown units adds none."""
    sim = dividing_sequence
    geometry = {"axes": "tyx", "scale": [5.0, 0.65, 0.65], "units": ["minute", "micrometer", "micrometer"]}
    outputs = TrackingOutputs(geff=tmp_path / "cells.geff", csv=tmp_path / "cells.csv")
    write_cell_tracking(TruthReplay(sim), sim.frames, tmp_path / "cells.zarr", outputs, geometry, progress=False)
    table = read_measurements_csv(outputs.csv)
    np.testing.assert_allclose(table["time_minute"], table["frame"] * 5.0)
    np.testing.assert_allclose(table["y_micrometer"], table["y"] * 0.65)
    np.testing.assert_allclose(table["x_micrometer"], table["x"] * 0.65)
    np.testing.assert_allclose(table["area_micrometer2"], table["area"] * 0.65 ** 2)
    one = int(table["track_id"][0])
    assert table["area_micrometer2"][0] == pytest.approx((sim.labels[0] == one).sum() * 0.4225)
    _, metadata = geff.read(str(outputs.geff))
    assert [(a.name, a.scale, a.scaled_unit) for a in metadata.axes] == [
        ("t", 5.0, "minute"), ("y", 0.65, "micrometer"), ("x", 0.65, "micrometer")]
    plain = TrackingOutputs(csv=tmp_path / "plain.csv")
    write_cell_tracking(TruthReplay(sim), sim.frames, tmp_path / "plain.zarr", plain, {"axes": "tyx"}, progress=False)
    assert list(read_measurements_csv(plain.csv)) == ["frame", "track_id", "parent", "y", "x", "area", "mean_intensity"]
