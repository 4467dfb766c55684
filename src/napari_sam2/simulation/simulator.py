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

import numpy as np
from scipy import ndimage as ndi

from .appearance import add_appearance
from .cells import Shape, evolve_coeffs, make_texture, place_centres, random_coeffs, render_shapes, uniform
from .config import Simulation, SimulationConfig
from .dynamics import advance, initial_cells, render_cells

__all__ = ["simulate_timelapse", "simulate_zstack"]


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
    return np.clip(np.rint(counts), 0, np.iinfo(config.dtype).max).astype(config.dtype)


def _z_semi_axis(radius: float, config: SimulationConfig) -> float:
    """A nucleus' half-height in slices: `radius * z_aspect`, or less to fit between empty ends."""
    reach = max(radius * config.z_aspect, 1.0)
    if config.empty_end_slices == 0:
        return reach
    return min(reach, (config.num_frames - 1 - 2 * config.empty_end_slices) / 2)


def _centre_plane(rng: np.random.Generator, radius: float, config: SimulationConfig) -> float:
    """A nucleus' centre slice: anywhere, or (empty_end_slices) so that the nucleus stays clear of
    that many slices at each end."""
    z_n, pad = config.num_frames, config.empty_end_slices
    if pad == 0:
        return rng.uniform(0, max(z_n - 1, 0))
    reach = _z_semi_axis(radius, config)
    return rng.uniform(pad + reach, z_n - 1 - pad - reach)


def _add_defocus_haze(signal: np.ndarray, cells: list[dict], config: SimulationConfig) -> None:
    """Out-of-focus light of each nucleus on the slices beyond it: a disc of its size, blurred
    more and dimmer with the distance (fading e-fold over 4 slices). Not labelled: no nucleus is there."""
    if config.defocus_haze <= 0:
        return
    z_n, h, w = signal.shape
    yy, xx = np.mgrid[0:h, 0:w]
    for c in cells:
        disc = (((yy - c["y"]) ** 2 + (xx - c["x"]) ** 2) <= c["r"] ** 2).astype(np.float32)
        for z in range(z_n):
            beyond = abs(z - c["z0"]) - c["c"]
            if beyond >= 0:
                sigma = c["r"] * 0.3 + config.defocus_sigma_per_slice * (beyond + 1) * 2
                level = config.defocus_haze * c["intensity"] * math.exp(-beyond / 4.0)
                signal[z] += level * ndi.gaussian_filter(disc, sigma)


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
    add_appearance(signal, labels, config, seed)
    frames = _acquire(signal, config, rng)
    return Simulation(frames=frames, labels=labels, lineage=lineage, config=config, seed=seed, axes="TYX",
                      birth_frames=born)


# ----------------------------------------------------------------------------------------- z-stack


def simulate_zstack(config: SimulationConfig | None = None, seed: int = 0) -> Simulation:
    """Simulate a z-stack of ellipsoidal nuclei: ``num_frames`` slices, labels per slice."""
    config = SimulationConfig() if config is None else config
    if 2 * config.empty_end_slices >= config.num_frames:
        raise ValueError(f"empty_end_slices {config.empty_end_slices} at each end leave none of the {config.num_frames} "
                         "slices for the nuclei: give fewer empty slices or more slices")
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
            cell_id=i + 1, r=r, e=e, theta=rng.uniform(0, math.pi), z0=_centre_plane(rng, r, config),
            c=_z_semi_axis(r, config), intensity=uniform(rng, config.intensity_range),
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
    _add_defocus_haze(signal, cells, config)
    add_appearance(signal, labels, config, seed)
    frames = _acquire(signal, config, rng)
    return Simulation(frames=frames, labels=labels, lineage={}, config=config, seed=seed, axes="ZYX")
