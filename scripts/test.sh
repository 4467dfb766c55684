#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, slow tests included, under a virtual display.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec xvfb-run -a .venv/bin/python -m pytest -m "slow or not slow" "$@"
