"""Console scripting on layer objects: napari_sam2.track_layers and propagate_now."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_sam2 as ns
from engine_labels import reference_labels
from slow_work import slow_prefetch


def test_track_points_on_an_image_layer_into_a_labels_layer(make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    clicks = viewer.add_points(np.array([[0, r, c] for r, c in cell_centres.values()]), name="my clicks")
    session = ns.track_layers(viewer, "cells", points=clicks, model=micro_model, direction="forward",
                              store=tmp_path / "m.zarr")
    assert session.tracker.object_ids == (1, 2, 3)  # one object per point
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    np.testing.assert_array_equal(np.asarray(session.labels_layer.data), expected)
    assert session.labels_layer in viewer.layers


def test_a_scaled_points_layer_with_ids_and_signs_and_a_box_layer(make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    (r1, c1), (r2, c2) = cell_centres[1], cell_centres[2]
    # drawn on a layer at twice the image's pixel size: coordinates are converted through the world
    clicks = viewer.add_points(np.array([[0, r1 / 2, c1 / 2], [0, r2 / 2, c2 / 2]]), scale=(1, 2, 2),
                               features={"obj_id": [4, 4], "positive": [True, False]})
    boxes = viewer.add_shapes([np.array([[0, 5, 5], [0, 5, 30], [0, 30, 30], [0, 30, 5]], float)], shape_type="rectangle")
    session = ns.track_layers(viewer, "cells", points=clicks, shapes=boxes, model=micro_model,
                              direction="forward", store=tmp_path / "m.zarr")
    assert session.tracker.object_ids == (4, 5)
    np.testing.assert_allclose(session.points_layer.data[:, 1:], [[r1, c1], [r2, c2]])
    assert list(session.points_layer.features["positive"]) == [True, False]
    assert list(session.shapes_layer.features["obj_id"]) == [5]
    session.points_layer.add([4, r1, c1])  # a correction, then track again from there
    assert ns.propagate_now(session, "forward", start=4) == [4, 5, 6, 7]


def test_console_errors_say_what_to_do(make_napari_viewer, micro_model, video):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    with pytest.raises(ValueError, match="no layer named 'cels'"):
        ns.track_layers(viewer, "cels", model=micro_model)
    with pytest.raises(ValueError, match="no prompts"):
        ns.track_layers(viewer, "cells", points=viewer.add_points(name="empty"), model=micro_model)
    with pytest.raises(ValueError, match="must be a Points layer"):
        ns.track_layers(viewer, "cells", points="cells", model=micro_model)


def test_the_background_forms_return_at_once_and_give_the_same_labels(make_napari_viewer, qtbot, micro_model, video, cell_centres,
                                                                      tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    clicks = viewer.add_points(np.array([[0, r, c] for r, c in cell_centres.values()]), name="my clicks")
    tracking = ns.start_tracking(viewer, "cells", points=clicks, model=micro_model, direction="forward",
                                 store=tmp_path / "m.zarr")
    assert tracking.running and tracking.session.tracker.object_ids == ()  # nothing decoded in this thread
    qtbot.waitUntil(lambda: not tracking.running, timeout=60_000)
    session = tracking.session
    assert tracking.frames_done == list(range(8)) and tracking.error is None
    expected = reference_labels(micro_model, frames, [(o, r, c) for o, (r, c) in cell_centres.items()])
    np.testing.assert_array_equal(np.asarray(session.labels_layer.data), expected)
    session.points_layer.add([4, *cell_centres[1]])  # a correction, then track again from there
    again = ns.propagate_in_background(session, "forward", start=4)
    assert again.running
    assert again.wait(timeout=60) == [4, 5, 6, 7] and not again.running


def test_a_background_run_that_cannot_start_says_why(make_napari_viewer, micro_model, video, tmp_path, monkeypatch):
    import napari_sam2._napari.console as console

    shown = []
    monkeypatch.setattr(console, "show_error", shown.append)
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    clicks = viewer.add_points(np.array([[0, 50, 400]]))  # off the image: skipped (and told), so nothing to track
    tracking = ns.start_tracking(viewer, "cells", points=clicks, model=micro_model, store=tmp_path / "m.zarr")
    assert not tracking.running and "nothing to track" in str(tracking.error) and len(shown) == 1


def test_closing_napari_after_the_console_api_waits_for_the_feature_worker(
        make_napari_viewer, qtbot, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer(show=True)
    viewer.add_image(frames, name="cells")
    clicks = viewer.add_points(np.array([[0, *cell_centres[1]]]))
    session = ns.track_layers(viewer, "cells", points=clicks, model=micro_model, direction="forward", start=6,
                              store=tmp_path / "m.zarr")
    started, computed = slow_prefetch(session.tracker)
    viewer.dims.set_current_step(0, 1)  # moving the time slider computes frame 3 in a worker
    qtbot.waitUntil(lambda: started == [1], timeout=60_000)
    viewer.close()
    assert computed == [1] and session.prefetcher.closed  # waited for; no other worker starts
    session.prefetcher.request(4)
    qtbot.wait(700)
    assert started == [1]


def test_closing_napari_after_the_console_api_exits_cleanly(tmp_path):
    """The reported abort (exit 134) happens only in a process of its own, at its end."""
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")])}
    script = Path(__file__).with_name("close_after_console.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "m.zarr")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "computed at close: True" in done.stdout  # closing waited for the frame being computed
    assert "has been deleted" not in done.stderr


def test_tracking_the_same_image_again_from_the_console_replaces_the_earlier_session(
        make_napari_viewer, micro_model, video, cell_centres, tmp_path):
    frames, _ = video
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="cells")
    clicks = viewer.add_points(np.array([[0, *cell_centres[1]]]), name="my clicks")
    first = ns.track_layers(viewer, "cells", points=clicks, model=micro_model, direction="forward",
                            store=tmp_path / "m.zarr")
    second = ns.track_layers(viewer, "cells", points=clicks, model=micro_model, direction="forward",
                             store=tmp_path / "m.zarr")
    names = [layer.name for layer in viewer.layers]
    assert names == ["cells", "my clicks", "cells tracked labels", "cells boxes and masks", "cells clicks"], names
    assert first.prefetcher.closed and second.labels_layer in viewer.layers
