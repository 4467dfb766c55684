"""Where and in which precision the model runs.

precision "auto" (the default of the tracker, the predictors, the command line and the widget)
is bfloat16 where the hardware runs it fast and the model is large enough for it to pay, float32
elsewhere: `resolve_precision` decides it, here and nowhere else.
"""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTO = "auto"
# CPU units made for bfloat16 matrices. Flags alone decide, never a timing: a timing at start
# (tried in session 10) came out 1.02-1.23 against a bar of 1.3 on AVX-512 BF16 without AMX, so
# load tipped some processes of one batch to bfloat16 and their labels differed from the others'.
# AVX-512 BF16 without AMX is left in float32: the tracker ran 0.70-0.76x there in bfloat16.
BF16_MATRIX_FLAGS = ("amx_bf16",)
# The narrowest model (memory attention width, d_model) that "auto" runs in bfloat16. On a 2-core
# Xeon with AMX (session 17, benchmarks/README "bfloat16 with AMX"), sam2.1_hiera_tiny (d_model 256)
# ran 2.6x (one object) and 3.0x (ten) faster in bfloat16; the embedded model (d_model 64: 16 x 16
# tokens, 1.8 M weights, its time in small operations bfloat16 does not speed up) only 1.10x, and
# its masks on the sample time-lapse drifted (lowest object IoU against float32 0.942 over 40 frames).
BF16_MIN_WIDTH = 256


def default_device() -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def check_precision(precision: str) -> str:
    """A precision name the engine knows ("auto" included), else a ValueError."""
    if precision != AUTO and precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {[AUTO, *sorted(PRECISIONS)]}, got {precision!r}")
    return precision


def resolve_precision(precision: str, model) -> str:
    """The precision `model` (a SAM2Model) runs in: `precision` itself, or for "auto" "bfloat16"
    where its device runs it fast (see bfloat16_is_fast) and the model is at least BF16_MIN_WIDTH
    wide, "float32" elsewhere."""
    if check_precision(precision) != AUTO:
        return precision
    pays = bfloat16_is_fast(model.device.type) and model.cfg.d_model >= BF16_MIN_WIDTH
    return "bfloat16" if pays else "float32"


@functools.lru_cache(maxsize=None)
def bfloat16_is_fast(device_type: str) -> bool:
    """CUDA with bfloat16 support; a CPU with AMX (BF16_MATRIX_FLAGS); nothing else (MPS, other
    CPUs). The same answer in every process on one machine, so a batch's files are all tracked
    in one precision."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device_type == "cpu" and any(f in cpu_flags() for f in BF16_MATRIX_FLAGS)


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def autocast(precision: str, model):
    """A context running `model` in reduced precision, or nothing for float32 ("auto" is
    resolved first). Outputs handed to callers are float32 either way."""
    dtype = PRECISIONS[resolve_precision(precision, model)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=model.device.type, dtype=dtype)
