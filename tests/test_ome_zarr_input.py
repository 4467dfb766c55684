"""OME-Zarr images in (0.5, and 0.4 as ome-zarr-py writes it), as TIFFs are: tracked from the
command line and in a batch job with the same labels as the same frames in a TIFF, the store taking
the image's pixel sizes and units; a Zarr folder that is no image refused with what it is."""
import numpy as np
import pytest
import tifffile
import zarr

from napari_sam2.batch import plan_jobs, run_job, tiff_inputs
from napari_sam2.cli import main
from napari_sam2.engine.cell_lineage import Lineage
from napari_sam2.engine.frames import open_image_frames
from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.store_opening import new_labels_store

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
SMALL = SimulationConfig(height=96, width=96, num_frames=4, division_probability=0.0, enter_rate=0.0)


@pytest.fixture(scope="module")
def sim():
    return simulate_timelapse(SMALL, EVALUATION_SEEDS + 660)


def write_ome_zarr_05(path, data, axes, scale, units):
    """An OME-Zarr 0.5 image of one resolution, as the specification writes it (dimension names)."""
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.create_array("0", data=data, chunks=(1, *data.shape[1:]), dimension_names=list(axes))
    kinds = {"t": "time", "c": "channel"}
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": a, "type": kinds.get(a, "space"), **({"unit": u} if u else {})} for a, u in zip(axes, units)],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": list(scale)}]}]}]}


def test_an_ome_zarr_time_lapse_is_tracked_as_its_tiff_is_with_its_pixel_sizes(sim, tmp_path):
    write_ome_zarr_05(tmp_path / "movie.ome.zarr", sim.frames, "tyx", (5.0, 0.65, 0.65), ("minute", "micrometer", "micrometer"))
    tifffile.imwrite(tmp_path / "movie.tif", sim.frames)
    assert main(["track", str(tmp_path / "movie.ome.zarr"), "--auto", "--out", str(tmp_path / "z.zarr")]) == 0
    assert main(["track", str(tmp_path / "movie.tif"), "--auto", "--out", str(tmp_path / "t.zarr")]) == 0
    store = LabelsStore.open(tmp_path / "z.zarr", mode="r")
    np.testing.assert_array_equal(store.array[:], LabelsStore.open(tmp_path / "t.zarr", mode="r").array[:])
    assert len(np.unique(store.array[0])) > 3
    assert (store.axes, tuple(store.scale), tuple(store.units)) == ("tyx", (5.0, 0.65, 0.65), ("minute", "micrometer",
                                                                                               "micrometer"))


def test_an_ome_zarr_04_of_ome_zarr_py_with_channels_reads_its_frames_and_channels(sim, tmp_path):
    from ome_zarr.format import FormatV04
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    two = np.stack([sim.frames[:, ::-1], sim.frames], axis=1)  # (T, C, Y, X)
    root = zarr.group(store=parse_url(tmp_path / "two.ome.zarr", mode="w", fmt=FormatV04()).store, zarr_format=2)
    write_image(two, root, axes="tcyx", fmt=FormatV04(), scaler=None)
    frames = open_image_frames(tmp_path / "two.ome.zarr")
    assert len(frames) == 4 and frames.frame_shape == (96, 96, 2)
    np.testing.assert_array_equal(frames[2][..., 1], sim.frames[2])
    assert main(["track", str(tmp_path / "two.ome.zarr"), "--auto", "--out", str(tmp_path / "a.zarr")]) == 2
    assert main(["track", str(tmp_path / "two.ome.zarr"), "--auto", "--channels", "1", "--out", str(tmp_path / "a.zarr")]) == 0


def test_a_batch_takes_the_ome_zarr_images_of_a_folder_beside_its_tiffs(sim, tmp_path):
    (tmp_path / "plate").mkdir()
    write_ome_zarr_05(tmp_path / "plate" / "well1.ome.zarr", sim.frames, "tyx", (1, 1, 1), (None, None, None))
    tifffile.imwrite(tmp_path / "plate" / "well2.tif", sim.frames)
    jobs = plan_jobs(tiff_inputs([tmp_path / "plate"]), tmp_path / "out", auto=True)
    assert [(job.out.name, job.frames) for job in jobs] == [("well1.zarr", 4), ("well2.zarr", 4)]
    for job in jobs:
        assert run_job(job, None, 1, precision="float32").status == "done"
    first, second = (LabelsStore.open(job.out, mode="r").array[:] for job in jobs)
    np.testing.assert_array_equal(first, second)


def test_a_folder_gives_its_images_not_hidden_files_nor_the_outputs_tracked_beside_them(sim, tmp_path):
    """A folder tracked once, its outputs written beside the images, then given to batch again; with a
    Mac's "._" copy of a TIFF (no TIFF at all) as a shared drive leaves them."""
    from napari_sam2.storage.tracking_outputs import TrackingOutputs

    write_ome_zarr_05(tmp_path / "well1.ome.zarr", sim.frames, "tyx", (1, 1, 1), (None, None, None))
    tifffile.imwrite(tmp_path / "well2.tif", sim.frames)
    (tmp_path / "._well2.tif").write_bytes(b"\x00\x05\x16\x07 Mac OS X")
    labels = sim.labels.astype(np.uint32)
    with new_labels_store(tmp_path / "well2.zarr", labels.shape, dtype=np.uint32) as store:
        for t, frame in enumerate(labels):
            store.write_frame(t, frame)
        lineage = Lineage.from_labels(labels, sim.lineage)
        store.save_lineage(lineage)
    TrackingOutputs(geff=tmp_path / "well2.geff").write(LabelsStore.open(tmp_path / "well2.zarr", mode="r"), lineage)
    zarr.open_group(str(tmp_path / "notes.zarr"), mode="w")  # another tool's Zarr: not ours, still reported
    assert [p.name for p in tiff_inputs([tmp_path])] == ["notes.zarr", "well1.ome.zarr", "well2.tif"]


def test_a_zarr_folder_that_is_no_image_is_refused_with_what_it_is(sim, tmp_path, capsys):
    LabelsStore.create(tmp_path / "labels.zarr", (2, 16, 16))  # our own labels store: an OME-Zarr image-label
    assert main(["track", str(tmp_path / "labels.zarr"), "--auto", "--out", str(tmp_path / "a.zarr")]) == 2
    assert "is an OME-Zarr ImageLabel, not an image" in capsys.readouterr().err
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w").create_array("0", data=np.zeros((2, 16, 16), np.uint8))
    assert main(["track", str(tmp_path / "plain.zarr"), "--auto", "--out", str(tmp_path / "a.zarr")]) == 2
    assert "not an OME-Zarr image" in capsys.readouterr().err and not (tmp_path / "a.zarr").exists()
