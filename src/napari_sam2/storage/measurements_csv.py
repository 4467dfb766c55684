"""The measurements table (engine/cell_measurements.py) as a CSV file, one row per cell per frame:
frame, track_id, parent, y, x (centroid, pixels), area (pixels), mean_intensity (and of each channel of
frames that have several: mean_intensity_c0, mean_intensity_c1, ...), and in the image's physical
units where they are known (physical_units.py: e.g. time_second, y_micrometer, area_micrometer2). Written the way
our other outputs are: a file that is not one of ours is never replaced."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .output_place import check_place, written_beside


def _header_of(path: Path) -> list[str] | None:
    try:
        with open(path, newline="") as f:
            return next(csv.reader(f), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def csv_kind(path: str | Path) -> str:
    """"missing", "ours" (a measurements CSV: napari-sam2's header) or "other"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    header = _header_of(path) if path.is_file() else None
    return "ours" if header and header[:3] == ["frame", "track_id", "parent"] else "other"


def check_csv_replaceable(path: str | Path, overwrite: bool = False) -> None:
    check_place(path, csv_kind(path), "a measurements table", overwrite)


def write_measurements_csv(path: str | Path, table: dict[str, np.ndarray], overwrite: bool = False) -> None:
    check_csv_replaceable(path, overwrite)  # before any work: the answer may be no
    names = list(table)
    with written_beside(path, lambda: check_csv_replaceable(path, overwrite)) as partial:
        with open(partial, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names)
            writer.writerows(zip(*(table[name].tolist() for name in names)))


def read_measurements_csv(path: str | Path) -> dict[str, np.ndarray]:
    """The table as written: whole-number columns as int64, the others float64."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    names, values = rows[0], rows[1:]
    whole = {"frame", "track_id", "parent", "area"}
    return {name: np.array([row[i] for row in values], np.int64 if name in whole else np.float64)
            for i, name in enumerate(names)}
