"""Corrections of a tracking result, on simulated ground truth made wrong the way trackers go
wrong: each edit gives back labels and a lineage that agree, and the truth where it should."""
import numpy as np
import pytest

from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.engine.lineage_edits import (
    LineageEditError,
    StackFrames,
    delete_track,
    join_tracks,
    mark_division,
    undo_division,
)
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.store_edits import edit_store


@pytest.fixture
def truth(dividing_sequence):
    sim = dividing_sequence
    return sim.labels.copy(), Lineage.from_labels(sim.labels, sim.lineage)


def a_division(lineage: Lineage) -> tuple[int, list[int]]:
    parent, daughters = next((p, d) for p, d in lineage.divisions().items() if len(d) == 2)
    return parent, daughters


def test_delete_a_track_that_divided(truth):
    labels, lineage = truth
    parent, daughters = a_division(lineage)
    edited = delete_track(StackFrames(labels), lineage, parent)
    assert not (labels == parent).any() and parent not in edited
    assert all(edited.tracks[d].parent == 0 for d in daughters)
    assert edited.check(labels) == []
    assert parent in lineage  # the lineage given is unchanged


def test_join_a_track_broken_in_two(truth):
    labels, lineage = truth
    track = max(lineage.tracks.values(), key=lambda t: t.end - t.start)
    broken_at, new_id = (track.start + track.end) // 2 + 1, lineage.next_id()
    broken = labels.copy()
    broken[broken_at:][broken[broken_at:] == track.track_id] = new_id  # the tracker lost the cell and found it again
    daughters = {d: (new_id if p == track.track_id else p) for d, p in lineage.parents().items()}
    broken_lineage = Lineage.from_labels(broken, daughters)
    assert broken_lineage.check(broken) == []
    joined = join_tracks(StackFrames(broken), broken_lineage, track.track_id, new_id)
    np.testing.assert_array_equal(broken, labels)
    assert joined.tracks == lineage.tracks
    on_frame_0 = [i for i, t in joined.tracks.items() if t.start == 0 and not joined.daughters(i)]
    with pytest.raises(LineageEditError, match="overlap"):
        join_tracks(StackFrames(broken), joined, on_frame_0[0], on_frame_0[1])


def test_mark_a_division_with_two_daughters_and_undo_it(truth):
    labels, lineage = truth
    parent, daughters = a_division(lineage)
    missed = undo_division(lineage, parent)  # the tracker saw two new cells, not a division
    assert missed.daughters(parent) == [] and missed.check(labels) == []
    marked = mark_division(StackFrames(labels), missed, parent, daughters)
    assert marked.tracks == lineage.tracks
    assert undo_division(marked, parent).tracks == missed.tracks


def test_mark_a_division_the_tracker_followed_as_one_daughter(truth):
    labels, lineage = truth
    parent, (kept, other) = a_division(lineage)
    followed = labels.copy()
    followed[followed == kept] = parent  # the parent's id went on with one daughter
    parents = {d: p for d, p in lineage.parents().items() if p != parent}
    parents.update({d: parent for d, p in lineage.parents().items() if p == kept})
    tracked = Lineage.from_labels(followed, parents)
    edited = mark_division(StackFrames(followed), tracked, parent, [other])
    continuation = max(edited.tracks)
    assert edited.daughters(parent) == sorted([other, continuation])
    assert edited.check(followed) == []
    np.testing.assert_array_equal(followed == continuation, labels == kept)
    assert edited.tracks[parent] == lineage.tracks[parent]
    assert edited.daughters(continuation) == lineage.daughters(kept)


def test_refused_edits_change_nothing(truth):
    labels, lineage = truth
    parent, daughters = a_division(lineage)
    before = labels.copy()
    for edit, message in [(lambda: mark_division(StackFrames(labels), lineage, parent, daughters), "already divided"),
                          (lambda: join_tracks(StackFrames(labels), lineage, parent, daughters[0]), "undo that division"),
                          (lambda: delete_track(StackFrames(labels), lineage, 10_000), "no track 10000"),
                          (lambda: undo_division(lineage, daughters[0]), "did not divide")]:
        with pytest.raises(LineageEditError, match=message):
            edit()
    np.testing.assert_array_equal(labels, before)


def test_an_edit_of_a_store_is_undone_with_its_lineage(truth, tmp_path):
    labels, lineage = truth
    store = LabelsStore.create(tmp_path / "s.zarr", labels.shape)
    for t, frame in enumerate(labels):
        store.write_frame(t, frame)
    store.save_lineage(lineage)
    parent, _ = a_division(lineage)
    edited = edit_store(store, lambda frames, lin: delete_track(frames, lin, parent))
    reopened = LabelsStore.open(tmp_path / "s.zarr")
    assert reopened.load_lineage().tracks == edited.tracks
    stack = np.stack([reopened.read_frame(t) for t in range(reopened.num_frames)])
    assert not (stack == parent).any() and edited.check(stack) == []
    assert reopened.undo()
    np.testing.assert_array_equal(np.stack([reopened.read_frame(t) for t in range(len(labels))]), labels)
    assert reopened.load_lineage().tracks == lineage.tracks
