"""The axes of a TIFF as biologists save them (ImageJ hyperstacks, OME-TIFF, RGB exports, one
image, a mask): frames, channels and plane read as the file names them; what cannot be tracked,
and files that are not there or not TIFFs, refused with a message that says what to do."""
import geff
import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine.frames import open_tiff_frames
from napari_sam2.engine.image_layout import check_channels, image_layout, layout_of
from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.measurements_csv import read_measurements_csv
from napari_sam2.storage.tiff_geometry import tiff_geometry, tiff_series_frames

SMALL = SimulationConfig(height=96, width=96, num_frames=5, division_probability=0.0, enter_rate=0.0)


@pytest.fixture(scope="module")
def sim():
    return simulate_timelapse(SMALL, EVALUATION_SEEDS + 640)


@pytest.mark.parametrize("axes, shape, stack, channel, fixed", [
    ("QYX", (5, 96, 96), 0, None, {}),  # a stack the file does not name: frames
    ("TCYX", (5, 2, 96, 96), 0, 1, {}),
    ("YXS", (96, 96, 3), None, 2, {}),  # one RGB image
    ("YX", (96, 96), None, None, {}),
    ("TZCYX", (5, 1, 2, 96, 96), 0, 2, {1: 0}),  # an OME-TIFF time-lapse with Z=1
    ("TZCYX", (1, 7, 1, 96, 96), 1, None, {0: 0, 2: 0}),  # an OME-TIFF z-stack of one time point, one channel
    ("SYX", (3, 96, 96), 0, None, {}),  # planar samples: a stack, as they always were read
])
def test_the_frames_channels_and_fixed_axes_are_as_the_file_names_them(axes, shape, stack, channel, fixed):
    layout = layout_of(axes, shape)
    assert (layout.stack_axis, layout.channel_axis, layout.fixed) == (stack, channel, fixed)


@pytest.mark.parametrize("axes, shape, named", [
    ("QYX", (5, 96, 96), False),  # numpy's tifffile.imwrite of a stack: time or depth, the file does not say
    ("IYX", (5, 96, 96), False),
    ("TYX", (5, 96, 96), True),
    ("ZYX", (5, 96, 96), True),
    ("YX", (96, 96), True),  # one image: nothing to tell
    ("TZCYX", (1, 7, 1, 96, 96), True),
])
def test_a_stack_is_named_where_the_file_says_time_or_depth(axes, shape, named):
    assert layout_of(axes, shape).stack_named == named


def test_frames_are_taken_as_time_by_assumption_only_where_neither_the_file_nor_the_axis_says(sim, tmp_path):
    from napari_sam2.file_tracking import axis_assumed

    tifffile.imwrite(tmp_path / "plain.tif", sim.frames)
    tifffile.imwrite(tmp_path / "timed.tif", sim.frames, imagej=True, metadata={"axes": "TYX"})
    assert axis_assumed(tmp_path / "plain.tif")
    assert not axis_assumed(tmp_path / "plain.tif", axis="t") and not axis_assumed(tmp_path / "plain.tif", axis="z")
    assert not axis_assumed(tmp_path / "timed.tif")


def test_a_time_lapse_of_z_stacks_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match=r"T=6, Z=4.*Z Project"):
        layout_of("TZYX", (6, 4, 96, 96), "movie.tif")


def test_an_imagej_hyperstack_with_channels_gives_frames_with_their_channels(sim, tmp_path):
    two = np.stack([sim.frames, sim.frames[:, ::-1]], axis=1)  # (T, C, Y, X)
    tifffile.imwrite(tmp_path / "tcyx.tif", two, imagej=True, metadata={"axes": "TCYX"})
    frames = open_tiff_frames(tmp_path / "tcyx.tif")
    assert len(frames) == 5 and frames.frame_shape == (96, 96, 2)
    np.testing.assert_array_equal(frames[3], np.moveaxis(two[3], 0, -1))


def test_one_image_is_a_stack_of_one_frame_and_a_mask_reads_as_numbers(sim, tmp_path):
    tifffile.imwrite(tmp_path / "one.tif", sim.frames[2])
    frames = open_tiff_frames(tmp_path / "one.tif")
    assert len(frames) == 1 and tiff_series_frames(tmp_path / "one.tif") == [1]
    np.testing.assert_array_equal(frames[0], sim.frames[2])
    tifffile.imwrite(tmp_path / "mask.tif", sim.labels > 0)
    assert open_tiff_frames(tmp_path / "mask.tif")[1].dtype == np.uint8


def test_an_ome_z_stack_after_a_time_axis_of_one_is_a_z_stack(sim, tmp_path):
    tifffile.imwrite(tmp_path / "z.ome.tif", sim.frames[None, :, None], ome=True, metadata={"axes": "TZCYX"})
    assert len(open_tiff_frames(tmp_path / "z.ome.tif")) == 5
    assert tiff_geometry(tmp_path / "z.ome.tif")["axes"] == "zyx"


def test_files_that_are_not_there_or_not_images_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        image_layout(tmp_path / "typo.tif")
    with pytest.raises(ValueError, match="is a folder.*batch"):
        image_layout(tmp_path)
    (tmp_path / "notes.tif").write_text("not an image")
    with pytest.raises(ValueError, match="notes.tif"):
        image_layout(tmp_path / "notes.tif")
    for kind in ({}, {"compression": "zlib", "imagej": True}, {"compression": "zlib", "metadata": {"axes": "TYX"}}):
        whole = tmp_path / "whole.tif"
        tifffile.imwrite(whole, np.random.default_rng(0).integers(0, 999, (6, 64, 64), np.uint16), **kind)
        (tmp_path / "cut.tif").write_bytes(whole.read_bytes()[:whole.stat().st_size // 2])  # a copy stopped part way
        with pytest.raises(ValueError, match="cut.tif cannot be read.*complete"):
            image_layout(tmp_path / "cut.tif")
        image_layout(whole)  # the whole file reads


def test_a_microscopes_channels_must_be_named_and_exist():
    layout = layout_of("TCYX", (5, 2, 96, 96))
    with pytest.raises(ValueError, match="2 channels.*--channels 0"):
        check_channels(layout, None)
    with pytest.raises(ValueError, match=r"numbered 0 to 1\); channel 2 is not"):
        check_channels(layout, (2,))
    check_channels(layout, (1,))
    check_channels(layout_of("YXS", (96, 96, 3)), None)  # an RGB image is taken as it is


@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
def test_track_auto_on_the_nuclear_channel_of_two_gives_the_labels_of_that_channel_alone(sim, tmp_path, capsys):
    rng = np.random.default_rng(0)
    other = rng.integers(0, sim.frames.max() + 1, sim.frames.shape).astype(sim.frames.dtype)  # a second channel of noise
    tifffile.imwrite(tmp_path / "nuclei.tif", sim.frames)
    tifffile.imwrite(tmp_path / "two.tif", np.stack([other, sim.frames], axis=1), imagej=True, metadata={"axes": "TCYX"})
    assert main(["track", str(tmp_path / "two.tif"), "--auto", "--out", str(tmp_path / "two.zarr")]) == 2
    assert "--channels" in capsys.readouterr().err and not (tmp_path / "two.zarr").exists()
    assert main(["track", str(tmp_path / "two.tif"), "--auto", "--channels", "1", "--out", str(tmp_path / "two.zarr"),
                 "--csv", str(tmp_path / "two.csv"), "--geff", str(tmp_path / "two.geff")]) == 0
    assert main(["track", str(tmp_path / "nuclei.tif"), "--auto", "--out", str(tmp_path / "nuclei.zarr")]) == 0
    picked = LabelsStore.open(tmp_path / "two.zarr", mode="r").array[:]
    np.testing.assert_array_equal(picked, LabelsStore.open(tmp_path / "nuclei.zarr", mode="r").array[:])
    assert len(np.unique(picked[0])) > 5
    # every channel is measured in each tracked cell, the one the model saw and the other
    table = read_measurements_csv(tmp_path / "two.csv")
    row = int(np.argmax(table["frame"] == 2))
    cell = picked[2] == table["track_id"][row]
    assert table["mean_intensity_c0"][row] == pytest.approx(other[2][cell].mean())
    assert table["mean_intensity_c1"][row] == pytest.approx(sim.frames[2][cell].mean())
    graph, _ = geff.read(str(tmp_path / "two.geff"))
    assert len({n for n, props in graph.nodes(data=True) if "mean_intensity_c1" in props}) == len(table["frame"])


@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
def test_a_stack_saved_as_imagej_channels_is_tracked_along_them_when_the_axis_is_named(sim, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "stack.tif", sim.frames, imagej=True)  # tifffile's ImageJ writer calls the axis C
    tifffile.imwrite(tmp_path / "plain.tif", sim.frames)
    out = tmp_path / "stack.zarr"
    assert main(["track", str(tmp_path / "stack.tif"), "--auto", "--out", str(out)]) == 2
    assert "--axis t" in capsys.readouterr().err and not out.exists()
    assert main(["track", str(tmp_path / "stack.tif"), "--auto", "--axis", "t", "--out", str(out)]) == 0
    assert main(["track", str(tmp_path / "plain.tif"), "--auto", "--out", str(tmp_path / "plain.zarr")]) == 0
    labels = LabelsStore.open(out, mode="r").array[:]
    assert labels.shape == sim.frames.shape
    np.testing.assert_array_equal(labels, LabelsStore.open(tmp_path / "plain.zarr", mode="r").array[:])


@pytest.mark.parametrize("make, expected", [
    (lambda folder, sim: tifffile.imwrite(folder / "in.tif", np.stack([sim.frames] * 2, 1), imagej=True,
                                          metadata={"axes": "TZYX"}), "Z Project"),
    (lambda folder, sim: None, "no such file"),
    (lambda folder, sim: (folder / "in.tif").mkdir(), "is a folder"),
])
def test_track_refuses_what_it_cannot_track_and_writes_nothing(sim, tmp_path, capsys, make, expected):
    make(tmp_path, sim)
    for mode in (["--auto"], ["--points", str(tmp_path / "clicks.csv")]):
        (tmp_path / "clicks.csv").write_text("1,40,40\n")
        assert main(["track", str(tmp_path / "in.tif"), *mode, "--out", str(tmp_path / "out.zarr")]) == 2
        assert expected in capsys.readouterr().err and not (tmp_path / "out.zarr").exists()


@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
def test_segment_reads_one_image_with_its_channels_and_refuses_a_stack(sim, tmp_path, capsys):
    nuclei = sim.frames[0]
    tifffile.imwrite(tmp_path / "grey.tif", nuclei)
    tifffile.imwrite(tmp_path / "two.tif", np.stack([nuclei[::-1], nuclei]), imagej=True, metadata={"axes": "CYX"})
    tifffile.imwrite(tmp_path / "stack.tif", sim.frames)
    ys, xs = np.nonzero(sim.labels[0] == np.unique(sim.labels[0])[1])
    (tmp_path / "clicks.csv").write_text(f"1,{int(xs.mean())},{int(ys.mean())}\n")
    segment = ["segment", "--points", str(tmp_path / "clicks.csv"), "--out"]
    assert main(segment + [str(tmp_path / "a.tif"), str(tmp_path / "two.tif")]) == 2
    assert "--channels 0" in capsys.readouterr().err and not (tmp_path / "a.tif").exists()
    assert main(segment + [str(tmp_path / "a.tif"), str(tmp_path / "stack.tif")]) == 2
    assert "holds 5 images" in capsys.readouterr().err and not (tmp_path / "a.tif").exists()
    assert main(segment + [str(tmp_path / "a.tif"), str(tmp_path / "two.tif"), "--channels", "1"]) == 0
    assert main(segment + [str(tmp_path / "b.tif"), str(tmp_path / "grey.tif")]) == 0
    picked = tifffile.imread(tmp_path / "a.tif")
    assert (picked == 1).sum() > 50
    np.testing.assert_array_equal(picked, tifffile.imread(tmp_path / "b.tif"))


def test_a_projected_axis_is_no_stack_and_the_layout_without_it_shifts_the_others():
    layout = layout_of("TZCYX", (6, 4, 2, 96, 96), project="Z")
    assert (layout.stack_axis, layout.projected, layout.channel_axis) == (0, 1, 2)
    shown = layout.projected_out()
    assert (shown.axes, shown.shape, shown.stack_axis, shown.channel_axis) == ("TCYX", (6, 2, 96, 96), 0, 1)
    with pytest.raises(ValueError, match="no Z axis to project"):
        layout_of("QYX", (6, 96, 96), project="Z")


@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
def test_a_time_lapse_of_z_stacks_is_tracked_on_its_maximum_projection_when_asked(sim, tmp_path, capsys):
    stacks = np.stack([sim.frames // 3, sim.frames, sim.frames // 2], axis=1)  # (T, Z, Y, X): in focus on slice 1
    tifffile.imwrite(tmp_path / "tzyx.tif", stacks, imagej=True, metadata={"axes": "TZYX"})
    tifffile.imwrite(tmp_path / "mip.tif", stacks.max(axis=1))
    out = tmp_path / "tzyx.zarr"
    assert main(["track", str(tmp_path / "tzyx.tif"), "--auto", "--out", str(out)]) == 2
    assert "--max-projection" in capsys.readouterr().err and not out.exists()
    assert main(["track", str(tmp_path / "tzyx.tif"), "--auto", "--max-projection", "--out", str(out),
                 "--csv", str(tmp_path / "tzyx.csv")]) == 0
    assert main(["track", str(tmp_path / "mip.tif"), "--auto", "--out", str(tmp_path / "mip.zarr")]) == 0
    labels = LabelsStore.open(out, mode="r").array[:]
    np.testing.assert_array_equal(labels, LabelsStore.open(tmp_path / "mip.zarr", mode="r").array[:])
    table = read_measurements_csv(tmp_path / "tzyx.csv")  # intensities of the projection the cells were tracked on
    cell = labels[1] == table["track_id"][table["frame"] == 1][0]
    assert table["mean_intensity"][table["frame"] == 1][0] == pytest.approx(sim.frames[1][cell].mean())


def test_a_batch_reads_each_file_as_track_does_a_stack_saved_as_channels_with_its_axis_named(sim, tmp_path):
    from napari_sam2.batch import plan_jobs

    tifffile.imwrite(tmp_path / "stack.tif", sim.frames, imagej=True)  # tifffile's ImageJ writer calls the axis C
    with pytest.raises(ValueError, match="--axis t"):
        plan_jobs([tmp_path / "stack.tif"], tmp_path / "out", auto=True)
    job, = plan_jobs([tmp_path / "stack.tif"], tmp_path / "out", auto=True, axis="t")
    assert len(job.frames_read()) == 5


@pytest.mark.parametrize("metadata, step, unit", [
    ({"axes": "TYX", "finterval": 30}, 30.0, "second"),  # ImageJ's time unit unless it names another
    ({"axes": "TYX", "finterval": 5, "tunit": "min"}, 5.0, "minute"),
])
def test_an_imagej_frame_interval_is_read_in_its_own_time_unit(metadata, step, unit, sim, tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", sim.frames, imagej=True, resolution=(2, 2), metadata={"unit": "um", **metadata})
    assert tiff_geometry(tmp_path / "t.tif") == {"axes": "tyx", "scale": [step, 0.5, 0.5],
                                                 "units": [unit, "micrometer", "micrometer"]}
