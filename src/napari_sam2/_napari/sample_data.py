"""Sample data for File > Open Sample: the simulated time-lapse and z-stack of sample_data/."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import napari_sam2

SAMPLE_FOLDERS = ("_sample_data", "sample_data")


def sample_folder() -> Path:
    """The sample_data folder: inside the package if it ships one, else at the top of the
    repository of an editable install."""
    candidates = [Path(str(resources.files("napari_sam2") / name)) for name in SAMPLE_FOLDERS]
    candidates.append(Path(napari_sam2.__file__).resolve().parents[2] / "sample_data")
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        "the napari-sam2 sample data is not in this installation (looked in "
        f"{', '.join(str(c) for c in candidates)}); regenerate it with "
        "`python scripts/make_sample_data.py` in a checkout of the repository"
    )


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
