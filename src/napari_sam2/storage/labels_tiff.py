"""A label image written to a TIFF file, with the rule of the labels stores: nothing is replaced
that napari-sam2 did not write, nor without being asked, and a failure leaves nothing behind
(the file is written beside its place, then moved there)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile

from .labels_store import label_dtype
from .output_place import check_place

SOFTWARE_TAG = "napari-sam2"  # the TIFF Software tag of the files we write: what we may replace


def labels_tiff_kind(path: str | Path) -> str:
    """"ours" (a TIFF napari-sam2 wrote), "missing" or "other"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        with tifffile.TiffFile(path) as tif:
            return "ours" if tif.pages[0].software == SOFTWARE_TAG else "other"
    except (tifffile.TiffFileError, OSError, IndexError):
        return "other"


def check_tiff_replaceable(path: str | Path, overwrite: bool = False) -> None:
    check_place(path, labels_tiff_kind(path), "a labels TIFF", overwrite)


def write_labels_tiff(path: str | Path, labels: np.ndarray, overwrite: bool = False) -> None:
    """(H, W) labels, in the smallest unsigned type that holds the largest id."""
    path = Path(path)
    check_tiff_replaceable(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        tifffile.imwrite(partial, labels.astype(label_dtype(int(labels.max(initial=0)))), software=SOFTWARE_TAG)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
