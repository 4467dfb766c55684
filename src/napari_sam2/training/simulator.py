"""A reproducible simulator of fluorescence microscopy (nuclear stain) with ground truth.

Two modes share one :class:`SimulationConfig`:

- :func:`simulate_timelapse`: nuclei drift, jitter, wobble, grow, divide (the two daughters get new
  ids, recorded in ``lineage``), leave the field of view and enter it from the borders, while the
  dye bleaches;
- :func:`simulate_zstack`: a still 3-D field of ellipsoidal nuclei imaged slice by slice, each
  cross-section growing then shrinking, blurrier away from its centre plane.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same ``(config, seed)`` gives
the same arrays. Only numpy and scipy are used (no napari, Qt or torch).

Imaging model, per frame: cell intensities (relative units; overlapping cells add up) plus a
faint autofluorescence background, times a vignetting field and the bleaching factor
``exp(-bleach_rate * t)``, blurred by a Gaussian PSF, converted to photons
(``photons_per_unit``), Poisson-sampled, scaled by ``gain``, plus ``camera_offset`` and Gaussian
read noise, rounded and clipped to the output dtype.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .sim_cells import Shape, evolve_coeffs, make_texture, place_centres, random_coeffs, render_shapes, uniform
from .sim_dynamics import advance, initial_cells, render_cells

__all__ = [
    "Simulation", "SimulationConfig", "descendants", "ground_truth_masks", "simulate_timelapse",
    "simulate_zstack",
]


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a simulated sequence. Ranges ``(lo, hi)`` are sampled uniformly per cell
    (or per sequence for ``photons_per_unit``). In z-stack mode the motion, division and
    enter/leave parameters are unused and ``num_frames`` is the number of slices."""

    # --- image geometry
    height: int = 128  # image height, px
    width: int = 128  # image width, px
    num_frames: int = 32  # time points (time-lapse) or z slices (z-stack)
    # --- cells
    num_cells: tuple[int, int] = (5, 9)  # number of cells at frame 0 (inclusive range)
    radius_range: tuple[float, float] = (6.0, 14.0)  # equivalent radius sqrt(a*b) of a nucleus, px
    elongation_range: tuple[float, float] = (1.0, 1.8)  # aspect ratio a/b of the ellipse, unitless
    intensity_range: tuple[float, float] = (0.5, 1.0)  # brightness of a nucleus, relative units
    texture_strength: float = 0.2  # std of the internal (chromatin-like) texture, fraction of brightness
    cluster_fraction: float = 0.35  # fraction of initial cells placed touching another one
    # --- motion (time-lapse)
    speed_range: tuple[float, float] = (0.0, 1.0)  # own drift speed of each cell, px/frame
    turn_sigma: float = 0.15  # random change of the drift direction, rad/frame (std)
    jitter_sigma: float = 0.3  # random-walk jitter of the centre, px/frame (std per axis)
    global_drift: tuple[float, float] = (0.0, 0.0)  # stage drift (dy, dx) shared by all cells, px/frame
    rotation_sigma: float = 0.02  # random rotation, rad/frame (std of the rotation speed)
    repulsion: float = 0.3  # push apart overlapping cells: px/frame per px of overlap (capped at 1 px)
    # --- shape dynamics (time-lapse; deformation also shapes z-stack cells)
    deformation_strength: float = 0.06  # std of the boundary wobble (Fourier modes 2-4), fraction of radius
    deformation_persistence: float = 0.9  # frame-to-frame (slice-to-slice) correlation of the wobble, 0..1
    growth_rate: float = 0.004  # growth of the radius, fraction per frame
    # --- division (time-lapse)
    division_probability: float = 0.01  # chance that a cell starts dividing, per cell per frame
    division_frames: int = 4  # frames from the start of elongation to the split
    division_min_age: int = 6  # frames a cell must have existed before it may divide
    separation_speed: float = 0.8  # initial speed of the daughters moving apart, px/frame (decays x0.7/frame)
    # --- enter / leave (time-lapse)
    enter_rate: float = 0.03  # expected number of new cells entering from a border, per frame
    # --- imaging
    background: float = 0.03  # autofluorescence of the medium, relative units
    illumination_falloff: float = 0.15  # vignetting: relative loss of illumination at the corners
    bleach_rate: float = 0.005  # photobleaching: intensity x exp(-bleach_rate * t), per frame (slice)
    blur_sigma: float = 1.0  # Gaussian PSF sigma, px
    photons_per_unit: tuple[float, float] = (200.0, 800.0)  # photons for intensity 1, drawn per sequence
    gain: float = 1.0  # camera counts per photon
    read_noise_sigma: float = 3.0  # camera read noise, counts (std)
    camera_offset: float = 100.0  # camera offset (dark level), counts
    dtype: str = "uint16"  # frames dtype: "uint16" (rounded, clipped) or "float32" (counts, unrounded)
    # --- z-stack mode
    z_aspect: float = 0.6  # semi-axis of a nucleus along z in slices, per px of lateral radius
    defocus_sigma_per_slice: float = 0.5  # extra blur per slice away from a cell's centre plane, px
    z_tilt_sigma: float = 0.3  # lateral shift of a cell's centre per slice (tilted nuclei), px/slice (std)

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8 or self.num_frames < 1:
            raise ValueError("height and width must be >= 8 and num_frames >= 1")
        for name in ("num_cells", "radius_range", "elongation_range", "intensity_range", "speed_range",
                     "photons_per_unit"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}")
        if self.radius_range[0] <= 0 or self.elongation_range[0] < 1.0:
            raise ValueError("radius_range must be > 0 and elongation_range >= 1")
        if self.dtype not in ("uint16", "float32"):
            raise ValueError(f"dtype must be 'uint16' or 'float32', got {self.dtype!r}")
        if self.division_frames < 1:
            raise ValueError("division_frames must be >= 1")
        for name in ("cluster_fraction", "division_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a fraction from 0 to 1, got {getattr(self, name)}")


@dataclass
class Simulation:
    """A simulated sequence and its ground truth."""

    frames: np.ndarray  # (T, H, W) uint16 camera counts (or float32, see SimulationConfig.dtype)
    labels: np.ndarray  # (T, H, W) int32 instance labels: 0 background, a cell keeps its id over time
    lineage: dict[int, int]  # daughter id -> parent id (empty for z-stacks)
    config: SimulationConfig
    seed: int
    axes: str = "TYX"  # "TYX" for a time-lapse, "ZYX" for a z-stack
    birth_frames: dict[int, int] = field(default_factory=dict)  # daughter id -> first frame it exists


# ----------------------------------------------------------------------------------------- helpers


def descendants(lineage: dict[int, int], cell_id: int) -> set[int]:
    """All descendants (children, grandchildren, ...) of ``cell_id``; the cell itself excluded."""
    children: dict[int, list[int]] = {}
    for child, parent in lineage.items():
        children.setdefault(parent, []).append(child)
    out: set[int] = set()
    stack = list(children.get(cell_id, []))
    while stack:
        c = stack.pop()
        if c not in out:
            out.add(c)
            stack.extend(children.get(c, []))
    return out


def ground_truth_masks(
    sim: Simulation, object_ids_in_first_frame: Iterable[int] | None = None, first_frame: int = 0,
) -> dict[int, np.ndarray]:
    """Ground truth for tracking evaluation: for each object of `first_frame`, a ``(T, H, W)``
    bool array, over the frames from `first_frame` on, of the object and all its descendants
    (after a division the object is its daughters).

    ``object_ids_in_first_frame`` defaults to every label present in that frame (ascending).
    """
    labels = sim.labels[first_frame:]
    if object_ids_in_first_frame is None:
        ids = [int(i) for i in np.unique(labels[0]) if i != 0]
    else:
        ids = [int(i) for i in object_ids_in_first_frame]
    out: dict[int, np.ndarray] = {}
    for oid in ids:
        family = sorted({oid} | descendants(sim.lineage, oid))
        out[oid] = np.isin(labels, family)
    return out


def _acquire(signal: np.ndarray, config: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    """Camera model: (T, H, W) relative intensities -> counts (see the module docstring)."""
    t, h, w = signal.shape
    photons = uniform(rng, config.photons_per_unit)
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((yy - (h - 1) / 2) / ((h - 1) / 2 or 1)) ** 2 + ((xx - (w - 1) / 2) / ((w - 1) / 2 or 1)) ** 2
    illum = 1.0 - config.illumination_falloff * r2 / 2.0
    bleach = np.exp(-config.bleach_rate * np.arange(t))[:, None, None]
    expected = (signal + config.background) * illum[None] * bleach
    if config.blur_sigma > 0:
        expected = ndi.gaussian_filter(expected, sigma=(0, config.blur_sigma, config.blur_sigma))
    counts = rng.poisson(np.clip(expected, 0, None) * photons) * config.gain
    counts = counts + config.camera_offset + rng.normal(0.0, config.read_noise_sigma, size=counts.shape)
    if config.dtype == "float32":
        return counts.astype(np.float32)
    return np.clip(np.rint(counts), 0, np.iinfo(np.uint16).max).astype(np.uint16)


# -------------------------------------------------------------------------------------- time-lapse


def simulate_timelapse(config: SimulationConfig | None = None, seed: int = 0) -> Simulation:
    """Simulate a 2-D+t nuclear-stain time-lapse with instance labels and lineage."""
    config = SimulationConfig() if config is None else config
    rng = np.random.default_rng(seed)
    t_n, h, w = config.num_frames, config.height, config.width
    cells = initial_cells(config, rng)
    next_id = len(cells) + 1
    lineage: dict[int, int] = {}
    signal = np.zeros((t_n, h, w), dtype=np.float32)
    labels = np.zeros((t_n, h, w), dtype=np.int32)
    born: dict[int, int] = {}
    for t in range(t_n):
        if t > 0:
            before = set(lineage)
            cells, next_id = advance(cells, config, rng, next_id, lineage)
            born.update({d: t for d in lineage if d not in before})
        render_cells(cells, config, signal[t], labels[t])
    frames = _acquire(signal, config, rng)
    return Simulation(frames=frames, labels=labels, lineage=lineage, config=config, seed=seed, axes="TYX",
                      birth_frames=born)


# ----------------------------------------------------------------------------------------- z-stack


def simulate_zstack(config: SimulationConfig | None = None, seed: int = 0) -> Simulation:
    """Simulate a z-stack of ellipsoidal nuclei: ``num_frames`` slices, labels per slice."""
    config = SimulationConfig() if config is None else config
    rng = np.random.default_rng(seed)
    z_n, h, w = config.num_frames, config.height, config.width
    n = int(rng.integers(config.num_cells[0], config.num_cells[1] + 1))
    cells = []
    for i in range(n):
        r, e = uniform(rng, config.radius_range), uniform(rng, config.elongation_range)
        coeffs = [random_coeffs(rng, config.deformation_strength)]
        for _ in range(z_n - 1):
            coeffs.append(evolve_coeffs(coeffs[-1], rng, config.deformation_strength,
                                        config.deformation_persistence))
        cells.append(dict(
            cell_id=i + 1, r=r, e=e, theta=rng.uniform(0, math.pi), z0=rng.uniform(0, max(z_n - 1, 0)),
            c=max(r * config.z_aspect, 1.0), intensity=uniform(rng, config.intensity_range),
            tilt=rng.normal(0.0, config.z_tilt_sigma, size=2), coeffs=coeffs,
            tex=(make_texture(rng), make_texture(rng)),
        ))
    zs = [c["z0"] / max(config.z_aspect, 1e-6) for c in cells]  # z centres in px
    margins = [c["r"] * math.sqrt(c["e"]) * 1.3 + 2 for c in cells]
    ellipses = [(c["r"] * math.sqrt(c["e"]), c["r"] / math.sqrt(c["e"]), c["theta"]) for c in cells]
    centres = place_centres(rng, h, w, ellipses, margins, config.cluster_fraction, zs)
    for c, (y, x) in zip(cells, centres):
        c["y"], c["x"] = y, x
    signal = np.zeros((z_n, h, w), dtype=np.float32)
    labels = np.zeros((z_n, h, w), dtype=np.int32)
    for z in range(z_n):
        present = [c for c in cells if abs(z - c["z0"]) < c["c"]]
        for c in sorted(present, key=lambda c: (-abs(z - c["z0"]), c["cell_id"])):  # in-focus cell on top
            dz = z - c["z0"]
            s = math.sqrt(max(1.0 - (dz / c["c"]) ** 2, 0.0))
            a, b = c["r"] * math.sqrt(c["e"]) * s, c["r"] / math.sqrt(c["e"]) * s
            if b < 0.5:
                continue
            ang = (dz / c["c"] + 1.0) * math.pi / 4  # blend two textures: the texture changes along z
            tex = (math.cos(ang) * c["tex"][0] + math.sin(ang) * c["tex"][1]).astype(np.float32)
            sigma = config.defocus_sigma_per_slice * abs(dz)
            shape = Shape(c["y"] + c["tilt"][0] * dz, c["x"] + c["tilt"][1] * dz, a, b, c["theta"], c["coeffs"][z])
            res = render_shapes([shape], h, w, tex, config.texture_strength, pad=3 * sigma)
            if res is None:
                continue
            sl, mask, profile = res
            if sigma > 0.05:
                profile = ndi.gaussian_filter(profile, sigma, mode="constant")
            signal[z][sl] += (c["intensity"] * (0.5 + 0.5 * s) * profile).astype(np.float32)
            if b >= 1.0:
                labels[z][sl][mask] = c["cell_id"]
    frames = _acquire(signal, config, rng)
    return Simulation(frames=frames, labels=labels, lineage={}, config=config, seed=seed, axes="ZYX")
