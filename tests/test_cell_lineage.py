"""The lineage data structure and the Cell Tracking Challenge folder, on simulated ground truth."""
import numpy as np
import pytest
import tifffile

from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.storage.ctc_folder import read_ctc_folder, write_ctc_folder


def test_lineage_from_truth_agrees_with_the_stack(dividing_sequence):
    sim = dividing_sequence
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    assert lineage.check(sim.labels) == []
    assert lineage.parents() == {d: p for d, p in sim.lineage.items() if d in lineage}
    for parent, daughters in lineage.divisions().items():
        assert all(lineage.tracks[d].start == lineage.tracks[parent].end + 1 for d in daughters)


def test_a_parent_link_the_labels_contradict_is_dropped(dividing_sequence):
    sim = dividing_sequence
    truth = Lineage.from_labels(sim.labels, sim.lineage)
    parent, daughters = next((p, d) for p, d in truth.divisions().items() if truth.tracks[d[0]].end > truth.tracks[p].end + 1)
    labels, start = sim.labels.copy(), truth.tracks[daughters[0]].start
    labels[start][labels[start] == daughters[0]] = parent  # e.g. the parent propagated over a daughter
    lineage = Lineage.from_labels(labels, sim.lineage)
    assert lineage.check(labels) == []
    assert lineage.tracks[daughters[1]].parent == 0  # born while its parent is still there: no link
    assert lineage.tracks[daughters[0]].parent == parent  # it starts a frame later now, after its parent


def test_check_names_what_disagrees(dividing_sequence):
    sim = dividing_sequence
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    some_id = next(iter(lineage.tracks))
    del lineage.tracks[some_id]
    problems = lineage.check(sim.labels)
    assert any(f"label {some_id}" in p for p in problems)
    with pytest.raises(ValueError, match="new id"):
        lineage.begin(next(iter(lineage.tracks)), 0)


def test_ctc_folder_round_trip_and_refusals(dividing_sequence, tmp_path):
    sim = dividing_sequence
    lineage = Lineage.from_labels(sim.labels, sim.lineage)
    out = tmp_path / "01_RES"
    write_ctc_folder(out, sim.labels, lineage)
    labels, read = read_ctc_folder(out)
    np.testing.assert_array_equal(labels, sim.labels)
    assert read.tracks == lineage.tracks
    with pytest.raises(FileExistsError, match="overwrite"):
        write_ctc_folder(out, sim.labels, lineage)
    write_ctc_folder(out, sim.labels, lineage, overwrite=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    tifffile.imwrite(foreign / "mask000.tif", np.zeros((4, 4), np.uint16))
    with pytest.raises(FileExistsError, match="not a tracking result"):
        write_ctc_folder(foreign, sim.labels, lineage, overwrite=True)
    assert sorted(p.name for p in foreign.iterdir()) == ["mask000.tif"]
    broken = Lineage.from_labels(sim.labels[:-1], sim.lineage)
    with pytest.raises(ValueError, match="do not agree"):
        write_ctc_folder(tmp_path / "bad", sim.labels, broken)
    assert not (tmp_path / "bad").exists()


def test_traccuracy_scores_the_truth_as_perfect(dividing_sequence, tmp_path):
    import traccuracy
    from traccuracy.loaders import load_ctc_data
    from traccuracy.matchers import CTCMatcher
    from traccuracy.metrics import CTCMetrics
    sim = dividing_sequence
    write_ctc_folder(tmp_path / "gt", sim.labels, Lineage.from_labels(sim.labels, sim.lineage))
    gt = load_ctc_data(str(tmp_path / "gt"), str(tmp_path / "gt" / "res_track.txt"))
    pred = load_ctc_data(str(tmp_path / "gt"), str(tmp_path / "gt" / "res_track.txt"))
    results, _ = traccuracy.run_metrics(gt_data=gt, pred_data=pred, matcher=CTCMatcher(), metrics=[CTCMetrics()])
    assert results[0]["results"]["TRA"] == pytest.approx(1.0)


def test_a_parent_with_one_daughter_is_a_gap_not_a_division():
    """A z-stack's "Track all cells" in the widget said "1 divisions": a nucleus lost on one slice
    and found again goes on under a new id whose parent is its track before the gap."""
    lineage = Lineage()
    for track_id, frame, parent in ((1, 0, 0), (2, 0, 0), (3, 2, 1), (4, 3, 2), (5, 3, 2)):
        lineage.begin(track_id, frame, parent)
    lineage.extend(2, 2)
    assert lineage.divisions() == {1: [3], 2: [4, 5]}  # every parent link
    assert lineage.divided() == {2: [4, 5]}  # the division: what the command line and the widget count
