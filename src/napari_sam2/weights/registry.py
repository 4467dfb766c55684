"""The official SAM 2 / SAM 2.1 checkpoints that this package knows how to load.

The list lives in ``models/checkpoints.tsv`` at the top of the repository, which a
wheel carries as ``napari_sam2/_models`` (see ``napari_sam2._shipped_data``).
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from .._shipped_data import shipped_folder, shipped_folder_candidates

__all__ = ["CheckpointInfo", "checkpoint_info", "models_dir", "official_checkpoints"]

_TSV_NAME = "checkpoints.tsv"
_COLUMNS = ("name", "version", "size_name", "url", "sha256", "bytes", "hf_repo")


@dataclass(frozen=True)
class CheckpointInfo:
    """Where an official checkpoint lives and how to recognise a good copy of it."""

    name: str
    version: str
    size_name: str
    url: str
    sha256: str
    num_bytes: int
    hf_repo: str

    @property
    def filename(self) -> str:
        """The file name Meta publishes it under, e.g. ``sam2.1_hiera_tiny.pt``."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def models_dir() -> Path:
    """The folder holding the model data shipped with the package."""
    folder = shipped_folder("models")
    if folder is None:
        looked_in = ", ".join(str(c) for c in shipped_folder_candidates("models"))
        raise FileNotFoundError(
            f"napari_sam2 is missing its model data folder (looked in {looked_in}); "
            "the installation looks incomplete, reinstall napari-sam2"
        )
    return folder


def _parse_row(row: dict[str, str], line: int) -> CheckpointInfo:
    try:
        num_bytes = int(row["bytes"])
    except ValueError:
        raise ValueError(f"{_TSV_NAME} line {line}: bytes is not an integer: {row['bytes']!r}") from None
    return CheckpointInfo(
        name=row["name"],
        version=row["version"],
        size_name=row["size_name"],
        url=row["url"],
        sha256=row["sha256"].lower(),
        num_bytes=num_bytes,
        hf_repo=row["hf_repo"],
    )


def _parse_tsv(text: str) -> dict[str, CheckpointInfo]:
    reader = csv.DictReader(io.StringIO(text), delimiter="\t")
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise ValueError(f"{_TSV_NAME}: expected columns {_COLUMNS}, found {reader.fieldnames}")
    infos: dict[str, CheckpointInfo] = {}
    for line, row in enumerate(reader, start=2):
        info = _parse_row(row, line)
        if info.name in infos:
            raise ValueError(f"{_TSV_NAME} line {line}: duplicate checkpoint name {info.name!r}")
        infos[info.name] = info
    return infos


@functools.lru_cache(maxsize=1)
def _load_checkpoints() -> tuple[tuple[str, CheckpointInfo], ...]:
    # Cached as an immutable tuple so no caller can alter what others see.
    text = (models_dir() / _TSV_NAME).read_text(encoding="utf-8")
    return tuple(_parse_tsv(text).items())


def official_checkpoints() -> dict[str, CheckpointInfo]:
    """All official checkpoints by name, in the order of the TSV (a fresh dict each call)."""
    return dict(_load_checkpoints())


def checkpoint_info(name: str) -> CheckpointInfo:
    """The official checkpoint called ``name``; ``ValueError`` listing the known names if none."""
    known = official_checkpoints()
    try:
        return known[name]
    except KeyError:
        raise ValueError(
            f"unknown checkpoint {name!r}; known checkpoints: {', '.join(sorted(known))}"
        ) from None
