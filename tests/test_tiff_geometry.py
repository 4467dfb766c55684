"""The labels store's axes, pixel sizes and units from a TIFF's OME or ImageJ metadata."""
import numpy as np
import tifffile

from napari_sam2.storage.tiff_geometry import tiff_geometry


def test_ome_tiff_time_lapse(tmp_path):
    tifffile.imwrite(tmp_path / "a.ome.tif", np.zeros((5, 16, 16), np.uint16), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.25, "TimeIncrement": 30.0,
                               "TimeIncrementUnit": "s"})
    assert tiff_geometry(tmp_path / "a.ome.tif") == {
        "axes": "tyx", "scale": [30.0, 0.25, 0.5], "units": ["second", "micrometer", "micrometer"]}


def test_imagej_z_stack(tmp_path):
    tifffile.imwrite(tmp_path / "b.tif", np.zeros((5, 16, 16), np.uint16), imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"axes": "ZYX", "spacing": 2.0, "unit": "micron"})
    geometry = tiff_geometry(tmp_path / "b.tif")
    assert geometry["axes"] == "zyx" and geometry["units"] == ["micrometer"] * 3
    np.testing.assert_allclose(geometry["scale"], [2.0, 0.65, 0.65], rtol=1e-6)


def test_a_tiff_without_metadata_gets_pixels(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((5, 16, 16), np.uint16))
    assert tiff_geometry(tmp_path / "c.tif") == {"axes": "tyx", "scale": [1.0] * 3, "units": [None] * 3}
