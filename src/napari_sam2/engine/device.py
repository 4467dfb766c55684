"""Where and in which precision the model runs.

precision "auto" (the default of the tracker, the predictors, the command line and the widget)
is bfloat16 where the hardware runs it fast and float32 elsewhere: `resolve_precision` decides it
once per device type, here and nowhere else.
"""
from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path

import torch
import torch.nn.functional as F

PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}
AUTO = "auto"
BF16_MATRIX_FLAGS = ("amx_bf16",)  # CPU units made for bfloat16 matrices: no measurement needed
BF16_VECTOR_FLAGS = ("avx512_bf16",)  # bfloat16 dot products: fast or not depending on the kernels; measured
MIN_SPEEDUP = 1.3  # bfloat16 must beat float32 by this on the measurement to be chosen


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


def resolve_precision(precision: str, device) -> str:
    """The precision the model runs in: `precision` itself, or for "auto" "bfloat16" where the
    device runs it fast (see bfloat16_is_fast) and "float32" elsewhere."""
    if check_precision(precision) != AUTO:
        return precision
    return "bfloat16" if bfloat16_is_fast(torch.device(device).type) else "float32"


@functools.lru_cache(maxsize=None)
def bfloat16_is_fast(device_type: str) -> bool:
    """CUDA with bfloat16 support; a CPU with AMX; a CPU with AVX-512 BF16 if a one-off
    measurement of the tracker's main operations (attention, linear layers) finds bfloat16
    MIN_SPEEDUP times faster than float32; nothing else (MPS, other CPUs)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    flags = cpu_flags()
    if any(f in flags for f in BF16_MATRIX_FLAGS):
        return True
    return any(f in flags for f in BF16_VECTOR_FLAGS) and measured_bfloat16_speedup() >= MIN_SPEEDUP


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def measured_bfloat16_speedup(repeats: int = 3) -> float:
    """float32 time / bfloat16 time of one memory-attention-like step on the CPU (a linear
    layer over 4,096 tokens of 256 channels, then attention of 1,024 queries over them), the
    best of `repeats` each, interleaved. About 0.1 s."""
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randn(1, 4096, 256, generator=generator)
    weight = torch.randn(256, 256, generator=generator) / 16

    def step(dtype):
        x, w = tokens.to(dtype), weight.to(dtype)
        keys = F.linear(x, w)
        return F.scaled_dot_product_attention(keys[:, None, :1024], keys[:, None], x[:, None])

    best = {torch.float32: float("inf"), torch.bfloat16: float("inf")}
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first round warms up
            for dtype in best:
                start = time.perf_counter()
                step(dtype)
                best[dtype] = min(best[dtype], time.perf_counter() - start)
    return best[torch.float32] / best[torch.bfloat16]


def autocast(precision: str, device: torch.device):
    """A context running the model in reduced precision, or nothing for float32 ("auto" is
    resolved first). Outputs handed to callers are float32 either way."""
    dtype = PRECISIONS[resolve_precision(precision, device)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
