"""Issue 15, defects 1 and 2: a prompt edit changes only what it is about, and a propagation
covers every object from its own prompts (the widget says which frames)."""
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_sam2._napari.session import TrackingSession
from napari_sam2.engine.loading import embedded_model_path, load_model
from napari_sam2.evaluation.prompts import central_click
from napari_sam2.testing.synthetic import moving_nuclei_video

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
TIMEOUT_MS = 120_000


def pixel_counts(labels: np.ndarray) -> dict[int, int]:
    ids, counts = np.unique(labels, return_counts=True)
    return {int(i): int(c) for i, c in zip(ids, counts) if i}


def click_at(session, frame, mask, obj_id=None):
    """A click at the centre of `mask` on `frame`, for a new object unless obj_id is given."""
    (x, y), _ = central_click(mask)
    if obj_id is None:
        obj_id = session.new_object()
    else:
        session.labels_layer.selected_label = obj_id
    session.points_layer.add([frame, y, x])
    session.sync_prompts()
    return obj_id


def assert_only_the_edited_object_changed(before: np.ndarray, after: np.ndarray, edited: int, frame: int):
    """Every other object keeps its pixels, except those the edited object now covers."""
    for obj_id in set(pixel_counts(before)) - {edited}:
        lost = (before == obj_id) & (after != obj_id)
        assert (after[lost] == edited).all(), f"frame {frame}: object {obj_id} lost pixels to no one"
        assert lost.sum() < (before == obj_id).sum(), f"frame {frame}: object {obj_id} was erased"
    assert not ((after != before) & (after != edited) & (before != edited)).any()


@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not in this installation")
def test_a_new_object_and_a_correction_keep_the_other_objects_labels(make_napari_viewer, tmp_path, capsys):
    """Defect 1 on the sample: cells 1-3 clicked on frame 0 and tracked forward; a new object on
    frame 5 and a correction of object 1 on frame 10 leave the other objects' labels alone."""
    frames = tifffile.imread(SAMPLE / "timelapse.tif")
    truth = tifffile.imread(SAMPLE / "timelapse_labels.tif")
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="timelapse"), load_model(),
                              store_path=tmp_path / "m.zarr")
    for cell in (1, 2, 3):
        click_at(session, 0, truth[0] == cell)
    assert len(list(session.propagate("forward"))) == len(frames)
    tracked = session.store.array[:]
    assert {1, 2, 3} <= set(pixel_counts(tracked[5])) and {1, 2, 3} <= set(pixel_counts(tracked[10]))

    free = [c for c in pixel_counts(truth[5]) if not tracked[5][truth[5] == c].any()]
    new = click_at(session, 5, truth[5] == max(free, key=lambda c: (truth[5] == c).sum()))
    with_new = session.store.array[:]
    click_at(session, 10, tracked[10] == 1, obj_id=1)  # a correction click on object 1
    corrected = session.store.array[:]
    with capsys.disabled():
        print(f"\nframe 5 before {pixel_counts(tracked[5])} after new object {new}: {pixel_counts(with_new[5])}")
        print(f"frame 10 before {pixel_counts(tracked[10])} after the correction of 1: {pixel_counts(corrected[10])}")

    assert pixel_counts(with_new[5]).get(new, 0) > 0
    assert_only_the_edited_object_changed(tracked[5], with_new[5], new, 5)
    assert_only_the_edited_object_changed(with_new[10], corrected[10], 1, 10)
    for frame in set(range(len(frames))) - {5}:
        np.testing.assert_array_equal(with_new[frame], tracked[frame])
    for frame in set(range(len(frames))) - {10}:
        np.testing.assert_array_equal(corrected[frame], with_new[frame])


def test_propagation_covers_each_object_from_its_own_prompts(make_napari_viewer, qtbot, micro_model, notifications, tmp_path):
    """Defect 2: clicks on frame 19, both ways; a new object on frame 30, then "Propagate
    backward" covers 30 -> 0; a correction on frame 25, then "Propagate forward" 25 -> 39."""
    from napari_sam2._napari.widget import TrackingWidget

    frames, truth = moving_nuclei_video(40, 96, 128, 3, seed=4, leaving=False)
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    widget = TrackingWidget(viewer, model=micro_model)
    widget.store_edit.setText(str(tmp_path / "cells.zarr"))
    widget.start_button.click()
    session = widget.session

    def run(button) -> list[int]:
        button.click()
        qtbot.waitUntil(lambda: not widget.runner.running, timeout=TIMEOUT_MS)
        return list(widget.runner.frames_done)

    def click(frame, cell, obj_id=None):  # decoded in the widget's prompt worker
        (x, y), _ = central_click(truth[0] == cell)  # random weights: any place will do
        if obj_id is None:
            widget.new_object_button.click()
        else:
            session.labels_layer.selected_label = obj_id
        session.points_layer.add([frame, y, x])
        qtbot.waitUntil(lambda: not widget.prompt_worker.running, timeout=TIMEOUT_MS)

    click(19, 1)
    assert run(widget.both_button) == [*range(19, 40), *range(18, -1, -1)]
    click(30, 2)
    assert run(widget.backward_button) == list(range(30, -1, -1))
    assert "tracking frames 30 -> 0" in notifications["info"]
    click(25, 1, obj_id=1)
    assert run(widget.forward_button) == list(range(25, 40))
    assert "tracking frames 25 -> 39" in notifications["info"]
    assert notifications["error"] == []


def test_reopening_a_store_keeps_every_object_on_the_prompted_frames(make_napari_viewer, micro_model, video, cell_centres,
                                                                     tmp_path):
    """Defect 1 on reopening: the restored prompts are applied again, and the other objects'
    pixels on their frames stay (the store is as it was left)."""
    frames, _ = video
    viewer = make_napari_viewer()
    first = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    for frame, obj_id in ((0, 1), (3, 2)):
        first.new_object()
        first.points_layer.add([frame, *cell_centres[obj_id]])
    list(first.propagate("forward"))
    first.labels_layer.data[0, :5, :5] = 9  # painted by hand
    saved = first.store.array[:]
    assert (saved[3] == 1).any() and (saved[0] == 9).any()

    viewer2 = make_napari_viewer()
    again = TrackingSession(viewer2, viewer2.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    assert again.tracker.conditioning_frames(2) == [3]
    np.testing.assert_array_equal(again.store.array[:], saved)


def test_the_user_is_told_when_a_prompt_edit_makes_a_propagation_final(
        make_napari_viewer, micro_model, video, cell_centres, tmp_path, monkeypatch):
    import napari_sam2._napari.session as session_module

    told = []
    monkeypatch.setattr(session_module, "show_info", told.append)
    frames, _ = video
    viewer = make_napari_viewer()
    session = TrackingSession(viewer, viewer.add_image(frames, name="cells"), micro_model, store_path=tmp_path / "m.zarr")
    click_at(session, 0, np.ones((96, 128), bool))
    list(session.propagate("forward"))
    assert told == []
    click_at(session, 5, np.ones((96, 128), bool), obj_id=1)  # a correction
    assert told == ["the last propagation is final now: a prompt was edited after it, so undo no longer takes it back"]
