#!/usr/bin/env bash
# The main job on a fresh machine: set up, then track every cell of the sample time-lapse with the
# embedded model (one click per cell, from the first frame of the ground truth), write the
# masklets to sample_masklets.zarr and print J&F against the simulator's ground truth. --overwrite:
# a second run replaces the store the first one wrote (a folder there that is not a store is refused).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m napari_sam2 track sample_data/timelapse.tif \
    --truth sample_data/timelapse_labels.tif --lineage sample_data/timelapse_lineage.csv \
    --out sample_masklets.zarr --overwrite "$@"
