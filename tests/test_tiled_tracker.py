"""The tiled, resampled video tracker (issue 17): cells crossing tile borders keep their id and an
unbroken mask, features only for tiles holding objects, small frames, and bad diameters."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage

from engine_labels import reference_labels
from napari_sam2.cli import main
from napari_sam2.engine import ArrayFrames, load_model
from napari_sam2.engine.tiled_tracker import TiledVideoTracker
from napari_sam2.engine.tiling import plan_tiles, shift_to_tile
from napari_sam2.evaluation.metrics import j_and_f
from napari_sam2.evaluation.prompts import central_click
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, descendants, read_lineage, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.testing.synthetic import moving_nuclei_video
from test_cli import _tracking_inputs

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def disc_video(hw, tracks, radius, seed=0):
    """(T, H, W) uint16 frames of blurred bright discs on a dark noisy background, and their
    labels; tracks: one list of (x, y) centres per cell, one centre per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:hw[0], 0:hw[1]]
    frames, labels = [], []
    for t in range(len(tracks[0])):
        frame_labels = np.zeros(hw, np.int32)
        for obj_id, track in enumerate(tracks, start=1):
            x, y = track[t]
            frame_labels[(xx - x) ** 2 + (yy - y) ** 2 <= radius ** 2] = obj_id
        signal = ndimage.gaussian_filter((frame_labels > 0).astype(np.float32), 1.0)
        frames.append((100 + 800 * signal + rng.normal(0, 20, hw)).clip(0).astype(np.uint16))
        labels.append(frame_labels)
    return np.stack(frames), np.stack(labels)


def test_a_cell_crossing_a_tile_border_keeps_one_id_and_an_unbroken_mask():
    model = load_model(None, device="cpu")
    torch.set_num_threads(1)
    # diameter 28.3 px: factor 1, tiles of 256 at x = 0 and 184, y = 0 and 44; 4 px a frame (the
    # embedded model loses a cell moving 8 px a frame, tiles or not)
    crossing = [(100 + 4 * t, 150) for t in range(61)]  # x 100 -> 340: across x = 184 ... 255
    still = [(60, 250)] * 61
    frames, labels = disc_video((300, 440), [crossing, still], radius=14)
    tracker = TiledVideoTracker(model, ArrayFrames(frames), cell_diameter=28.3)
    assert tracker.tile_plan.lefts == (0, 184)
    for obj_id, track in ((1, crossing), (2, still)):
        tracker.add_points(0, obj_id, [track[0]], [1])
    first_homes = tracker.home_tile(1), tracker.home_tile(2)
    for result in tracker.propagate():
        painted = result.label_image()
        assert set(np.unique(painted)) == {0, 1, 2}, f"frame {result.frame}: ids {np.unique(painted)}"
        mask, truth = painted == 1, labels[result.frame] == 1
        parts = np.bincount(ndimage.label(mask)[0].ravel())[1:]
        assert parts.max() >= 0.95 * parts.sum(), f"frame {result.frame}: the crossing cell's mask is broken: {parts}"
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.8, f"frame {result.frame}: IoU {iou:.2f}"
        assert (painted[labels[result.frame] == 2] == 2).mean() > 0.8
    assert tracker.home_tile(1) != first_homes[0]  # it was handed over, under the same id
    assert tracker.home_tile(2) == first_homes[1]



def test_a_cell_crossing_a_tile_border_beside_a_neighbour_held_by_the_next_tile_keeps_one_id_and_its_mask():
    """The crossing cell (tile plan as above) brushes past a cell at rest on the border whose home
    is the next tile down and right, and is handed over beside it (frame 31, with the pixels it
    wins there). Measured: on the frame after the hand-over the crossing cell's mask is at its
    weakest (IoU 0.66, its memory one frame), one piece for 98% of it; elsewhere 0.88-0.98."""
    model = load_model(None, device="cpu")
    torch.set_num_threads(1)
    crossing = [(100 + 4 * t, 150) for t in range(41)]  # passes x = 235 (touching the neighbour) at frame 34
    beside = [(235, 178)] * 41
    frames, labels = disc_video((300, 440), [crossing, beside], radius=14)
    tracker = TiledVideoTracker(model, ArrayFrames(frames), cell_diameter=28.3)
    for obj_id, track in ((1, crossing), (2, beside)):
        tracker.add_points(0, obj_id, [track[0]], [1])
    assert tracker.home_tile(1) == (0, 0) and tracker.home_tile(2) == (44, 184)
    for result in tracker.propagate():
        painted, truth = result.label_image(), labels[result.frame]
        mask = painted == 1
        parts = np.bincount(ndimage.label(mask)[0].ravel())[1:]
        assert parts.max() >= 0.95 * parts.sum(), f"frame {result.frame}: the crossing cell's mask is broken: {parts}"
        iou = (mask & (truth == 1)).sum() / (mask | (truth == 1)).sum()
        assert iou > 0.6, f"frame {result.frame}: IoU {iou:.2f}"
        assert (painted[truth == 2] == 2).mean() > 0.8 and (painted[truth == 1] == 2).mean() < 0.2
    assert tracker.home_tile(1) == (0, 184) and tracker.home_tile(2) == (44, 184)

def test_features_are_computed_once_per_frame_only_for_tiles_holding_objects(micro_model):
    frames, _ = moving_nuclei_video(3, 300, 800, 4, seed=1, leaving=False)
    tracker = TiledVideoTracker(micro_model, ArrayFrames(frames), cell_diameter=10.0)  # x 2.8: 4 x 10 tiles
    assert len(tracker.tile_plan.tiles) > 10 and tracker.tiles_in_use == []
    tracker.add_points(0, 1, [[40, 40]], [1])
    tracker.add_points(0, 2, [[45, 42]], [1])  # the same tile
    results = list(tracker.propagate())
    assert [r.frame for r in results] == [0, 1, 2]
    assert len(tracker.tiles_in_use) == 1 and tracker.features.computed == 3
    assert all(r.label_image().shape == (300, 800) for r in results)


def test_frames_smaller_than_the_model_input_are_padded_into_one_tile(micro_model):
    frames, _ = disc_video((60, 90), [[(45, 30)] * 4], radius=10)
    tracker = TiledVideoTracker(micro_model, ArrayFrames(frames), cell_diameter=28.3)
    assert tracker.tile_plan.tiles == [(0, 0)] and tracker.tile_plan.scaled_hw == (60, 90)
    tracker.add_points(0, 1, [[45, 30]], [1])
    results = list(tracker.propagate())
    assert len(results) == 4 and all(r.label_image().shape == (60, 90) for r in results)
    assert results[-1].masks[1].shape == (60, 90)


@pytest.mark.parametrize("diameter", [0, -5, float("nan"), "big"])
def test_bad_diameters_are_refused_before_a_frame_is_read(micro_model, diameter):
    class Unreadable:
        def __len__(self):
            return 2

        def __getitem__(self, index):
            raise AssertionError("a frame was read")

    with pytest.raises(ValueError, match="cell_diameter must be a"):
        TiledVideoTracker(micro_model, Unreadable(), cell_diameter=diameter)


def test_a_diameter_larger_than_the_frame_is_refused(micro_model):
    frames, _ = disc_video((60, 90), [[(45, 30)] * 2], radius=10)
    with pytest.raises(ValueError, match=r"larger than the image \(60 x 90 px\)"):
        TiledVideoTracker(micro_model, ArrayFrames(frames), cell_diameter=61)


def test_a_mask_moves_between_tiles_pixel_for_pixel():
    plan = plan_tiles((300, 440), 1.0, tile=256, halo=29)
    a, b = (0, 0), (44, 184)
    scaled = torch.zeros(300, 440)
    scaled[100:130, 200:240] = 1
    moved = shift_to_tile(scaled[0:256, 0:256], a, b, fill=-1)
    torch.testing.assert_close(moved[:256 - 44, :256 - 184], scaled[44:256, 184:256])
    assert (moved[256 - 44:] == -1).all() and (moved[:, 256 - 184:] == -1).all()
    assert plan.tile_for(np.array([[220.0, 115.0]]), current=(0, 0), keep=14.5) == (0, 0)  # near the border: kept
    assert plan.tile_for(np.array([[260.0, 115.0]]), current=(0, 0), keep=14.5) == (0, 184)


def test_track_prints_the_estimated_diameter_and_takes_a_given_one(micro_model, tmp_path, capsys, monkeypatch):
    command = _tracking_inputs(tmp_path, micro_model, monkeypatch, num_frames=4)
    assert main(command + ["--out", str(tmp_path / "a.zarr")]) == 0
    assert "px (estimated from the frames; give --cell-diameter to change it)" in capsys.readouterr().out
    assert main(command + ["--out", str(tmp_path / "b.zarr"), "--cell-diameter", "14"]) == 0
    assert "cell diameter 14.0 px (given;" in capsys.readouterr().out


@pytest.mark.parametrize("diameter,message", [("0", "must be a positive number"), ("-3", "must be a positive number"),
                                              ("500", "larger than the image (96 x 128 px)")])
def test_track_refuses_a_bad_diameter_and_leaves_the_old_store(micro_model, tmp_path, capsys, monkeypatch,
                                                                diameter, message):
    command = _tracking_inputs(tmp_path, micro_model, monkeypatch, num_frames=4)
    old = LabelsStore.create(tmp_path / "old.zarr", (2, 5, 5))
    old.write_frame(1, np.full((5, 5), 9, np.uint8))
    for out in (["--out", str(tmp_path / "new.zarr")], ["--out", str(tmp_path / "old.zarr"), "--overwrite"]):
        assert main(command + out + ["--cell-diameter", diameter]) == 2
        error = capsys.readouterr().err
        assert message in error and "cell_diameter" in error
    assert not (tmp_path / "new.zarr").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if ".zarr" in p.name or "partial" in p.name) == ["old.zarr"]
    assert LabelsStore.open(tmp_path / "old.zarr", mode="r").read_frame(1)[0, 0] == 9


def test_touching_cells_of_the_sample_keep_their_ids_through_the_time_lapse():
    """The napari test's three clicks on the shipped sample (dim cell 3 touches bright cell 1; a
    click on cell 3 gives a mask of both on frame 0), tracked as sessions track (tiled, diameter
    estimated: 17.8 px, x 1.59). With prompted frames remembered whole, cell 3 remembered cell
    1's pixels and took them: all three ids in 29/40 frames, J&F 0.662; with a prompted frame's
    memory holding the pixels each object wins there, 40/40 and 0.814 (the plain VideoTracker
    0.845)."""
    torch.set_num_threads(1)
    frames = tifffile.imread(SAMPLE / "timelapse.tif")
    truth = tifffile.imread(SAMPLE / "timelapse_labels.tif")
    lineage = read_lineage(SAMPLE / "timelapse_lineage.csv")
    cells = (1, 2, 3)
    clicks = [(cell, y, x) for cell in cells for (x, y), _ in [central_click(truth[0] == cell)]]
    labels = reference_labels(load_model(None, device="cpu"), frames, clicks, written=False)
    frames_with_all = sum(set(cells) <= set(np.unique(frame)) for frame in labels)
    assert frames_with_all >= 0.9 * len(frames), f"all three ids in only {frames_with_all}/{len(frames)} frames"
    scores = [j_and_f(labels == cell, np.isin(truth, [cell, *descendants(lineage, cell)])) for cell in cells]
    jf = float(np.mean([(j + f) / 2 for j, f in scores]))
    assert jf >= 0.78, f"J&F {jf:.3f} (J, F per cell {scores})"


def test_touching_cells_held_by_different_tiles_do_not_take_each_other_over():
    """Small nuclei (radius 5-8 px, diameter given as 13: x 2.2, 6 x 6 tiles) on a 512 px frame of a
    held-out sequence, every cell clicked on frame 0. Cells 2 and 7 touch across a tile border,
    their homes in different tiles. With memories separated only within a tile, 7 remembered 2's
    pixels and took the cell: from frame 5 or 6 on (two runs), 2's IoU 0.00, 92-99% of it 7's; with each
    tile's memories separated from the outputs of all tiles and hand-overs of the won pixels,
    2's IoU stays 0.54-0.75 after the first tracked frame, 7 holding at most 23% of it."""
    torch.set_num_threads(1)
    config = replace(SimulationConfig(), height=512, width=512, num_frames=8, num_cells=(90, 110),
                     radius_range=(5.0, 8.0), cluster_fraction=0.6, division_probability=0.0, enter_rate=0.0)
    sim = simulate_timelapse(config, EVALUATION_SEEDS + 17)
    tracker = TiledVideoTracker(load_model(None, device="cpu"), ArrayFrames(sim.frames), cell_diameter=13.0)
    first = sim.labels[0]
    for obj_id, (rows, cols) in enumerate(ndimage.find_objects(first), start=1):
        if rows is not None:
            (x, y), _ = central_click(first[rows, cols] == obj_id)
            tracker.add_points(0, obj_id, [[x + cols.start, y + rows.start]], [1])
    pair = (2, 7)
    assert ndimage.binary_dilation(first == 2)[first == 7].any() or ndimage.binary_dilation(first == 7)[first == 2].any()
    assert tracker.home_tile(2) != tracker.home_tile(7)
    for result in tracker.propagate():
        painted, truth = result.label_image(), sim.labels[result.frame]
        for cell, neighbour in (pair, pair[::-1]):
            mask, own = painted == cell, truth == cell
            iou = (mask & own).sum() / (mask | own).sum()
            taken = (painted[own] == neighbour).mean()
            assert iou > 0.3 and taken < 0.6, \
                f"frame {result.frame}: cell {cell} IoU {iou:.2f}, {taken:.0%} of it is {neighbour}'s"


def test_a_cell_handed_over_stays_with_its_new_tile_when_tracked_a_frame_at_a_time_and_its_old_prompt_cleared():
    """Automatic tracking steps one frame at a time (propagate(start=frame, max_frames=1)): every
    tile holding a copy of an object then joins it at that frame, and the tie went to the tile first
    made, the one it had left, so it was handed over again on every frame (a new prompt each time).
    And clearing its first prompt once it had a newer one in its new tile left the old tile's copy
    with no prompt: the next frame stopped with "objects [..] have no prompt on any frame" (seen
    on a simulated z-stack)."""
    model = load_model(None, device="cpu")
    torch.set_num_threads(1)
    crossing = [(180 + 4 * t, 150) for t in range(24)]  # x 180 -> 272: into the right tile (tiles at x = 0, 184)
    frames, _ = disc_video((300, 440), [crossing], radius=14)
    tracker = TiledVideoTracker(model, ArrayFrames(frames), cell_diameter=28.3)
    tracker.add_points(0, 1, [crossing[0]], [1])
    first_home, homes = tracker.home_tile(1), []
    for frame in range(1, 20):
        for _ in tracker.propagate("forward", start=frame, max_frames=1):
            pass
        homes.append(tracker.home_tile(1))
    moved = homes.index(next(h for h in homes if h != first_home))
    assert all(h != first_home for h in homes[moved:]), f"handed to and fro: {homes}"
    new_tile = tracker._tiles[homes[-1]]
    assert len(new_tile.conditioning_frames(1)) == 1  # the one hand-over's mask
    result = tracker.frame_result(19)
    tracker.add_mask(19, 1, result.label_image() == 1)
    tracker.clear_frame(0, 1)
    assert tracker.conditioning_frames(1) == [19]
    results = list(tracker.propagate("forward", start=20, max_frames=1))
    assert results and (results[0].label_image() == 1).sum() > 300
