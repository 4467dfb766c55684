"""The files a run of the cell tracker gives besides its labels store: a Cell Tracking Challenge
folder, GEFF and a measurements CSV, each optional, all made from the store's labels and lineage
(and the frames, for the intensities). Every path is checked before any work, so a run is never
spent only to find an output it may not write."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.cell_lineage import Lineage
from ..engine.cell_measurements import measure_cells
from .ctc_folder import check_ctc_replaceable, write_ctc_folder
from .geff_file import check_geff_replaceable, write_geff
from .labels_store import ARRAY_PATH, LabelsStore
from .measurements_csv import check_csv_replaceable, write_measurements_csv
from .physical_units import physical_columns, store_sizes


@dataclass(frozen=True)
class TrackingOutputs:
    ctc: Path | None = None  # a CTC result folder (maskTTT.tif + res_track.txt)
    geff: Path | None = None  # a GEFF zarr
    csv: Path | None = None  # the measurements table
    overwrite: bool = False  # replace outputs napari-sam2 wrote before (never anything else)

    def check(self) -> None:
        """A FileExistsError for the first path that may not be written."""
        for path, check in ((self.ctc, check_ctc_replaceable), (self.geff, check_geff_replaceable),
                            (self.csv, check_csv_replaceable)):
            if path is not None:
                check(path, self.overwrite)

    def write(self, store: LabelsStore, lineage: Lineage, frames=None) -> list[Path]:
        """Write every output asked for from the store's labels (T, H, W) and `lineage`; frames:
        the images (T, H, W) for the CSV's mean intensity: those the store was tracked on (else a
        ValueError before anything is written). Returns the paths written."""
        if frames is not None and (self.geff is not None or self.csv is not None):
            _check_frames_fit(frames, store)
        written = []
        if self.ctc is not None:
            write_ctc_folder(self.ctc, store.frames, lineage, self.overwrite)
            written.append(self.ctc)
        if self.geff is not None or self.csv is not None:
            table, sizes = measure_cells(store.frames, lineage, frames), store_sizes(store)
            if self.geff is not None:
                labels_array = Path(store.group.store.root) / ARRAY_PATH
                write_geff(self.geff, table, lineage, self.overwrite, labels_path=labels_array,
                           frame_axis=store.axes[store.frame_axis], sizes=sizes)
                written.append(self.geff)
            if self.csv is not None:
                write_measurements_csv(self.csv, {**table, **physical_columns(table, sizes)}, self.overwrite)
                written.append(self.csv)
        return written


def _check_frames_fit(frames, store: LabelsStore) -> None:
    """The frames (T, H, W[, C]) measured are the store's: as many, of its rows and columns."""
    shape, stored = (len(frames), *np.asarray(frames[0]).shape[:2]), tuple(store.shape)
    if shape != stored:
        raise ValueError(f"the image has {shape[0]} frames of {shape[1:]} (rows, columns) but the store {stored[0]} of "
                         f"{stored[1:]}: give the image the store was tracked on, or leave it out (no intensities)")
