"""widget_text.py: what the widget says, without Qt."""
from napari_sam2._napari.widget_text import next_step, progress_text


def test_the_next_step_follows_the_session():
    assert "press 'Start tracking this image'" in next_step(False, False)
    first = "Editing object 1: click the centre of a cell in the layer 'cells clicks'"
    assert next_step(True, False, 1, 0, "cells clicks").startswith(first)
    assert next_step(True, False, 4, 3).startswith("Editing object 4 (3 objects so far)")
    assert "'Stop' keeps the frames done" in next_step(True, True, 4, 3)
    after_track_all = next_step(True, False, 7, 40, tracked=(40, 7))
    assert after_track_all.startswith("40 tracks and 7 divisions in the labels; track 7 is selected")
    assert "'New object'" in after_track_all and next_step(True, False, 1, 1, tracked=(1, 1)).startswith("1 track and 1 division")


def test_progress_says_frames_done_and_time_left_from_the_pace_so_far():
    assert progress_text(0, 40, 0.0) == "0 / 40 frames"
    assert progress_text(10, 40, 5.0) == "10 / 40 frames, about 15 s left"
    assert progress_text(10, 40, 30.0) == "10 / 40 frames, about 1 min 30 s left"
    assert progress_text(40, 40, 80.0) == "40 / 40 frames"
