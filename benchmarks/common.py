"""Helpers shared by the benchmark scripts: the reference/ours pair with the same random
weights, synthetic frames, peak-RSS measurement in a fresh subprocess, a table printer.

The reference (PyPI `sam2`) is only imported, as the oracle; nothing of it is copied here."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # the reference's progress bars would clutter the tables

import numpy as np
import torch

from napari_sam2.engine.device import cpu_flags  # noqa: E402
from napari_sam2.engine.model_inputs import TensorFrames  # noqa: E402
from napari_sam2.engine.preprocessing import preprocess  # noqa: E402
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model, load_into  # noqa: E402
from napari_sam2.testing.reference import REFERENCE_CONFIG_FILES, randomize  # noqa: E402
from napari_sam2.testing.synthetic import moving_nuclei_video  # noqa: E402

THREADS = 2


def set_threads(n: int = THREADS) -> None:
    torch.set_num_threads(n)


# ---- models ---------------------------------------------------------------------------------

def _memory_to_float32(module, args, kwargs):
    """The reference keeps memories in bfloat16; on CPU its memory attention fails with a dtype
    error when no float32 object pointer promotes them. The cast is exact (see tests)."""
    kwargs["memory"] = kwargs["memory"].float()
    return args, kwargs


def build_reference(name: str, image_size: int, state: dict | None = None, seed: int = 3):
    """The reference SAM2VideoPredictor on CPU at `image_size`: with `state` loaded, or randomized
    by `seed` (napari_sam2.testing.reference). Returns (predictor, state dict)."""
    from sam2.build_sam import build_sam2_video_predictor

    torch.manual_seed(seed)
    predictor = build_sam2_video_predictor(
        REFERENCE_CONFIG_FILES[name], None, device="cpu", hydra_overrides_extra=[f"++model.image_size={image_size}"]
    )
    predictor.add_all_frames_to_correct_as_cond = True
    predictor.memory_attention.register_forward_pre_hook(_memory_to_float32, with_kwargs=True)
    if state is None:
        state = randomize(predictor, seed)
    else:
        predictor.load_state_dict(state, strict=True)
    return predictor.eval(), state


def build_ours(name: str, image_size: int, state: dict) -> SAM2Model:
    model = SAM2Model(dataclasses.replace(OFFICIAL_CONFIGS[name], image_size=image_size))
    load_into(model, state)
    return model.eval()


def build_pair(name: str, image_size: int, seed: int = 3):
    """(reference predictor, our model, state dict): the same random weights in both."""
    reference, state = build_reference(name, image_size, seed=seed)
    return reference, build_ours(name, image_size, state), state


def random_state(name: str, image_size: int, seed: int = 3) -> dict:
    """The random state dict build_pair would use, without keeping the models."""
    _, state = build_reference(name, image_size, seed=seed)
    return state


# ---- frames ---------------------------------------------------------------------------------

def small_video(num_frames: int, num_nuclei: int, size: int = 512, seed: int = 3):
    """(uint8 frames (T, H, W), one (x, y) click per nucleus on frame 0): napari_sam2.testing.synthetic's
    moving nuclei, none leaving the view."""
    frames, labels = moving_nuclei_video(num_frames, size, size, num=num_nuclei, seed=seed, leaving=False, dtype=np.uint8)
    return frames, nucleus_clicks(labels[0], num_nuclei)


def nucleus_clicks(labels: np.ndarray, count: int) -> np.ndarray:
    """(count, 2) float32 (x, y): for nuclei 1..count, the pixel of the nucleus nearest its centroid."""
    clicks = []
    for k in range(1, count + 1):
        ys, xs = np.nonzero(labels == k)
        if len(ys) == 0:
            raise ValueError(f"nucleus {k} is hidden on frame 0; try another --seed")
        nearest = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
        clicks.append((xs[nearest], ys[nearest]))
    return np.asarray(clicks, np.float32)


def preprocessed(frames: np.ndarray, image_size: int) -> TensorFrames:
    """(T, H, W) uint8 -> our preprocessed model inputs, shared by both implementations."""
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    tensor = torch.cat([preprocess(f, image_size)[0] for f in rgb])
    return TensorFrames(tensor, frames.shape[1:])


def reference_state(predictor, frames: np.ndarray, inputs: TensorFrames, folder: Path) -> dict:
    """The reference's inference state (its init_state needs JPEG files), then given our
    preprocessed tensor so both see the very same inputs."""
    write_jpegs(frames, folder)
    state = predictor.init_state(str(folder))
    state["images"] = inputs.tensor
    state["cached_features"] = {}
    return state


def write_jpegs(frames, folder: Path) -> None:
    """Frames (uint8, or anything else stretched to 8 bits) as 00000.jpg, 00001.jpg, ..."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(frames.shape[0]):
        Image.fromarray(to_uint8(np.asarray(frames[i]))).save(folder / f"{i:05d}.jpg", quality=95)


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """8 bits by the same 0.5-99.5 percentile stretch our preprocessing uses for non-uint8 data."""
    if frame.dtype == np.uint8:
        return frame
    lo, hi = np.percentile(frame, (0.5, 99.5))
    return (np.clip((frame.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0, 1) * 255).round().astype(np.uint8)


class DriftingNuclei:
    """Large uint16 frames generated one at a time (a long video does not fit in memory as
    float32): nuclei drifting with random velocities, wrapping around the borders, Poisson-
    Gaussian noise. `clicks` are the nuclei's (x, y) centres on frame 0."""

    def __init__(self, size: int = 1024, num: int = 24, seed: int = 3):
        rng = np.random.default_rng(seed)
        self.size, self.seed = size, seed
        self.centres = rng.uniform(0, size, (num, 2))  # (y, x)
        self.velocity = rng.normal(0, 3.0, (num, 2))
        self.radii = rng.uniform(14, 26, (num, 2))
        self.clicks = self.centres[:, ::-1].astype(np.float32)

    def frame(self, t: int) -> np.ndarray:
        size = self.size
        signal = np.zeros((size, size), np.float32)
        for (cy, cx), v, (ry, rx) in zip(self.centres, self.velocity, self.radii):
            cy, cx = (cy + v[0] * t) % size, (cx + v[1] * t) % size
            half = int(2 * max(ry, rx))
            y0, x0 = int(cy) - half, int(cx) - half
            yy, xx = np.mgrid[y0 : y0 + 2 * half, x0 : x0 + 2 * half].astype(np.float32)
            r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
            patch = 1.0 / (1.0 + np.exp((r - 1.0) * 10.0))
            rows, cols = np.arange(y0, y0 + 2 * half) % size, np.arange(x0, x0 + 2 * half) % size
            signal[np.ix_(rows, cols)] += patch
        rng = np.random.default_rng((self.seed, t))
        photons = rng.poisson(signal * 2000 + 100).astype(np.float32) + rng.normal(0, 10, signal.shape)
        return np.clip(photons, 0, 65535).astype(np.uint16)

    def write_zarr(self, path: Path, num_frames: int):
        """A (T, size, size) uint16 zarr array on disk, one chunk per frame."""
        import zarr

        array = zarr.open_array(str(path), mode="w", shape=(num_frames, self.size, self.size),
                                chunks=(1, self.size, self.size), dtype="uint16")
        for t in range(num_frames):
            array[t] = self.frame(t)
        return array


# ---- measurement ----------------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident set size so far, or since reset_peak_rss (Linux: kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def current_rss_mb() -> float:
    return _status_mb("VmRSS")


def high_water_rss_mb() -> float:
    """Peak RSS since the process started or since start_measured_phase reset it. (getrusage's
    ru_maxrss may not follow the reset: it keeps the peak recorded when any thread exited.)"""
    return _status_mb("VmHWM")


def start_measured_phase() -> dict:
    """Call once set-up (imports, model loading) is done: returns the set-up's peak RSS and the
    RSS now (baseline), then resets the peak (Linux /proc/self/clear_refs), so that the peak
    reported at the end is that of what follows, not of loading the weights."""
    import gc

    gc.collect()
    setup = dict(setup_peak=peak_rss_mb(), baseline=current_rss_mb())
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return setup


def _measured(fn, args, kwargs, threads):
    set_threads(threads)
    result = fn(*args, **kwargs)
    return result, high_water_rss_mb()


def run_in_fresh_process(fn, *args, threads: int = THREADS, **kwargs):
    """Run fn(*args, **kwargs) in a new (spawned) Python process with `threads` torch threads;
    returns (its result, the process's peak RSS in MB: since start, or since fn called
    start_measured_phase). fn must be a module-level function and its result picklable."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measured, fn, args, kwargs, threads).result()


CPU_FLAGS_SHOWN = ("avx", "avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "fma", "neon", "asimd")


def cpu_description() -> str:
    """The processor, torch's version, vector capability and threads, and the SIMD flags of
    /proc/cpuinfo (Linux): what a speed or accuracy table depends on."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 platform.processor())
    flags = cpu_flags()
    shown = [f for f in CPU_FLAGS_SHOWN if f in flags]
    return (f"{model}; {os.cpu_count()} cores; torch {torch.__version__} capability "
            f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads; "
            f"flags: {' '.join(shown) or 'none of ' + str(CPU_FLAGS_SHOWN)}; load average {os.getloadavg()[0]:.1f}")


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


MODEL_PARTS = ("image_encoder", "memory_attention", "memory_encoder", "sam_mask_decoder", "sam_prompt_encoder")


class PartTimer:
    """Seconds spent in each part of a model (the submodules named in MODEL_PARTS, which both
    implementations have), summed over every call, through forward hooks. clock: time.perf_counter
    (wall seconds) or time.process_time (CPU seconds, steadier on a shared machine)."""

    def __init__(self, model: torch.nn.Module, clock=time.perf_counter):
        self.seconds = dict.fromkeys(MODEL_PARTS, 0.0)
        self.clock = clock
        self._started: dict[str, float] = {}
        for name in MODEL_PARTS:
            part = getattr(model, name)
            part.register_forward_pre_hook(lambda module, args, name=name: self._start(name))
            part.register_forward_hook(lambda module, args, out, name=name: self._stop(name))

    def _start(self, name: str) -> None:
        self._started[name] = self.clock()

    def _stop(self, name: str) -> None:
        self.seconds[name] += self.clock() - self._started.pop(name)

    def reset(self) -> None:
        self.seconds = dict.fromkeys(MODEL_PARTS, 0.0)


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0, b > 0
    union = (a | b).sum().item()
    return 1.0 if union == 0 else (a & b).sum().item() / union


def print_table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    """A plain-text table; floats with 4 significant digits."""
    def cell(value):
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))
    sys.stdout.flush()
