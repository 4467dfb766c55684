#!/usr/bin/env bash
# The main job on a fresh machine: set up, then track every cell of the sample time-lapse with the
# embedded model and no clicks (cells found by the model, new cells, divisions), write the labels
# and lineage to sample_cells.zarr, the Cell Tracking Challenge folder sample_cells_ctc/, the GEFF
# lineage graph and a CSV of per-cell measurements, and print the Cell Tracking Challenge scores
# against the simulator's ground truth (read only after tracking: it plays no part in it).
# --overwrite: a second run replaces what the first one wrote (anything else is refused).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m napari_sam2 track sample_data/timelapse.tif --auto \
    --out sample_cells.zarr --ctc sample_cells_ctc --geff sample_cells.geff --csv sample_cells.csv \
    --truth sample_data/timelapse_labels.tif --lineage sample_data/timelapse_lineage.csv --overwrite "$@"
