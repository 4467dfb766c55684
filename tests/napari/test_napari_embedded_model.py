"""The plugin with the shipped embedded model on the shipped sample time-lapse: clicks on three
cells of frame 0, propagation in the widget, and the result scored against the simulator's
ground truth (the model card's one-click J&F is the bar)."""
from pathlib import Path

import numpy as np
import pytest
import tifffile

from model_card import stated_jf
from napari_sam2._napari.widget import TrackingWidget
from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.evaluation.metrics import j_and_f
from napari_sam2.evaluation.prompts import central_click
from napari_sam2.simulation import descendants, read_lineage
from napari_sam2.storage import LabelsStore

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
CELLS = (1, 2, 3)  # the first three ids; cells 1 and 3 divide later (truth: the union of daughters)
TIMEOUT_MS = 300_000
# Measured 0.845 with the shipped model (card: 0.879 with one click). Dim cell 3 touches bright
# cell 1 and a click on either gives a mask of both on frame 0; without the tracker's separate
# memories the two then drift onto each other (0.621 with the previous model).

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not in this installation yet"),
]


def truth_of(labels: np.ndarray, lineage: dict[int, int], cell: int) -> np.ndarray:
    return np.isin(labels, [cell, *descendants(lineage, cell)])


def test_three_clicked_cells_are_tracked_through_the_sample_time_lapse(make_napari_viewer, qtbot, tmp_path):
    """Was an expected failure from session 12 on: with the tiled tracker cell 3 slowly takes cell 1's side
    after frame 12 (all three ids in 29/40 frames, J&F 0.662; with prompted memories separated, issue 17,
    40/40 frames but J&F 0.814 against the bar 0.829). Passes since the labels written for clicked cells
    grow to the cells' outlines (session 23, engine/clicked_outlines.py)."""
    frames = tifffile.imread(SAMPLE / "timelapse.tif")
    labels = tifffile.imread(SAMPLE / "timelapse_labels.tif")
    lineage = read_lineage(SAMPLE / "timelapse_lineage.csv")
    viewer = make_napari_viewer()
    viewer.add_image(frames, name="timelapse")
    viewer.dims.current_step = (0, *viewer.dims.current_step[1:])  # napari opens stacks in the middle
    widget = TrackingWidget(viewer)  # no model given: the embedded default
    widget.store_edit.setText(str(tmp_path / "timelapse.zarr"))
    widget.start_button.click()
    qtbot.waitUntil(lambda: widget.session is not None, timeout=TIMEOUT_MS)
    for cell in CELLS:
        (x, y), _ = central_click(labels[0] == cell)
        widget.new_object_button.click()
        widget.session.points_layer.add([0, y, x])
    widget.forward_button.click()  # starts once the clicks are applied
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT_MS)

    layer_data = np.asarray(widget.session.labels_layer.data)
    frames_with_all = sum(set(CELLS) <= set(np.unique(frame)) for frame in layer_data)
    assert frames_with_all >= 0.9 * len(frames), f"all three ids in only {frames_with_all}/{len(frames)} frames"
    scores = [j_and_f(layer_data == cell, truth_of(labels, lineage, cell)) for cell in CELLS]
    jf = float(np.mean([(j + f) / 2 for j, f in scores]))
    on_disk = LabelsStore.open(tmp_path / "timelapse.zarr").array[:]
    np.testing.assert_array_equal(on_disk, layer_data)
    bar = stated_jf("1 click") - 0.05  # issue #5: the model card's one-click J&F within 0.05
    assert jf >= bar, f"J&F {jf:.3f} (J, F per cell {scores}) below the card's one-click {stated_jf('1 click')} - 0.05"
