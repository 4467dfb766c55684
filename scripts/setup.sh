#!/usr/bin/env bash
# Install everything napari-sam2 and its tests need on a fresh Debian machine with Python 3.11:
# the Debian packages for a headless display, then a virtual environment in .venv.
# Safe to run again: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v xvfb-run >/dev/null 2>&1 || ! ldconfig -p | grep -q libxcb-cursor; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 \
        libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 \
        libxcb-image0 libdbus-1-3 >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip
# The reference sam2 (test oracle) needs torchvision, which works here only with this pair.
$PIP install -q torch==2.14.1 torchvision==0.29.1
# sam2 is only a source package; without these flags it would reinstall torch to build CUDA code.
.venv/bin/python -c "import sam2" 2>/dev/null || SAM2_BUILD_CUDA=0 $PIP install -q --no-build-isolation sam2==1.1.0
$PIP install -q -e ".[test]"
# Last, as the installs above may bring it back: the torch wheel brings triton, a GPU compiler
# with its own LLVM. Nothing here uses it, and importing it after napari has loaded Mesa's
# OpenGL (another LLVM) crashes the process (seen in CI: torchvision -> torch._dynamo -> triton).
$PIP uninstall -y -q triton 2>/dev/null || true
