"""`napari-sam2 segment`: one image of any size, clicks from a CSV, a labels TIFF (issue 17)."""
import re

import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine import loading
from napari_sam2.model import save_checkpoint
from napari_sam2.storage.labels_tiff import labels_tiff_kind
from napari_sam2.testing.synthetic import nuclei_image


@pytest.fixture
def workdir(micro_model, tmp_path, monkeypatch):
    image, labels = nuclei_image(200, 330, num=4, seed=5)
    tifffile.imwrite(tmp_path / "img.tif", image)
    centres = [np.argwhere(labels == i).mean(axis=0) for i in (1, 2)]
    rows = [f"{i},{x:.1f},{y:.1f}" for i, (y, x) in zip((3, 7), centres)]
    (tmp_path / "clicks.csv").write_text("obj_id,x,y\n" + "\n".join(rows) + "\n")
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    return tmp_path


def segment(workdir, *extra, out="labels.tif"):
    return main(["segment", str(workdir / "img.tif"), "--points", str(workdir / "clicks.csv"),
                 "--out", str(workdir / out), "--threads", "1", *extra])


def test_segment_writes_a_labels_tiff_of_the_clicked_objects(workdir, capsys):
    assert segment(workdir, "--cell-diameter", "12") == 0
    labels = tifffile.imread(workdir / "labels.tif")
    assert labels.shape == (200, 330) and labels.dtype == np.uint16
    assert set(np.unique(labels)) <= {0, 3, 7}
    assert labels_tiff_kind(workdir / "labels.tif") == "ours"
    assert "segmented 2 objects (cell diameter 12.0 px;" in capsys.readouterr().out


def test_segment_estimates_the_diameter_when_not_given(workdir, capsys):
    assert segment(workdir) == 0
    assert "px, estimated;" in capsys.readouterr().out


def test_segment_replaces_only_its_own_file_and_only_when_asked(workdir, capsys):
    (workdir / "notes.tif").write_bytes(b"not ours")
    assert segment(workdir, "--overwrite", out="notes.tif") == 2
    assert (workdir / "notes.tif").read_bytes() == b"not ours"
    assert segment(workdir, "--cell-diameter", "12") == 0
    before = (workdir / "labels.tif").read_bytes()
    assert segment(workdir, "--cell-diameter", "20") == 2
    assert (workdir / "labels.tif").read_bytes() == before
    assert "--overwrite" in capsys.readouterr().err
    assert segment(workdir, "--cell-diameter", "20", "--overwrite") == 0


@pytest.mark.parametrize("diameter, message", [("0", "positive number of pixels"), ("-4", "positive number of pixels"),
                                               ("500", r"larger than the image \(200 x 330 px\)")])
def test_segment_refuses_bad_diameters_and_writes_nothing(workdir, capsys, diameter, message):
    assert segment(workdir, "--cell-diameter", diameter) == 2
    assert not (workdir / "labels.tif").exists()
    err = capsys.readouterr().err
    assert "error:" in err and re.search(message, err)


def test_segment_refuses_clicks_on_other_frames(workdir, capsys):
    (workdir / "clicks.csv").write_text("obj_id,x,y,frame\n1,10,10,0\n2,20,20,3\n")
    assert segment(workdir) == 2
    assert "frame 3" in capsys.readouterr().err and not (workdir / "labels.tif").exists()


def test_segment_cleans_masks_unless_told_not_to(workdir):
    """Default: each object is one piece without holes (MaskCleanup); --no-cleanup: the model's masks."""
    from scipy import ndimage

    assert segment(workdir, "--cell-diameter", "12") == 0
    assert segment(workdir, "--cell-diameter", "12", "--no-cleanup", out="raw.tif") == 0
    cleaned, raw = tifffile.imread(workdir / "labels.tif"), tifffile.imread(workdir / "raw.tif")
    for obj_id in (3, 7):
        mask = cleaned == obj_id
        assert ndimage.label(mask, structure=np.ones((3, 3)))[1] <= 1
        assert not (ndimage.binary_fill_holes(mask) & ~mask).any()
    assert not np.array_equal(cleaned, raw)


def test_track_passes_the_cleanup_choice_to_the_tracker(workdir, monkeypatch):
    from napari_sam2 import MaskCleanup, cli

    seen = []

    def fake_track_file(*args, cleanup, **kwargs):
        seen.append(cleanup)
        raise cli.BadClick("stop here")

    monkeypatch.setattr(cli, "track_file", fake_track_file)
    tifffile.imwrite(workdir / "video.tif", np.stack([tifffile.imread(workdir / "img.tif")] * 2))
    for extra in ([], ["--no-cleanup"]):
        main(["track", str(workdir / "video.tif"), "--points", str(workdir / "clicks.csv"), "--out",
              str(workdir / "out.zarr"), "--threads", "1", *extra])
    assert seen == [MaskCleanup(), MaskCleanup.off()]
