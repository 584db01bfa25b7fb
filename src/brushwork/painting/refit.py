"""Refit a level's colours exactly against the real brush's coverage.

With normal blending a stroke paints C * (1 - a) + a * c, and its coverage a does not depend on its
colour c (the dabs compose to one alpha). So once the engine has painted a level's strokes alone
(their coverages a_i), the painting after the level is *linear* in the colours:

    P = B * prod_i (1 - a_i)  +  sum_i c_i * w_i,      w_i = a_i * prod_{j > i} (1 - a_j)

with B the painting under the level. The colours that make P closest to the target T in the mean
square (what PSNR measures) solve a box-constrained linear least-squares problem: min_c
||T - B * prod(1 - a) - W^T c||^2 + ridge * ||c - c0||^2, c in [0, 1]^(N x 3). W (N, pixels) is
sparse (a stroke touches its box only), so FISTA on it with the exact Lipschitz bound of its
Gram matrix converges in a few dozen sparse products; the ridge keeps strokes that end up hidden
under later ones at their optimised colour.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def coverage_weights(boxes: list[tuple[int, int, np.ndarray]], height: int, width: int) -> tuple[Tensor, np.ndarray]:
    """Per stroke visible weight w_i (sparse (N, H*W) float64) and the final transmittance (H, W).

    `boxes`: per stroke (x, y, alpha (h, w)) in painting order, boxes may reach outside the canvas.
    """
    trans = np.ones((height, width), np.float64)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for i in range(len(boxes) - 1, -1, -1):  # back to front: w_i sees the strokes painted after it
        x, y, a = boxes[i]
        xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + a.shape[1], width), min(y + a.shape[0], height)
        if xa >= xb or ya >= yb:
            continue
        ai = a[ya - y : yb - y, xa - x : xb - x].astype(np.float64)
        t = trans[ya:yb, xa:xb]
        w = ai * t
        keep = np.flatnonzero(w > 1e-5)
        yy, xx = np.divmod(keep, xb - xa)
        rows.append(np.full(len(keep), i))
        cols.append((yy + ya) * width + (xx + xa))
        vals.append(w.ravel()[keep])
        t *= 1.0 - ai
    n = len(boxes)
    if rows:
        idx = torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(cols)]))
        val = torch.from_numpy(np.concatenate(vals))
    else:
        idx, val = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.float64)
    # COO: CSR would be faster to multiply but is still "beta" in torch and warns about it.
    weights = torch.sparse_coo_tensor(idx, val, (n, height * width), check_invariants=False).coalesce()
    return weights, trans


def refit_colors(
    target: np.ndarray,
    under: np.ndarray,
    boxes: list[tuple[int, int, np.ndarray]],
    colors: np.ndarray,
    ridge: float = 1e-3,
    iterations: int = 60,
) -> np.ndarray:
    """The colours (N, 3) in [0, 1] that bring the real painting of a level closest to the target.

    Args:
        target, under: (H, W, 3) in [0, 1]: the photo, and the real painting under the level.
        boxes: each stroke's real coverage, (x, y, alpha (h, w)) in painting order (`stroke_alphas`).
        colors: (N, 3) the optimised colours: the starting point and the ridge's anchor.
        ridge: weight of ||c - c0||^2 relative to one fully visible pixel's squared error.

    Returns:
        float32 (N, 3).
    """
    h, w = target.shape[:2]
    c0 = torch.from_numpy(np.asarray(colors, np.float64))
    if len(c0) == 0:
        return np.asarray(colors, np.float32)
    weights, trans = coverage_weights(boxes, h, w)
    rhs = torch.from_numpy((target.astype(np.float64) - under.astype(np.float64) * trans[..., None]).reshape(-1, 3))
    weights_t = weights.t().coalesce()  # (P, N)
    b = weights @ rhs  # (N, 3)
    # Gershgorin on the Gram matrix G = W W^T (non-negative entries): its largest row sum bounds its
    # largest eigenvalue, hence the step 1 / L is safe.
    lipschitz = float((weights @ (weights_t @ torch.ones(len(c0), 1, dtype=torch.float64))).max()) + ridge

    def gradient(c: Tensor) -> Tensor:
        return weights @ (weights_t @ c) - b + ridge * (c - c0)

    c, z, t = c0.clone(), c0.clone(), 1.0
    for _ in range(iterations):  # FISTA: projected gradient with Nesterov momentum
        c_next = (z - gradient(z) / lipschitz).clamp(0.0, 1.0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        z = c_next + (t - 1) / t_next * (c_next - c)
        c, t = c_next, t_next
    return c.float().numpy()


__all__ = ["coverage_weights", "refit_colors"]
