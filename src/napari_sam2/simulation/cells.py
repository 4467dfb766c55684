"""Cell geometry, textures and rendering for the microscopy simulator (numpy and scipy only).

A cell outline is an ellipse whose radius is modulated by a few low-order Fourier modes
(k = 2..4; k = 1 would only shift the cell). Positions are in pixels, ``(y, x)``, with pixel
centres at integer coordinates. The angle ``theta`` is the direction of the ellipse's long
semi-axis ``a``, measured from the +x (column) axis towards +y (row).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

NUM_MODES = 3  # boundary Fourier modes k = 2, 3, 4
TEXTURE_SIZE = 48  # texture patch side, texels
TEXTURE_EXTENT = 1.6  # the patch covers normalised cell coordinates [-1.6, 1.6]
EDGE_WIDTH = 1.5  # width of the intensity ramp at the cell border, px
MIN_BOUNDARY = 0.6  # the modulated radius never drops below this fraction of the ellipse


@dataclass
class Shape:
    """One wobbly ellipse, in pixels (``a`` along ``theta``, ``b`` across it)."""

    cy: float
    cx: float
    a: float
    b: float
    theta: float
    coeffs: np.ndarray  # (NUM_MODES, 2): cos and sin amplitudes of modes k = 2..4, fraction of radius

    def extent(self) -> float:
        """An upper bound of the distance from the centre to the boundary, px."""
        return max(self.a, self.b) * (1.0 + float(np.abs(self.coeffs).sum()))


@dataclass
class Cell:
    """The state of one simulated nucleus in the time-lapse."""

    cell_id: int
    y: float  # centre row, px
    x: float  # centre column, px
    radius: float  # equivalent radius sqrt(a * b), px
    elongation: float  # aspect ratio a / b
    theta: float  # orientation of the long axis, rad
    omega: float  # rotation speed, rad/frame
    speed: float  # own drift speed, px/frame
    heading: float  # own drift direction, rad
    intensity: float  # brightness, relative units
    depth: float  # stacking order: a higher depth is drawn on top
    coeffs: np.ndarray  # boundary modulation, see Shape.coeffs
    texture: np.ndarray  # (TEXTURE_SIZE, TEXTURE_SIZE) zero-mean, unit-std texture
    age: int = 0  # frames since birth
    division_step: int = 0  # 0 when not dividing, else 1..division_frames
    boost: float = 0.0  # transient extra brightness (condensed chromatin around mitosis)
    sep_vy: float = 0.0  # daughter separation velocity, px/frame (decays)
    sep_vx: float = 0.0

    @property
    def a(self) -> float:
        return self.radius * math.sqrt(self.elongation)

    @property
    def b(self) -> float:
        return self.radius / math.sqrt(self.elongation)


def make_texture(rng: np.random.Generator, size: int = TEXTURE_SIZE) -> np.ndarray:
    """A zero-mean, unit-std smooth noise patch: coarse chromatin domains plus fine grain."""
    coarse = ndi.gaussian_filter(rng.standard_normal((size, size)), size / 10.0, mode="wrap")
    fine = ndi.gaussian_filter(rng.standard_normal((size, size)), size / 30.0, mode="wrap")
    tex = 0.8 * coarse / (coarse.std() + 1e-9) + 0.5 * fine / (fine.std() + 1e-9)
    tex -= tex.mean()
    return (tex / (tex.std() + 1e-9)).astype(np.float32)


def random_coeffs(rng: np.random.Generator, strength: float) -> np.ndarray:
    """Stationary boundary modulation: mode k has std ``strength / (k - 1)``."""
    scale = strength / np.arange(1, NUM_MODES + 1, dtype=np.float64)[:, None]
    return rng.standard_normal((NUM_MODES, 2)) * scale


def evolve_coeffs(coeffs: np.ndarray, rng: np.random.Generator, strength: float, persistence: float) -> np.ndarray:
    """One step of an Ornstein-Uhlenbeck process with the stationary law of :func:`random_coeffs`."""
    rho = float(np.clip(persistence, 0.0, 1.0))
    return rho * coeffs + math.sqrt(1.0 - rho * rho) * random_coeffs(rng, strength)


def daughter_geometry(cell: Cell) -> tuple[float, float]:
    """Equivalent radius and elongation of each daughter: half the parent's area, rounder."""
    return cell.radius / math.sqrt(2.0), 1.0 + 0.5 * (cell.elongation - 1.0)


def cell_shapes(cell: Cell, division_frames: int) -> list[Shape]:
    """The outline(s) of a cell: one ellipse, or two separating lobes while it divides.

    During division (progress ``p`` from 0 to 1) each lobe morphs from the parent ellipse into a
    daughter (half the area) while the lobe centres move apart along the long axis; at ``p = 1``
    the lobes just overlap: a pinched dumbbell.
    """
    if cell.division_step <= 0:
        return [Shape(cell.y, cell.x, cell.a, cell.b, cell.theta, cell.coeffs)]
    p = min(cell.division_step / max(division_frames, 1), 1.0)
    rd, ed = daughter_geometry(cell)
    ad, bd = rd * math.sqrt(ed), rd / math.sqrt(ed)
    al, bl = (1 - p) * cell.a + p * ad, (1 - p) * cell.b + p * bd
    off = p * 0.92 * ad
    ay, ax = math.sin(cell.theta), math.cos(cell.theta)
    return [
        Shape(cell.y + sgn * off * ay, cell.x + sgn * off * ax, al, bl, cell.theta, cell.coeffs)
        for sgn in (-1.0, 1.0)
    ]


def _shape_fields(shape: Shape, yy: np.ndarray, xx: np.ndarray, texture: np.ndarray | None, strength: float):
    """Inside mask and intensity profile of one shape on a pixel grid."""
    dy, dx = yy - shape.cy, xx - shape.cx
    c, s = math.cos(shape.theta), math.sin(shape.theta)
    u = (dx * c + dy * s) / shape.a
    v = (-dx * s + dy * c) / shape.b
    rn = np.hypot(u, v)
    phi = np.arctan2(v, u)
    rb = np.ones_like(rn)
    for i in range(NUM_MODES):
        k = i + 2
        rb += shape.coeffs[i, 0] * np.cos(k * phi) + shape.coeffs[i, 1] * np.sin(k * phi)
    rb = np.maximum(rb, MIN_BOUNDARY)
    mask = rn < rb
    inner_px = (rb - rn) * math.sqrt(shape.a * shape.b)  # approximate distance to the border, px
    edge = np.clip(inner_px / EDGE_WIDTH + 0.5, 0.0, 1.0)
    dome = 0.75 + 0.25 * np.sqrt(np.clip(1.0 - (rn / rb) ** 2, 0.0, 1.0))  # thicker in the middle
    profile = edge * dome
    if texture is not None and strength > 0:
        scale = (texture.shape[0] - 1) / (2 * TEXTURE_EXTENT)
        coords = np.stack([(v + TEXTURE_EXTENT) * scale, (u + TEXTURE_EXTENT) * scale])
        tex = ndi.map_coordinates(texture, coords, order=1, mode="nearest")
        profile = profile * np.clip(1.0 + strength * tex, 0.2, None)
    return mask, profile


def render_shapes(
    shapes: list[Shape], height: int, width: int, texture: np.ndarray | None = None,
    texture_strength: float = 0.0, pad: float = 0.0,
):
    """Render the union of shapes of one cell.

    Returns ``(slices, mask, profile)`` on the bounding box (clipped to the image), with ``mask``
    the inside pixels and ``profile`` the intensity (about 1 inside, 0 outside, soft border), or
    ``None`` when the cell lies entirely outside the image. ``pad`` enlarges the box (for blurs).
    """
    y0 = x0 = 10**9
    y1 = x1 = -(10**9)
    for sh in shapes:
        r = sh.extent() + 2.0 + pad
        y0, y1 = min(y0, math.floor(sh.cy - r)), max(y1, math.ceil(sh.cy + r) + 1)
        x0, x1 = min(x0, math.floor(sh.cx - r)), max(x1, math.ceil(sh.cx + r) + 1)
    y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, height), min(x1, width)
    if y0 >= y1 or x0 >= x1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    mask = np.zeros(yy.shape, dtype=bool)
    profile = np.zeros(yy.shape, dtype=np.float64)
    for sh in shapes:
        m, p = _shape_fields(sh, yy, xx, texture, texture_strength)
        mask |= m
        np.maximum(profile, p, out=profile)
    return (slice(y0, y1), slice(x0, x1)), mask, profile


def uniform(rng: np.random.Generator, lohi: tuple[float, float]) -> float:
    """A uniform draw from ``(lo, hi)``; ``lo`` without drawing when the range is empty."""
    lo, hi = lohi
    return float(lo) if hi <= lo else float(rng.uniform(lo, hi))


def radius_towards(a: float, b: float, theta: float, angle: float) -> float:
    """Distance from the centre to an ellipse's border in direction ``angle`` (rad), px."""
    d = angle - theta
    return a * b / math.hypot(b * math.cos(d), a * math.sin(d))


def place_centres(
    rng: np.random.Generator, height: int, width: int, ellipses: list[tuple[float, float, float]],
    margins: list[float], cluster_fraction: float, zs: list[float] | None = None,
) -> list[tuple[float, float]]:
    """Centres ``(y, x)`` for the initial cells of a sequence.

    Each ellipse ``(a, b, theta)`` lies at least its margin inside the image; cells are kept
    apart (their borders at most 10% overlapping along the line between centres) and a fraction
    ``cluster_fraction`` is placed right next to an earlier cell (touching clusters). ``zs`` are
    optional z centres in px (3-D distances). In a crowded image, after 200 failed tries, the last
    candidate is kept.
    """
    out: list[tuple[float, float]] = []
    for i, ((a, b, th), m) in enumerate(zip(ellipses, margins)):
        m = min(m, (height - 1) / 2, (width - 1) / 2)
        cand = ((height - 1) / 2, (width - 1) / 2)
        for _ in range(200):
            if out and rng.random() < cluster_fraction:
                j = int(rng.integers(len(out)))
                ang = rng.uniform(0, 2 * math.pi)
                d = (radius_towards(a, b, th, ang) + radius_towards(*ellipses[j], ang)) * rng.uniform(0.95, 1.15)
                cand = (out[j][0] - d * math.sin(ang), out[j][1] - d * math.cos(ang))
            else:
                cand = (rng.uniform(m, height - 1 - m), rng.uniform(m, width - 1 - m))
            if not (m <= cand[0] <= height - 1 - m and m <= cand[1] <= width - 1 - m):
                continue
            ok = True
            for j, (yj, xj) in enumerate(out):
                ang = math.atan2(yj - cand[0], xj - cand[1])
                dz = 0.0 if zs is None else zs[i] - zs[j]
                need = 0.9 * (radius_towards(a, b, th, ang) + radius_towards(*ellipses[j], ang))
                if math.sqrt((cand[0] - yj) ** 2 + (cand[1] - xj) ** 2 + dz * dz) < need:
                    ok = False
                    break
            if ok:
                break
        out.append(cand)
    return out
