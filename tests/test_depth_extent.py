"""Where a nucleus ends along z (engine/depth_extent.py): once automatic tracking is through a
z-stack, each nucleus is cleared from the slices beyond its ends, where it no longer stands out."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from napari_sam2.engine.cell_lineage import Lineage, Track
from napari_sam2.engine.depth_extent import MIN_DEPTH_SHARE, DepthExtent, beyond_the_ends, chains
from napari_sam2.engine.frames import ArrayFrames
from napari_sam2.engine.model_inputs import PreprocessedFrames


def glowing_stack(rng, slices=20, side=64):
    """(Z, H, W) float32: nucleus 1 (a disc) brightest on slice 10, fading as a Gaussian of 3 slices
    (out-of-focus glow); nucleus 2 as bright on every slice; noise. Labels (Z, H, W): both discs on
    every slice, as a tracker that keeps following the glow gives them."""
    yy, xx = np.mgrid[:side, :side]
    first, second = (yy - 20) ** 2 + (xx - 20) ** 2 < 64, (yy - 44) ** 2 + (xx - 44) ** 2 < 64
    z = np.arange(slices)[:, None, None]
    stack = 100 + 200 * np.exp(-((z - 10) ** 2) / 18.0) * first + 150.0 * second
    stack = (stack + rng.normal(0, 2, stack.shape)).astype(np.float32)
    labels = np.broadcast_to((first * 1 + second * 2).astype(np.uint32), stack.shape).copy()
    return stack, labels


def trimmed(stack, labels, lineage, stop_after=None):
    """The labels after DepthExtent.cleared, every slice recorded first; stop_after: take only that
    many cleared slices, then ask again (a run cut short and resumed)."""
    depth = DepthExtent(PreprocessedFrames(ArrayFrames(stack), size=256), model_px=1.0)
    for frame in range(len(labels)):
        depth.record(frame, labels[frame])
    out = labels.copy()
    revised = depth.cleared(chains(lineage))
    for k, (frame, cleared) in enumerate(revised):
        out[frame] = cleared
        if stop_after is not None and k + 1 == stop_after:
            revised.close()
            for again, cleared_again in depth.cleared(chains(lineage)):
                out[again] = cleared_again
            break
    depth.follow(lineage)
    return out


@pytest.mark.parametrize("stop_after", [None, 3])
def test_a_nucleus_is_cleared_from_the_slices_where_only_its_glow_is(stop_after):
    stack, labels = glowing_stack(np.random.default_rng(0))
    lineage = Lineage.from_labels(labels)
    out = trimmed(stack, labels, lineage, stop_after)
    # slices where the first nucleus is at least 0.3 as bright above the background as on slice 10
    bright = [z for z in range(20) if np.exp(-((z - 10) ** 2) / 18.0) >= MIN_DEPTH_SHARE]
    assert [z for z in range(20) if (out[z] == 1).any()] == bright == list(range(6, 15))
    assert all((out[z] == 2).sum() == (labels[z] == 2).sum() for z in range(20))  # as bright everywhere: kept
    assert lineage.tracks[1] == Track(1, 6, 14) and lineage.tracks[2] == Track(2, 0, 19)
    assert lineage.check(out) == []


def test_clearing_changes_only_the_cleared_cells_pixels_of_the_labels_as_they_are_now():
    """A store's slice may change after it was recorded (a label painted by hand): the clearing reads
    it again and takes off only the cleared nucleus's pixels."""
    stack, labels = glowing_stack(np.random.default_rng(0))
    depth = DepthExtent(PreprocessedFrames(ArrayFrames(stack), size=256), model_px=1.0)
    for frame in range(len(labels)):
        depth.record(frame, labels[frame])
    store = labels.copy()
    store[0, 55:60, 2:8] = 7  # painted after the slice was recorded
    cleared = dict(depth.cleared([[1], [2]], read=lambda frame: store[frame]))
    assert sorted(cleared) == [0, 1, 2, 3, 4, 5, 15, 16, 17, 18, 19]
    assert (cleared[0] == 7).sum() == 30 and not (cleared[0] == 1).any()
    np.testing.assert_array_equal(cleared[0] == 2, labels[0] == 2)


def test_a_nucleus_lost_for_some_slices_is_judged_as_one():
    """Track 3 continues track 1 after a gap: its own brightest slice is no peak of the nucleus."""
    lineage = Lineage({1: Track(1, 0, 5), 3: Track(3, 8, 12, parent=1), 2: Track(2, 0, 12)})
    contrast = {z: {1: [0.1, 0.5, 1.0, 0.9, 0.5, 0.4][z], 2: 1.0} for z in range(6)}
    contrast.update({z: {3: [0.35, 0.31, 0.2, 0.1, 0.05][z - 8], 2: 1.0} for z in range(8, 13)})
    levels = {z: {t: (c + 1.0, 1.0) for t, c in by_track.items()} for z, by_track in contrast.items()}  # ring at 1
    ids_on = {z: set(by_track) for z, by_track in contrast.items()}
    assert chains(lineage) == [[1, 3], [2]]
    assert beyond_the_ends(levels, ids_on, chains(lineage), low=0.0) == {0: {1}, 10: {3}, 11: {3}, 12: {3}}


def test_a_nucleus_never_clear_of_its_surroundings_is_haze():
    """Nucleus 2 is at most 10% brighter than its ring (counted from the stack's dark level) on every
    slice: haze, cleared everywhere, however it compares with its own brightest slice."""
    lineage = Lineage({1: Track(1, 0, 3), 2: Track(2, 0, 3)})
    levels = {z: {1: (300.0, 100.0), 2: (110.0 + z, 100.0)} for z in range(4)}
    ids_on = {z: {1, 2} for z in range(4)}
    assert beyond_the_ends(levels, ids_on, chains(lineage), low=0.0) == {z: {2} for z in range(4)}
    assert beyond_the_ends(levels, ids_on, chains(lineage), low=95.0) == {}  # against a darker floor it is clear


def test_cells_that_divided_are_judged_each_on_its_own():
    lineage = Lineage({1: Track(1, 0, 2), 2: Track(2, 3, 5, parent=1), 3: Track(3, 3, 5, parent=1)})
    assert chains(lineage) == [[1], [2], [3]]


@pytest.mark.slow
def test_a_z_stack_keeps_its_nuclei_where_they_are():
    """A held-out realistic simulated z-stack (24 x 192 x 192, 5 hazy slices with no nucleus at each
    end) tracked along z: without the ends rule its empty slices held 42 labels and 20 of 83
    labels on the other slices were on no nucleus (per-slice precision 0.76); now none and 0.97,
    with as many nuclei found (recall 0.84 both)."""
    from napari_sam2.engine import load_model
    from napari_sam2.engine.cell_tracker import CellTracker
    from napari_sam2.evaluation.detection import detection_counts
    from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_zstack

    torch.set_num_threads(1)
    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 12)), EVALUATION_SEEDS + 700)
    tracker = CellTracker(load_model(device="cpu"), sim.frames, z_stack=True)
    labels = np.zeros(sim.labels.shape, np.uint32)
    for finished in tracker.run():
        labels[finished.frame] = finished.labels  # slices come again: new cells tracked back, nuclei's ends
    assert tracker.lineage.check(labels) == [] and not tracker.lineage.divided()
    empty = [z for z in range(len(labels)) if not sim.labels[z].any()]
    assert sum(len(np.unique(labels[z])) - 1 for z in empty) <= 5
    counts = [detection_counts(labels[z].astype(np.int32), sim.labels[z]) for z in range(len(labels)) if z not in empty]
    found, predicted, true = (sum(getattr(c, k) for c in counts) for k in ("true_positives", "predicted", "truth"))
    assert found / predicted >= 0.9 and found / true >= 0.8


def test_the_slices_a_nucleus_was_clicked_on_stay_and_a_clicked_nucleus_is_no_haze():
    """Nucleus 1 fades below 0.3 of its peak on slices 0 and 4, but was clicked on slice 4: it keeps
    slices 1-4. Nucleus 2 never stands out (haze by the rule), but clicked on slice 2 it is a cell:
    as bright on every slice, it keeps them all."""
    lineage = Lineage({1: Track(1, 0, 4), 2: Track(2, 0, 4)})
    levels = {z: {1: (100.0 + [10, 80, 100, 60, 20][z], 100.0), 2: (105.0, 100.0)} for z in range(5)}
    ids_on = {z: {1, 2} for z in range(5)}
    assert beyond_the_ends(levels, ids_on, chains(lineage), low=0.0) == {0: {1, 2}, 1: {2}, 2: {2}, 3: {2}, 4: {1, 2}}
    cleared = beyond_the_ends(levels, ids_on, chains(lineage), low=0.0, prompted={1: {4}, 2: {2}})
    assert cleared == {0: {1}}


@pytest.mark.slow
def test_nuclei_clicked_in_a_z_stack_end_where_they_fade(tmp_path):
    """Click mode (`track IMAGE --points ... --axis z`, file_tracking.track_file): a click on each
    nucleus of the fullest slice of a held-out realistic simulated z-stack, tracked up and down.
    Without the ends rule (the same stack tracked as a time-lapse) their masks persisted on 66
    (nucleus, slice) pairs without the nucleus, and were on all 86 with it; now on none, and 76."""
    import tifffile

    from napari_sam2.click_table import Click
    from napari_sam2.engine import load_model
    from napari_sam2.file_tracking import track_file
    from napari_sam2.simulation import EVALUATION_SEEDS, realistic_config, simulate_zstack
    from napari_sam2.storage import LabelsStore

    torch.set_num_threads(1)
    sim = simulate_zstack(realistic_config(num_frames=24, height=192, width=192, num_cells=(6, 10)), EVALUATION_SEEDS + 1)
    fullest = int((sim.labels > 0).sum(axis=(1, 2)).argmax())
    clicks = []
    for cell in (int(c) for c in np.unique(sim.labels[fullest]) if c):
        inside = ndimage.distance_transform_edt(sim.labels[fullest] == cell)
        y, x = np.unravel_index(inside.argmax(), inside.shape)
        clicks.append(Click(fullest, cell, float(x), float(y), True))
    tifffile.imwrite(tmp_path / "stack.tif", sim.frames)
    track_file(tmp_path / "stack.tif", tmp_path / "nuclei.zarr", clicks, load_model(device="cpu"), progress=False, axis="z")
    store = LabelsStore.open(tmp_path / "nuclei.zarr", mode="r")
    labels = np.stack([store.read_frame(z) for z in range(store.num_frames)])
    cells = sorted(c.obj_id for c in clicks)
    shown = np.array([[(labels[z] == c).any() for z in range(len(labels))] for c in cells])
    present = np.array([[(sim.labels[z] == c).any() for z in range(len(labels))] for c in cells])
    assert (shown & ~present).sum() == 0
    assert shown[:, fullest].all() and (shown & present).sum() >= 0.8 * present.sum()
