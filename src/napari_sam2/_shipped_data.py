"""Where the data folders shipped with napari-sam2 are: the model data (models/) and the sample
images (sample_data/).

Both live at the top of the repository. A wheel (built from a checkout or from the sdist) maps
them into the package as ``napari_sam2/_models`` and ``napari_sam2/_sample_data`` (see
pyproject.toml); an editable install or a checkout on PYTHONPATH reads them at the top of the
repository. No symlinks: an sdist would drop them. Imports nothing from this package, so every
layer may use it.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_folder_candidates(name: str) -> list[Path]:
    """Where the folder ``name`` ("models" or "sample_data") may be, in the order looked at."""
    inside_package = Path(str(resources.files("napari_sam2") / f"_{name}"))
    # src/napari_sam2/_shipped_data.py -> the repository's top folder
    in_checkout = Path(__file__).resolve().parents[2] / name
    return [inside_package, in_checkout]


def shipped_folder(name: str) -> Path | None:
    """The folder ``name`` of this installation, or None if it has none."""
    return next((folder for folder in shipped_folder_candidates(name) if folder.is_dir()), None)
