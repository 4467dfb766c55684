"""Sample data for File > Open Sample: the simulated time-lapse and z-stack of sample_data/."""
from __future__ import annotations

from pathlib import Path

from .._shipped_data import shipped_folder, shipped_folder_candidates


def sample_folder() -> Path:
    """The sample_data folder: inside the package of a wheel install, else at the top of the
    repository of an editable install."""
    folder = shipped_folder("sample_data")
    if folder is None:
        raise FileNotFoundError(
            "the napari-sam2 sample data is not in this installation (looked in "
            f"{', '.join(str(c) for c in shipped_folder_candidates('sample_data'))}); regenerate it with "
            "`python scripts/make_sample_data.py` in a checkout of the repository"
        )
    return folder


def sample_path(file_name: str) -> Path:
    path = sample_folder() / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"the sample file {path} is missing; regenerate it with `python scripts/make_sample_data.py` "
            "in a checkout of the repository"
        )
    return path


def _read(file_name: str, name: str):
    """One image layer from a sample TIFF, with its axis names from the TIFF's metadata."""
    import tifffile

    path = sample_path(file_name)
    with tifffile.TiffFile(path) as tif:
        data = tif.series[0].asarray()
        axes = tif.series[0].axes.lower()
    meta = {"name": name, "colormap": "gray", "metadata": {"path": str(path)}}
    if len(axes) == data.ndim:
        meta["axis_labels"] = tuple(axes)
    return [(data, meta, "image")]


def timelapse():
    """The simulated nuclear-stain time-lapse (T, Y, X), 40 frames."""
    return _read("timelapse.tif", "timelapse")


def zstack():
    """The simulated z-stack of nuclei (Z, Y, X), 24 slices."""
    return _read("zstack.tif", "zstack")
