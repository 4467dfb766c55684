"""Where `track --truth` clicks: along z, every object on the slice where it is largest (most
nuclei are not on the first slice); along t, the objects of frame 0 (later cells are descendants)."""
import numpy as np
import pytest
import tifffile

from napari_sam2.cli import main
from napari_sam2.engine import loading
from napari_sam2.engine.propagation_plan import PropagationPlan
from napari_sam2.model import save_checkpoint


def disc(shape, centre, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


def two_nuclei(frames=6, height=64, width=96):
    """Nucleus 1 on every frame; nucleus 2 only from frame 3 on, largest on frame 4."""
    labels = np.zeros((frames, height, width), np.uint16)
    for t in range(frames):
        labels[t][disc((height, width), (20, 25), 8)] = 1
    for t, radius in ((3, 5), (4, 10), (5, 7)):
        labels[t][disc((height, width), (40, 65), radius)] = 2
    image = (labels > 0).astype(np.float32) * 180 + 20
    return image.astype(np.uint8), labels


@pytest.mark.parametrize("axes,tracked", [("ZYX", "tracked 2 objects"), ("TYX", "tracked 1 objects")])
def test_truth_clicks_find_the_nuclei_of_every_slice_of_a_z_stack(micro_model, tmp_path, capsys, monkeypatch,
                                                                   axes, tracked):
    image, labels = two_nuclei()
    tifffile.imwrite(tmp_path / "img.tif", image, imagej=True, metadata={"axes": axes})
    tifffile.imwrite(tmp_path / "truth.tif", labels)
    save_checkpoint(micro_model, tmp_path / "model.pt")
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "model.pt")
    clicked = []
    tracker = "napari_sam2.engine.tiled_tracker.TiledVideoTracker"
    monkeypatch.setattr(f"{tracker}.add_points",
                        lambda self, frame, obj_id, points, labels, **kw: clicked.append((frame, obj_id, points)))
    monkeypatch.setattr(f"{tracker}.plan", lambda self, direction, *args: PropagationPlan(direction, ()))
    monkeypatch.setattr(f"{tracker}.run", lambda self, plan: iter(()))
    assert main(["track", str(tmp_path / "img.tif"), "--truth", str(tmp_path / "truth.tif"),
                 "--out", str(tmp_path / "out.zarr")]) == 0
    assert tracked in capsys.readouterr().out
    if axes == "ZYX":  # each at its centre, on its largest slice
        assert sorted((f, i) for f, i, _ in clicked) == [(0, 1), (4, 2)]
        (point,) = next(p for f, i, p in clicked if i == 2)
        np.testing.assert_allclose(point, [65, 40], atol=1)
    else:
        assert [(f, i) for f, i, _ in clicked] == [(0, 1)]
