"""Click mode's labels grown to the cell's outline as they are written (engine/clicked_outlines.py):
on textured nuclei drawn here (test_cell_outlines' frame), through FrameResult.paint_onto, and
through the tracker on held-out realistic simulated frames."""
import numpy as np

from napari_sam2 import ArrayFrames, MaskCleanup, TiledVideoTracker, load_model
from napari_sam2.engine.cell_outlines import grown_to_outlines
from napari_sam2.engine.clicked_outlines import grown_into_cells, outline_image
from napari_sam2.evaluation import boundary_measure, central_click, region_similarity
from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_timelapse
from test_cell_outlines import _disk, _textured_nuclei


def _part_of_a(image: np.ndarray, a: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return a & (cols < 46) & (rows > 39)  # a click's mask: A without its top and right


def test_a_clicked_cell_grows_to_its_nucleus_and_not_into_its_unlabelled_neighbour():
    image, a, b = _textured_nuclei()
    labels = np.where(_part_of_a(image, a), 3, 0).astype(np.uint16)  # B is not labelled: no one clicked it
    grown = grown_into_cells(labels, [3], image)
    assert grown.dtype == labels.dtype and (grown[labels != 0] == 3).all()
    assert (labels == 3)[a].mean() <= 0.7 and (grown == 3)[a].mean() >= 0.9
    assert (grown == 3)[b].mean() <= 0.05, (grown == 3)[b].mean()
    alone = grown_to_outlines(image, labels.astype(np.int64), reach=9, window=28)  # no neighbour to stop it
    assert (alone == 3)[b].mean() > (grown == 3)[b].mean()


def test_only_unlabelled_pixels_change_and_only_for_the_objects_written():
    image, a, b = _textured_nuclei()
    labels = np.zeros(image.shape, np.uint32)
    labels[_part_of_a(image, a)] = 3
    labels[_disk(image.shape, (48, 67), 9)] = 9
    grown = grown_into_cells(labels, [3], image)
    assert (grown[labels != 0] == labels[labels != 0]).all() and (grown == 9).sum() == (labels == 9).sum()
    assert (grown == 3).sum() > (labels == 3).sum()
    assert (grown_into_cells(labels, [], image) == labels).all() and (grown_into_cells(labels, [7], image) == labels).all()


def test_written_labels_grow_unless_the_clean_up_is_off_or_the_user_gave_the_outline():
    sim = simulate_timelapse(realistic_config(height=128, width=128, num_frames=2), EVALUATION_SEEDS + 651)
    model = load_model(device="cpu")
    assert outline_image(TiledVideoTracker(model, ArrayFrames(sim.frames), cleanup=MaskCleanup.off()), 0) is None
    cells = [c for c in np.unique(sim.labels[0])[1:] if (sim.labels[0] == c).sum() >= 80]
    tracker = TiledVideoTracker(model, ArrayFrames(sim.frames))
    image = outline_image(tracker, 0)
    written = {"grown": np.zeros(tracker.video_hw, np.uint32), "model's masks": np.zeros(tracker.video_hw, np.uint32)}
    for obj_id, cell in enumerate(cells, start=1):  # clicked one after the other, each written (the plugin's way)
        (x, y), _ = central_click(sim.labels[0] == cell)
        result = tracker.add_points(0, obj_id, [[x, y]], [1])
        written["grown"] = result.paint_onto(written["grown"], image)
        written["model's masks"] = result.paint_onto(written["model's masks"], None)
    grown, plain = written["grown"], written["model's masks"]
    assert (grown[plain != 0] == plain[plain != 0]).all()  # growth only
    last = len(cells)
    given = result.paint_onto(np.where(grown == last, 0, grown), image, as_given=[last])
    assert ((given == last) == (plain == last)).all()  # the user's outline (a mask drawn, a "not here" click): as it is
    truth = {i: sim.labels[0] == c for i, c in enumerate(cells, start=1)}
    j_and_f = {name: np.mean([region_similarity(labels == i, t) + boundary_measure(labels == i, t) for i, t in truth.items()]) / 2
               for name, labels in written.items()}
    assert j_and_f["grown"] > j_and_f["model's masks"] + 0.01, j_and_f  # measured 0.847 -> 0.872


def test_segment_writes_clicks_grown_as_the_plugin_does(tmp_path):
    """`segment` (one image, clicks from a CSV) writes the clicked cells grown to their outlines, as
    the plugin and `track` write them: the model's masks and more of each nucleus."""
    import tifffile

    from napari_sam2 import TiledImagePredictor
    from napari_sam2.cli import main

    sim = simulate_timelapse(realistic_config(height=128, width=128, num_frames=1), EVALUATION_SEEDS + 652)
    cells = [c for c in np.unique(sim.labels[0])[1:] if (sim.labels[0] == c).sum() >= 80]
    clicks = {i: central_click(sim.labels[0] == c)[0] for i, c in enumerate(cells, start=1)}
    tifffile.imwrite(tmp_path / "frame.tif", sim.frames[0])
    (tmp_path / "clicks.csv").write_text("obj_id,x,y\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in clicks.items()))
    assert main(["segment", str(tmp_path / "frame.tif"), "--points", str(tmp_path / "clicks.csv"),
                 "--out", str(tmp_path / "labels.tif"), "--threads", "1"]) == 0
    written = tifffile.imread(tmp_path / "labels.tif")
    predictor = TiledImagePredictor(load_model(device="cpu"))
    predictor.set_image(sim.frames[0])
    plain = np.zeros(written.shape, written.dtype)
    for i, (x, y) in clicks.items():  # the model's masks, as segment decodes them, before growth
        local, prediction = predictor.predict_local([[x, y]], [1])
        (y0, y1, x0, x1), mask = local.box, local.logits[prediction.best].numpy() > 0
        plain[y0:y1, x0:x1][mask & (plain[y0:y1, x0:x1] == 0)] = i
    truth = {i: sim.labels[0] == c for i, c in enumerate(cells, start=1)}
    covered = {name: np.mean([((labels == i) & t).sum() / t.sum() for i, t in truth.items()])
               for name, labels in (("written", written), ("model's masks", plain))}
    assert covered["written"] > covered["model's masks"] + 0.02, covered
    assert np.mean([((written == i) & ~t).sum() / t.sum() for i, t in truth.items()]) < 0.15  # not over the neighbours


def test_a_negative_click_or_a_drawn_mask_keeps_the_users_outline():
    from napari_sam2.engine.clicked_outlines import written_as_given

    clicks = [(1, True), (2, True), (2, False), (3, True)]
    assert written_as_given(clicks) == {2} and written_as_given(clicks, drawn=[4]) == {2, 4}
    assert written_as_given([]) == set()
