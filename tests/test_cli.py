"""The headless command line: track a TIFF into a Zarr label store and score it."""
import numpy as np
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine import loading
from napari_sam2.model import save_checkpoint
from napari_sam2.storage import LabelsStore
from synthetic import moving_nuclei_video


def test_track_writes_every_frame_and_prints_j_and_f(micro_model, tmp_path, capsys, monkeypatch):
    frames, labels = moving_nuclei_video(6, 96, 128, 3, seed=2, leaving=False)
    tifffile.imwrite(tmp_path / "img.tif", frames)
    tifffile.imwrite(tmp_path / "truth.tif", labels)
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    code = main(["track", str(tmp_path / "img.tif"), "--truth", str(tmp_path / "truth.tif"), "--out", str(tmp_path / "out.zarr")])
    assert code == 0
    out = capsys.readouterr().out
    assert "tracked 3 objects through 6 frames" in out and "| **mean** |" in out
    store = LabelsStore.open(tmp_path / "out.zarr", mode="r")
    assert store.shape == (6, 96, 128)
    assert set(np.unique(store.read_frame(0))) <= {0, 1, 2, 3}
    assert store.group.attrs["labels"] == ["masklets"]


def test_track_without_prompts_says_what_to_give(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "img.tif", np.zeros((2, 8, 8), np.uint16))
    assert main(["track", str(tmp_path / "img.tif"), "--out", str(tmp_path / "o.zarr")]) == 2
    assert "--truth" in capsys.readouterr().err
