"""A tracking result as a Cell Tracking Challenge result folder: ``maskTTT.tif`` (one uint16 label
image per frame, one id per track) and ``res_track.txt`` (``L B E P`` per track), the format CTC
evaluation tools and traccuracy read. Written the way our stores are: nothing replaced that
napari-sam2 did not write, nor without being asked; the folder appears only once complete."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from ..engine.cell_lineage import Lineage, Track
from .labels_tiff import SOFTWARE_TAG
from .output_place import check_place, written_beside

TRACKS_FILE = "res_track.txt"
CTC_MAX_ID = np.iinfo(np.uint16).max  # CTC masks are 16-bit


def mask_name(frame: int, num_frames: int) -> str:
    """CTC numbers frames with 3 digits, 4 from 1000 frames on."""
    return f"mask{frame:0{4 if num_frames > 1000 else 3}d}.tif"


def ctc_folder_kind(path: str | Path) -> str:
    """"missing", "ours" (a CTC folder napari-sam2 wrote) or "other"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    if not path.is_dir():
        return "other"
    names = {p.name for p in path.iterdir()}
    masks = sorted(n for n in names if n.startswith("mask") and n.endswith(".tif"))
    if not names:
        return "other"  # an empty folder someone made: left alone, as anything else we did not write
    if names - set(masks) - {TRACKS_FILE} or not masks:
        return "other"
    try:
        with tifffile.TiffFile(path / masks[0]) as tif:
            return "ours" if tif.pages[0].software == SOFTWARE_TAG else "other"
    except (tifffile.TiffFileError, OSError, IndexError):
        return "other"


def check_ctc_replaceable(path: str | Path, overwrite: bool = False) -> None:
    check_place(path, ctc_folder_kind(path), "a tracking result", overwrite)


def write_ctc_folder(path: str | Path, labels: np.ndarray, lineage: Lineage, overwrite: bool = False) -> None:
    """Labels (T, H, W) with one id per track, and their lineage, as a CTC result folder at `path`.
    labels: an array, or any sequence of frames (e.g. LabelsStore.frames: read one at a time)."""
    problems = lineage.check(labels)
    if problems:
        raise ValueError("the labels and the lineage do not agree, so no CTC result was written: "
                         + "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
    largest = max((int(np.max(frame, initial=0)) for frame in labels), default=0)
    if largest > CTC_MAX_ID:
        raise ValueError(f"track id {largest} does not fit the 16-bit masks of the Cell Tracking Challenge "
                         f"format (at most {CTC_MAX_ID}); renumber the tracks first")
    check_ctc_replaceable(path, overwrite)  # before any work: the answer may be no
    with written_beside(path, lambda: check_ctc_replaceable(path, overwrite)) as partial:
        partial.mkdir()
        for t, frame in enumerate(labels):
            tifffile.imwrite(partial / mask_name(t, len(labels)), frame.astype(np.uint16), software=SOFTWARE_TAG)
        rows = "".join(" ".join(str(v) for v in row) + "\n" for row in lineage.ctc_rows())
        (partial / TRACKS_FILE).write_text(rows)


def read_ctc_folder(path: str | Path, tracks_file: str = TRACKS_FILE) -> tuple[np.ndarray, Lineage]:
    """Labels (T, H, W) and lineage from a CTC folder (a result, or a ground-truth TRA folder with
    ``tracks_file="man_track.txt"`` and ``man_track*.tif`` masks)."""
    path = Path(path)
    masks = sorted(p for p in path.glob("*.tif") if p.stem[-3:].isdigit())
    if not masks:
        raise FileNotFoundError(f"{path} holds no numbered mask TIFFs (mask000.tif, ...): not a CTC folder")
    labels = np.stack([tifffile.imread(p) for p in masks])
    lineage = Lineage()
    for line in (path / tracks_file).read_text().splitlines():
        if line.strip():
            track_id, start, end, parent = (int(v) for v in line.split())
            lineage.tracks[track_id] = Track(track_id, start, end, parent)
    return labels, lineage
