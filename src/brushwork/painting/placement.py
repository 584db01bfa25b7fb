"""Stroke placement: where a level's strokes start, with which colour and which curve.

A level paints in *passes*: each pass is a grid of non-overlapping w x w windows, shifted from pass
to pass (see `brushwork.painting.canvas`) so that no seams line up. Pass by pass, every grid cell is
scored by the mean error |target - canvas| over its window -- on the real brush's painting when the
engine is in the loop -- weighted up where the photo has detail (finer levels), and the best cells
get a stroke: the target's colour around the error's centroid, a curve along the local edges. The
pass is painted (painter, no grad) before the next is placed, so later passes see the remaining error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from brushwork import actions as A
from brushwork.models.painter import Painter
from brushwork.painting.canvas import PassGrid, composite_pass, resize_alpha
from brushwork.painting.config import PaintConfig
from brushwork.painting.plan import Level, split


def action_bounds(margin: float) -> tuple[Tensor, Tensor]:
    """(12,) lower and upper bounds of the actions: curve points in [margin, 1 - margin], the rest [0, 1]."""
    lo, hi = torch.zeros(A.ACTION_DIM), torch.ones(A.ACTION_DIM)
    points = [A.START_X, A.START_Y, A.CONTROL_X, A.CONTROL_Y, A.END_X, A.END_Y]
    lo[points], hi[points] = margin, 1.0 - margin
    return lo, hi


@dataclass
class LevelInit:
    """A level's strokes before optimisation, in painting order, pass by pass (work-canvas px)."""

    grids: list[PassGrid]
    cells: list[Tensor]  # per pass (P_k,) long
    actions: Tensor  # (N, 12) in [0, 1], N = sum P_k

    @property
    def slices(self) -> list[slice]:
        out, start = [], 0
        for c in self.cells:
            out.append(slice(start, start + len(c)))
            start += len(c)
        return out

    def windows(self, factor: int) -> Tensor:
        """(N, 3) float (x0, y0, w) in full-canvas px."""
        rows = []
        for g, c in zip(self.grids, self.cells, strict=True):
            o = g.origins(c.cpu()).float() * factor  # (P, 2)
            rows.append(torch.cat([o, torch.full((len(c), 1), float(g.window * factor))], dim=1))
        return torch.cat(rows) if rows else torch.zeros(0, 3)


def _shifts(n: int, window: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """n grid shifts spread evenly over [0, window)^2: the R2 low-discrepancy sequence, random start."""
    g = 1.32471795724474602596  # plastic number: R2's generator
    a = np.array([1 / g, 1 / g**2])
    u = (rng.random(2) + np.arange(n)[:, None] * a) % 1.0  # (n, 2)
    return [(int(x * window), int(y * window)) for x, y in u]


def _edge_directions(target: Tensor, grid: PassGrid) -> Tensor:
    """Per cell, the angle (ny, nx) of the local edges (orthogonal to the mean structure tensor)."""
    lum = (0.299 * target[0] + 0.587 * target[1] + 0.114 * target[2])[None]  # (1, H, W)
    gx = F.pad(lum[:, :, 1:] - lum[:, :, :-1], (0, 1))
    gy = F.pad(lum[:, 1:, :] - lum[:, :-1, :], (0, 0, 0, 1))
    s = grid.cell_sums(torch.cat([gx * gx, gy * gy, gx * gy]))  # (3, ny, nx)
    grad_angle = 0.5 * torch.atan2(2 * s[2], s[0] - s[1])  # dominant gradient direction
    return grad_angle + math.pi / 2


def detail_map(target: Tensor, window: int) -> Tensor:
    """(3, h, w) -> (1, h, w) in [0, 1]: how much detail a window-sized stroke would miss there.

    The local gradient magnitude of the luminance, averaged over a box of half the window and
    divided by its maximum: high on edges, faces and text, low in flat areas and smooth gradients.
    """
    lum = (0.299 * target[0] + 0.587 * target[1] + 0.114 * target[2])[None, None]  # (1, 1, h, w)
    gx = F.pad(lum[..., :, 1:] - lum[..., :, :-1], (0, 1))
    gy = F.pad(lum[..., 1:, :] - lum[..., :-1, :], (0, 0, 0, 1))
    mag = (gx * gx + gy * gy).sqrt()
    k = max(1, window // 2) | 1
    mag = F.avg_pool2d(F.pad(mag, (k // 2,) * 4, mode="replicate"), k, stride=1)[0]  # (1, h, w)
    return mag / mag.max().clamp(min=1e-6)


def init_level(
    painter: Painter,
    level: Level,
    target: Tensor,
    canvas: Tensor,
    config: PaintConfig,
    rng: np.random.Generator,
    detail: Tensor | None = None,
) -> tuple[LevelInit, Tensor]:
    """Place a level's strokes where the error is largest.

    Args:
        target, canvas: (3, h, w) on the level's work canvas.
        detail: (1, h, w) in [0, 1] (`detail_map`); the error there counts 1 + detail_weight x detail.

    Returns:
        The LevelInit and the canvas with the initial strokes painted (3, h, w).

    Pass by pass: score every grid cell by the mean error |target - canvas| over the window, take the
    best cells, give each stroke the target's mean colour in its window and a curve along the local
    edges, then paint the pass with the painter (no grad) so the next pass sees the remaining error.
    """
    h, w = target.shape[-2:]
    ww = level.work_window
    per_pass = max(1, round(config.fill * h * w / ww**2))
    n_passes = math.ceil(level.strokes / per_pass)
    counts = split(level.strokes, (1.0,) * n_passes)
    grids, cells_list, acts_list = [], [], []
    lo_l, hi_l = config.init_half_length
    ys, xs = (t.to(target)[None] + 0.5 for t in torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"))
    k = max(1, ww // 2) | 1  # odd box size
    smooth = F.avg_pool2d(F.pad(target[None], (k // 2,) * 4, mode="replicate"), k, stride=1)[0]  # (3, h, w)
    for (sx, sy), n in zip(_shifts(n_passes, ww, rng), counts, strict=True):
        grid = PassGrid(h, w, ww, sx, sy)
        area = grid.cell_areas().to(target.device)  # (ny, nx)
        err = (target - canvas).abs().sum(0, keepdim=True)  # (1, h, w)
        if detail is not None:
            err = err * (1.0 + config.detail_weight * detail)
        score = grid.cell_sums(err)[0] / ww**2  # mean error over the whole window; cropped px count 0
        score = torch.where(area > 0, score, torch.full_like(score, -1.0)).flatten()
        n = min(n, int((area > 0).sum()))
        cells = torch.sort(torch.topk(score, n).indices).values  # (n,) sorted: painting order is free
        # The stroke centre: the error's centroid in the window (pulled to the middle, jittered).
        mass = grid.cell_sums(torch.cat([err, err * xs, err * ys])).flatten(1)[:, cells]  # (3, n)
        origin = grid.origins(cells).to(mass).t()  # (2, n)
        centroid = ((mass[1:] / mass[:1].clamp(min=1e-6) - origin) / ww).t().cpu().numpy()  # (n, 2)
        centre = np.clip(0.5 + config.init_pull * (centroid - 0.5), 0.3, 0.7) + rng.normal(0.0, 0.04, (n, 2))
        # Its colour: the target around the centre (a box of half the window), not the window's mean.
        px = (origin.t().cpu().numpy() + centre * ww).astype(np.int64)  # (n, 2) x, y
        px = np.clip(px, 0, [w - 1, h - 1])
        color = smooth[:, px[:, 1], px[:, 0]].t().cpu()  # (n, 3)
        angle = _edge_directions(target, grid).flatten()[cells].cpu().numpy()
        angle = angle + rng.normal(0.0, 0.3, n)
        half = rng.uniform(lo_l, hi_l, n)
        d = np.stack([np.cos(angle), np.sin(angle)], 1) * half[:, None]  # (n, 2)
        bend = np.stack([-d[:, 1], d[:, 0]], 1) * rng.uniform(-0.3, 0.3, (n, 1))
        a = np.empty((n, A.ACTION_DIM))
        a[:, [A.START_X, A.START_Y]] = centre - d
        a[:, [A.END_X, A.END_Y]] = centre + d
        a[:, [A.CONTROL_X, A.CONTROL_Y]] = centre + bend
        a[:, A.SIZE] = rng.uniform(*config.init_size, n)
        a[:, A.PRESSURE] = rng.uniform(*config.init_pressure, n)
        a[:, A.ENTRY_PRESSURE] = rng.uniform(*config.init_pressure, n)
        a[:, A.COLOR] = color.numpy()
        lo, hi = action_bounds(config.margin)
        acts = torch.from_numpy(np.clip(a, lo.numpy() + 0.01, hi.numpy() - 0.01)).float().to(target.device)
        with torch.no_grad():
            alpha = resize_alpha(painter.alpha(acts), ww)
            canvas = composite_pass(canvas, alpha, acts[:, A.COLOR], cells, grid)
        grids.append(grid)
        cells_list.append(cells)
        acts_list.append(acts)
    return LevelInit(grids, cells_list, torch.cat(acts_list)), canvas


__all__ = ["LevelInit", "action_bounds", "detail_map", "init_level"]
