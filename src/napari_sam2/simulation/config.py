"""What a simulated sequence is made of: its parameters (:class:`SimulationConfig`) and the result
(:class:`Simulation`). Kept apart from the simulator so that the dynamics and the simulator both
import it, and not each other."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    dtype: str = "uint16"  # frames dtype: "uint16" or "uint8" (8-bit camera; rounded, clipped) or "float32" (counts)
    # --- what real images show (issue 19; all off by default: simulation/appearance.py)
    nucleoli_per_cell: tuple[int, int] = (0, 0)  # dark nucleoli per nucleus (inclusive range)
    speckles_per_cell: tuple[int, int] = (0, 0)  # bright chromatin speckles per nucleus (inclusive range)
    brightness_sigma: float = 0.0  # nuclei brightness x exp(N(0, sigma)) per nucleus: varied nuclei in one frame
    halo_intensity: float = 0.0  # dim cytoplasm around each nucleus (whole-cell stain), fraction of its brightness
    background_variation: float = 0.0  # mean of a smooth, uneven background field, relative units
    # --- z-stack mode
    z_aspect: float = 0.6  # semi-axis of a nucleus along z in slices, per px of lateral radius
    defocus_sigma_per_slice: float = 0.5  # extra blur per slice away from a cell's centre plane, px
    z_tilt_sigma: float = 0.3  # lateral shift of a cell's centre per slice (tilted nuclei), px/slice (std)
    empty_end_slices: int = 0  # slices at each end of a z-stack where no nucleus is (only its out-of-focus haze)
    defocus_haze: float = 0.0  # light of a nucleus on slices beyond it, fraction of its brightness, fading over 4 slices

    def __post_init__(self) -> None:
        if self.height < 8 or self.width < 8 or self.num_frames < 1:
            raise ValueError("height and width must be >= 8 and num_frames >= 1")
        for name in ("num_cells", "radius_range", "elongation_range", "intensity_range", "speed_range",
                     "photons_per_unit", "nucleoli_per_cell", "speckles_per_cell"):
            lo, hi = getattr(self, name)
            if lo > hi or lo < 0:
                raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}")
        if self.radius_range[0] <= 0 or self.elongation_range[0] < 1.0:
            raise ValueError("radius_range must be > 0 and elongation_range >= 1")
        if self.dtype not in ("uint16", "uint8", "float32"):
            raise ValueError(f"dtype must be 'uint16', 'uint8' or 'float32', got {self.dtype!r}")
        for name in ("brightness_sigma", "halo_intensity", "background_variation", "defocus_haze", "empty_end_slices"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")

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


def realistic_config(**overrides) -> SimulationConfig:
    """The simulator with what real fluorescence images show (issue 19): chromatin texture with
    nucleoli and speckles, nuclei of varied brightness, dim cytoplasm halos, an uneven background,
    and in z-stacks empty, hazy slices at both ends. `overrides`: any other SimulationConfig field."""
    settings = dict(texture_strength=0.3, nucleoli_per_cell=(1, 3), speckles_per_cell=(0, 6), brightness_sigma=0.4,
                    halo_intensity=0.12, background_variation=0.04, empty_end_slices=4, defocus_haze=0.25)
    return SimulationConfig(**{**settings, **overrides})
