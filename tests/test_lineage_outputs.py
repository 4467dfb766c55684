"""The outputs of a tracked time-lapse besides the CTC folder, made from simulated ground truth
(labels with one id per track, the simulator's lineage): the measurements table and its CSV, GEFF
read back with geff's own reader, the napari Tracks layer data, the lineage kept in the store."""
import geff
import numpy as np
import pytest
import zarr
from geff.validate.data import ValidationConfig

from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.engine.cell_measurements import measure_cells
from napari_sam2.engine.track_graph import tracks_layer_data
from napari_sam2.simulation import SimulationConfig, simulate_zstack
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.geff_file import write_geff
from napari_sam2.storage.measurements_csv import read_measurements_csv, write_measurements_csv


@pytest.fixture(scope="module")
def truth(dividing_sequence):
    sim = dividing_sequence
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    return sim, lineage, measure_cells(sim.labels, lineage, sim.frames)


def test_measurements_are_each_cells_pixels(truth):
    sim, lineage, table = truth
    pairs = {(t, int(i)) for t in range(len(sim.labels)) for i in np.unique(sim.labels[t]) if i}
    assert set(zip(table["frame"].tolist(), table["track_id"].tolist())) == pairs
    assert len(table["frame"]) == len(pairs)
    for row in range(0, len(table["frame"]), 17):  # a sample of rows, checked against numpy
        t, i = table["frame"][row], table["track_id"][row]
        mask = sim.labels[t] == i
        rows, cols = np.nonzero(mask)
        assert table["area"][row] == mask.sum()
        assert table["y"][row] == pytest.approx(rows.mean()) and table["x"][row] == pytest.approx(cols.mean())
        assert table["mean_intensity"][row] == pytest.approx(sim.frames[t][mask].mean())
        assert table["parent"][row] == sim.lineage.get(int(i), 0)


def test_geff_read_back_by_geff_has_the_simulators_divisions(truth, tmp_path):
    sim, lineage, table = truth
    write_geff(tmp_path / "tracks.geff", table, lineage, labels_path=tmp_path / "labels.zarr" / "0")
    checks = ValidationConfig(graph=True, tracklet=True, lineage=True)  # geff's own: ids, edges, tracklets, lineages
    graph, metadata = geff.read(str(tmp_path / "tracks.geff"), data_validation=checks)
    assert graph.number_of_nodes() == len(table["frame"])
    assert [a.name for a in metadata.axes] == ["t", "y", "x"]
    one_daughter = [p for p, d in lineage.divisions().items() if len(d) == 1]
    assert one_daughter  # this sequence has a division with a daughter never seen: no GEFF tracklets then
    assert metadata.track_node_props == {"lineage": "lineage_id"}
    node = graph.nodes[0]
    assert (node["t"], node["track_id"], node["area"]) == (table["frame"][0], table["track_id"][0], table["area"][0])
    between_tracks = [(graph.nodes[u], graph.nodes[v]) for u, v in graph.edges
                      if graph.nodes[u]["track_id"] != graph.nodes[v]["track_id"]]
    assert {(v["track_id"], u["track_id"]) for u, v in between_tracks} == set(sim.lineage.items()) & set(
        lineage.parents().items())
    for u, v in between_tracks:  # from the parent's last frame to the daughter's first
        assert u["t"] == lineage.tracks[u["track_id"]].end and v["t"] == lineage.tracks[v["track_id"]].start
        assert v["t"] == u["t"] + 1
    assert all(graph.edges[e]["division"] == (graph.nodes[e[0]]["track_id"] != graph.nodes[e[1]]["track_id"])
               for e in graph.edges)
    within = graph.number_of_edges() - len(between_tracks)
    assert within == graph.number_of_nodes() - len(lineage)  # each track a chain of its nodes


def test_geff_never_replaces_what_napari_sam2_did_not_write(truth, tmp_path):
    _, lineage, table = truth
    write_geff(tmp_path / "t.geff", table, lineage)
    with pytest.raises(FileExistsError, match="overwrite"):
        write_geff(tmp_path / "t.geff", table, lineage)
    write_geff(tmp_path / "t.geff", table, lineage, overwrite=True)
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w").attrs["mine"] = 1
    with pytest.raises(FileExistsError, match="not a GEFF napari-sam2 wrote"):
        write_geff(tmp_path / "other.zarr", table, lineage, overwrite=True)
    assert zarr.open_group(str(tmp_path / "other.zarr"), mode="r").attrs["mine"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.zarr", "t.geff"]  # no partial left


def test_csv_round_trip_and_refusal(truth, tmp_path):
    _, _, table = truth
    write_measurements_csv(tmp_path / "cells.csv", table)
    read = read_measurements_csv(tmp_path / "cells.csv")
    assert list(read) == ["frame", "track_id", "parent", "y", "x", "area", "mean_intensity"]
    for name in table:
        np.testing.assert_allclose(read[name], table[name])
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FileExistsError, match="not a measurements table"):
        write_measurements_csv(tmp_path / "notes.csv", table, overwrite=True)
    assert (tmp_path / "notes.csv").read_text() == "a,b\n1,2\n"


def test_tracks_layer_data_draws_the_divisions(truth):
    sim, lineage, table = truth
    data, graph = tracks_layer_data(table, lineage)
    assert data.shape == (len(table["frame"]), 4)
    assert graph == {d: [p] for d, p in lineage.parents().items()} and graph
    first = data[data[:, 0] == data[0, 0]]
    assert (np.diff(first[:, 1]) > 0).all()  # a track's points in time order


def test_the_store_keeps_the_lineage_and_undo_puts_it_back(truth, tmp_path):
    sim, lineage, _ = truth
    store = LabelsStore.create(tmp_path / "s.zarr", sim.labels.shape)
    assert store.load_lineage() is None  # a store without one (clicks, or an earlier napari-sam2)
    store.save_lineage(lineage)
    assert LabelsStore.open(tmp_path / "s.zarr").load_lineage().tracks == lineage.tracks
    store.begin_undoable()
    store.save_lineage(Lineage())
    store.undo()
    assert LabelsStore.open(tmp_path / "s.zarr").load_lineage().tracks == lineage.tracks


def test_a_z_stack_geff_has_z_as_a_space_axis(tmp_path):
    sim = simulate_zstack(SimulationConfig(num_frames=10), seed=1)
    lineage = Lineage.from_labels(sim.labels)
    write_geff(tmp_path / "z.geff", measure_cells(sim.labels, lineage), lineage, frame_axis="z")
    graph, metadata = geff.read(str(tmp_path / "z.geff"))
    assert [(a.name, a.type) for a in metadata.axes] == [("z", "space"), ("y", "space"), ("x", "space")]
    assert {graph.nodes[n]["z"] for n in graph.nodes} == set(range(10)) - {
        z for z in range(10) if not sim.labels[z].any()}


def test_track_ids_are_geff_tracklets_when_every_division_has_two_daughters(truth, tmp_path):
    sim, lineage, table = truth
    parents = {d: p for d, p in lineage.parents().items() if len(lineage.daughters(p)) == 2}
    two_daughters = Lineage.from_labels(sim.labels, parents)
    write_geff(tmp_path / "t.geff", table, two_daughters)
    checks = ValidationConfig(graph=True, tracklet=True, lineage=True)
    _, metadata = geff.read(str(tmp_path / "t.geff"), data_validation=checks)
    assert metadata.track_node_props == {"lineage": "lineage_id", "tracklet": "track_id"}
