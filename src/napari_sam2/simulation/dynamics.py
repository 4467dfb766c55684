"""Time-lapse dynamics of the simulated nuclei: birth, motion, deformation, growth, division,
leaving and entering the field of view, and rendering of one frame (numpy and scipy only)."""
from __future__ import annotations

import math

import numpy as np

from .cells import (
    Cell,
    cell_shapes,
    daughter_geometry,
    evolve_coeffs,
    make_texture,
    place_centres,
    radius_towards,
    random_coeffs,
    render_shapes,
    uniform,
)
from .config import SimulationConfig

SEPARATION_DECAY = 0.7  # daughters' separation velocity, kept fraction per frame
ROTATION_PERSISTENCE = 0.9  # frame-to-frame correlation of the rotation speed
MAX_PUSH = 1.0  # largest repulsion step, px/frame
MIN_DAUGHTER_RADIUS = 4.0  # a cell divides only if its daughters keep at least this radius, px


def new_cell(cid: int, y: float, x: float, config: SimulationConfig, rng: np.random.Generator, **kw) -> Cell:
    """A cell with random size, shape, brightness, texture, drift and age (``kw`` overrides)."""
    args = dict(
        radius=uniform(rng, config.radius_range), elongation=uniform(rng, config.elongation_range),
        theta=rng.uniform(0, math.pi), omega=0.0, speed=uniform(rng, config.speed_range),
        heading=rng.uniform(0, 2 * math.pi), intensity=uniform(rng, config.intensity_range),
        depth=rng.random(), coeffs=random_coeffs(rng, config.deformation_strength), texture=make_texture(rng),
        age=int(rng.integers(0, 2 * max(config.division_min_age, 1))),
    )
    args.update(kw)
    return Cell(cell_id=cid, y=y, x=x, **args)


def initial_cells(config: SimulationConfig, rng: np.random.Generator) -> list[Cell]:
    """The cells of frame 0 (ids 1..n), entirely inside the image."""
    n = int(rng.integers(config.num_cells[0], config.num_cells[1] + 1))
    cells = [new_cell(i + 1, 0.0, 0.0, config, rng) for i in range(n)]
    margins = [c.a * (1 + float(np.abs(c.coeffs).sum())) + 2 for c in cells]
    centres = place_centres(rng, config.height, config.width, [(c.a, c.b, c.theta) for c in cells], margins,
                            config.cluster_fraction)
    for c, (y, x) in zip(cells, centres):
        c.y, c.x = y, x
    return cells


def split(cell: Cell, ids: tuple[int, int], config: SimulationConfig, rng: np.random.Generator) -> list[Cell]:
    """The two daughters of a cell at the end of its division, where its two lobes were."""
    rd, ed = daughter_geometry(cell)
    off = 0.92 * rd * math.sqrt(ed)
    ay, ax = math.sin(cell.theta), math.cos(cell.theta)
    out = []
    for sgn, cid in zip((-1.0, 1.0), ids):
        out.append(Cell(
            cell_id=cid, y=cell.y + sgn * off * ay, x=cell.x + sgn * off * ax, radius=rd, elongation=ed,
            theta=cell.theta, omega=0.0, speed=cell.speed, heading=cell.heading,
            intensity=cell.intensity * rng.uniform(0.9, 1.1), depth=cell.depth + sgn * 1e-3,
            coeffs=cell.coeffs.copy(), texture=cell.texture, age=0, boost=0.4,
            sep_vy=sgn * config.separation_speed * ay, sep_vx=sgn * config.separation_speed * ax,
        ))
    return out


def entering_cell(cid: int, config: SimulationConfig, rng: np.random.Generator) -> Cell:
    """A new cell just outside a random border, heading inwards."""
    h, w = config.height, config.width
    cell = new_cell(cid, 0.0, 0.0, config, rng, age=0)
    out = cell.a * (1 + float(np.abs(cell.coeffs).sum())) + 1.0
    side = int(rng.integers(4))  # top, bottom, left, right
    inward = (math.pi / 2, -math.pi / 2, 0.0, math.pi)[side]  # direction atan2(dy, dx)
    if side < 2:
        cell.y, cell.x = (-out if side == 0 else h - 1 + out), rng.uniform(0, w - 1)
    else:
        cell.y, cell.x = rng.uniform(0, h - 1), (-out if side == 2 else w - 1 + out)
    cell.heading = inward + rng.uniform(-math.pi / 4, math.pi / 4)
    cell.speed = max(cell.speed, 0.5)
    return cell


def _repulsion(cells: list[Cell], strength: float) -> np.ndarray:
    """Push of overlapping cells apart, (n, 2) px, at most MAX_PUSH per cell."""
    n = len(cells)
    push = np.zeros((n, 2))
    for i in range(n):
        for j in range(i + 1, n):
            ci, cj = cells[i], cells[j]
            dy, dx = ci.y - cj.y, ci.x - cj.x
            dist = math.hypot(dy, dx)
            if dist < 1e-6:
                continue
            ang = math.atan2(dy, dx)
            reach = 0.9 * (radius_towards(ci.a, ci.b, ci.theta, ang) + radius_towards(cj.a, cj.b, cj.theta, ang))
            if dist < reach:
                step = 0.5 * strength * (reach - dist) / dist
                push[i] += (step * dy, step * dx)
                push[j] -= (step * dy, step * dx)
    norm = np.linalg.norm(push, axis=1, keepdims=True)
    return push * np.minimum(1.0, MAX_PUSH / np.maximum(norm, 1e-9))


def advance(cells: list[Cell], config: SimulationConfig, rng: np.random.Generator, next_id: int,
            lineage: dict[int, int]) -> tuple[list[Cell], int]:
    """One frame of dynamics; returns the new cell list and the next free id (``lineage`` grows)."""
    nxt: list[Cell] = []
    for c in cells:  # division
        c.age += 1
        if c.division_step > 0:
            c.division_step += 1
            if c.division_step > config.division_frames:
                daughters = split(c, (next_id, next_id + 1), config, rng)
                for d in daughters:
                    lineage[d.cell_id] = c.cell_id
                next_id += 2
                nxt.extend(daughters)
                continue
        elif (c.age >= config.division_min_age and c.radius / math.sqrt(2) >= MIN_DAUGHTER_RADIUS
              and rng.random() < config.division_probability):
            c.division_step = 1
        nxt.append(c)
    # motion: own drift (slowly turning) + stage drift + daughter separation + jitter + repulsion
    gdy, gdx = config.global_drift
    moves = np.zeros((len(nxt), 2))
    for i, c in enumerate(nxt):
        c.heading += rng.normal(0.0, config.turn_sigma)
        jy, jx = rng.normal(0.0, config.jitter_sigma, size=2)
        moves[i] = (c.speed * math.sin(c.heading) + gdy + c.sep_vy + jy,
                    c.speed * math.cos(c.heading) + gdx + c.sep_vx + jx)
        c.sep_vy *= SEPARATION_DECAY
        c.sep_vx *= SEPARATION_DECAY
    if config.repulsion > 0 and len(nxt) > 1:
        moves += _repulsion(nxt, config.repulsion)
    rho = ROTATION_PERSISTENCE
    for c, (dy, dx) in zip(nxt, moves):  # move, rotate, wobble, grow
        c.y += float(dy)
        c.x += float(dx)
        c.omega = rho * c.omega + math.sqrt(1 - rho * rho) * rng.normal(0.0, config.rotation_sigma)
        c.theta += c.omega
        c.coeffs = evolve_coeffs(c.coeffs, rng, config.deformation_strength, config.deformation_persistence)
        if c.division_step == 0 and c.radius < config.radius_range[1] * 1.1:
            c.radius *= 1.0 + config.growth_rate
        c.boost *= 0.75
    # leaving: cells far outside are forgotten (those near the border may wander back in)
    h, w = config.height, config.width
    kept = []
    for c in nxt:
        lim = 2.5 * c.a + 2.0
        if -lim <= c.y <= h - 1 + lim and -lim <= c.x <= w - 1 + lim:
            kept.append(c)
    for _ in range(int(rng.poisson(config.enter_rate))):  # entering
        kept.append(entering_cell(next_id, config, rng))
        next_id += 1
    return kept, next_id


def render_cells(cells: list[Cell], config: SimulationConfig, signal: np.ndarray, labels: np.ndarray) -> None:
    """Add the cells' intensities to ``signal`` (H, W) and paint their ids into ``labels`` (H, W):
    overlapping intensities add up, the cell on top (highest depth) owns the label."""
    h, w = signal.shape
    for c in sorted(cells, key=lambda c: (c.depth, c.cell_id)):
        res = render_shapes(cell_shapes(c, config.division_frames), h, w, c.texture, config.texture_strength)
        if res is None:
            continue
        sl, mask, profile = res
        p = c.division_step / config.division_frames if c.division_step > 0 else 0.0
        signal[sl] += (c.intensity * (1.0 + c.boost + 0.4 * p) * profile).astype(signal.dtype)
        labels[sl][mask] = c.cell_id
