"""Refit a level's colours exactly against the real brush's coverage.

With normal blending a stroke paints C * (1 - a) + a * c, and its coverage a does not depend on its
colour c (the dabs compose to one alpha). So once the engine has painted a level's strokes alone
(their coverages a_i), the painting after the level is *linear* in the colours:

    P = B * prod_i (1 - a_i)  +  sum_i c_i * w_i,      w_i = a_i * prod_{j > i} (1 - a_j)

with B the painting under the level. The colours that make P closest to the target T in the mean
square (what PSNR measures) solve a box-constrained linear least-squares problem: min_c
||T - B * prod(1 - a) - W^T c||^2 + ridge * ||c - c0||^2, c in [0, 1]^(N x 3). W (N, pixels) is
sparse (a stroke touches its box only), and so is its Gram matrix G = W W^T (N x N, non-zero where
strokes overlap); FISTA on G with its Gershgorin bound converges in a hundred products; the ridge
keeps strokes that end up hidden under later ones at their optimised colour.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import Tensor

DENSE_GRAM = 1000  # strokes up to which the Gram matrix is built dense (see gram)
Box = tuple[int, int, np.ndarray]  # (x, y, weights (h, w)): a stroke's pixels on the canvas


def coverage_weights(boxes: list[Box], height: int, width: int) -> tuple[list[Box | None], np.ndarray]:
    """Each stroke's visible weight w_i, cropped to the canvas and to where it is non-zero (None if
    nowhere), and the transmittance prod_i (1 - a_i) of the whole level, (H, W) float64.

    `boxes`: per stroke (x, y, alpha (h, w)) in painting order; boxes may reach outside the canvas.
    """
    trans = np.ones((height, width), np.float64)
    out: list[Box | None] = [None] * len(boxes)
    for i in range(len(boxes) - 1, -1, -1):  # back to front: w_i sees the strokes painted after it
        x, y, a = boxes[i]
        xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + a.shape[1], width), min(y + a.shape[0], height)
        if xa >= xb or ya >= yb:
            continue
        ai = a[ya - y : yb - y, xa - x : xb - x].astype(np.float64)
        t = trans[ya:yb, xa:xb]
        w = (ai * t).astype(np.float32)  # kept in float32: a level's weights are most of the refit's memory
        rows, cols = np.flatnonzero(w.max(axis=1) > 1e-6), np.flatnonzero(w.max(axis=0) > 1e-6)
        if len(rows):
            r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            out[i] = (xa + c0, ya + r0, w[r0:r1, c0:c1].copy())
        t *= 1.0 - ai
    return out, trans


def _dense_gram(weights: list[Box | None]) -> np.ndarray:
    """G (N, N) from the overlaps of the strokes' boxes, pair by pair: fastest for few large strokes."""
    n = len(weights)
    g = np.zeros((n, n))
    live = [i for i, b in enumerate(weights) if b is not None]
    if not live:
        return g
    x0 = np.array([weights[i][0] for i in live])
    y0 = np.array([weights[i][1] for i in live])
    x1 = x0 + np.array([weights[i][2].shape[1] for i in live])
    y1 = y0 + np.array([weights[i][2].shape[0] for i in live])
    for k, i in enumerate(live):
        xi, yi, wi = weights[i]
        g[i, i] = float((wi * wi).sum(dtype=np.float64))
        rest = slice(k + 1, None)
        overlap = (x0[rest] < x1[k]) & (x1[rest] > x0[k]) & (y0[rest] < y1[k]) & (y1[rest] > y0[k])
        for m in np.flatnonzero(overlap) + k + 1:
            j = live[m]
            xj, yj, wj = weights[j]
            xa, ya, xb, yb = max(xi, xj), max(yi, yj), min(x1[k], x1[m]), min(y1[k], y1[m])
            v = float(
                (wi[ya - yi : yb - yi, xa - xi : xb - xi] * wj[ya - yj : yb - yj, xa - xj : xb - xj]).sum(
                    dtype=np.float64
                )
            )
            g[i, j] = g[j, i] = v
    return g


GRAM_BAND_NONZEROS = 1 << 22  # non-zeros of W built at once, a band of canvas rows (~200 MB with the product)


def _sparse_gram(weights: list[Box | None], height: int, width: int) -> Tensor:
    """G = W W^T (N, N) sparse, summed over horizontal bands of the canvas: W (N, pixels) is built for
    one band at a time (its rows are the strokes' pixels in the band), so memory is the band's W and
    the product G, never all of W (at 2048 px / 16,000 strokes W alone was gigabytes)."""
    n = len(weights)
    live = np.array([i for i, b in enumerate(weights) if b is not None], np.int64)
    if len(live) == 0:
        return torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.float64),
                                       (n, n)).to_sparse_csr()  # fmt: skip
    top = np.array([weights[i][1] for i in live])
    bottom = top + np.array([weights[i][2].shape[0] for i in live])
    total = sum(weights[i][2].size for i in live)
    edges = np.linspace(0, height, max(1, math.ceil(total / GRAM_BAND_NONZEROS)) + 1).round().astype(int)
    idx_parts, val_parts = [], []
    for y0, y1 in zip(edges[:-1], edges[1:], strict=True):
        rows, cols, vals = [], [], []
        for i in live[(top < y1) & (bottom > y0)]:
            x, y, w = weights[i]
            a, b = max(y, y0), min(y + w.shape[0], y1)
            band = w[a - y : b - y]
            yy, xx = np.nonzero(band)
            rows.append(np.full(len(yy), i))
            cols.append((yy + a - y0) * width + (xx + x))
            vals.append(band[yy, xx].astype(np.float64))
        if not rows:
            continue
        idx = torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(cols)]))
        big_w = torch.sparse_coo_tensor(idx, torch.from_numpy(np.concatenate(vals)), (n, (y1 - y0) * width),
                                        check_invariants=False).coalesce()  # fmt: skip
        del idx, rows, cols, vals
        g = torch.sparse.mm(big_w, big_w.t().coalesce()).coalesce()
        idx_parts.append(g.indices())
        val_parts.append(g.values())
    g = torch.sparse_coo_tensor(torch.cat(idx_parts, 1), torch.cat(val_parts), (n, n)).coalesce()
    return g.to_sparse_csr()


def gram(weights: list[Box | None], height: int, width: int) -> Tensor:
    """G = W W^T (N, N): G_ij = sum over pixels of w_i * w_j, non-zero only where strokes overlap.

    Up to DENSE_GRAM strokes a dense matrix from the boxes' overlaps (a level of large strokes: 87
    strokes of 256 px, 0.1 s); beyond, a sparse product in CSR (4000 small strokes: 0.3 s, where the
    pairwise loop took 0.9 s and dense products 1.1 s per 100 iterations, CSR's 0.05 s), built band by
    band (`_sparse_gram`).
    """
    if len(weights) <= DENSE_GRAM:
        return torch.from_numpy(_dense_gram(weights))
    with warnings.catch_warnings():  # torch calls sparse CSR "beta"; its products are 15x faster than COO's
        warnings.simplefilter("ignore", UserWarning)
        return _sparse_gram(weights, height, width)


def reduce_box(box: Box, factor: int) -> Box:
    """A stroke's coverage box on the canvas grid box-filtered by `factor`: pixel (i, j) of the result
    is the mean of canvas px [i*m, (i+1)*m) x [j*m, (j+1)*m), as `brushwork.painting.canvas.reduce`
    gives for images, so a refit on the reduced grid uses the reduced target and painting."""
    x, y, a = box
    if factor == 1:
        return box
    if a.size == 0:
        return x // factor, y // factor, a
    x0, y0 = x // factor * factor, y // factor * factor
    left, top = x - x0, y - y0
    h, w = a.shape
    hh, ww = -(-(top + h) // factor), -(-(left + w) // factor)
    padded = np.zeros((hh * factor, ww * factor), np.float32)
    padded[top : top + h, left : left + w] = a
    small = padded.reshape(hh, factor, ww, factor).mean(axis=(1, 3), dtype=np.float32)
    return x0 // factor, y0 // factor, small


def refit_colors(
    target: np.ndarray,
    under: np.ndarray,
    boxes: list[Box],
    colors: np.ndarray,
    ridge: float = 1e-3,
    iterations: int = 100,
    hold: np.ndarray | None = None,
) -> np.ndarray:
    """The colours (N, 3) in [0, 1] that bring the real painting of a level closest to the target.

    Args:
        target, under: (H, W, 3) in [0, 1]: the photo, and the real painting under the level.
        boxes: each stroke's real coverage, (x, y, alpha (h, w)) in painting order (`stroke_alphas`).
        colors: (N, 3) the optimised colours: the starting point and the ridge's anchor.
        ridge: weight of ||c - c0||^2 relative to one fully visible pixel's squared error.
        hold: (N,) per stroke, a further pull toward c0 of `hold` times the stroke's own weight
            (sum of its squared visible coverage): 1 moves an isolated stroke's colour half of the
            way to its best fit (a film's carried strokes follow the light without jitter).

    Returns:
        float32 (N, 3).
    """
    h, w = target.shape[:2]
    c0 = np.asarray(colors, np.float64).reshape(-1, 3)
    if len(c0) == 0:
        return c0.astype(np.float32)
    weights, trans = coverage_weights(boxes, h, w)
    residual = target.astype(np.float64) - under.astype(np.float64) * trans[..., None]  # (H, W, 3)
    g = gram(weights, h, w)
    b = np.zeros_like(c0)  # b_i = <w_i, residual>
    for i, box in enumerate(weights):
        if box is not None:
            x, y, wi = box
            under_box = residual[y : y + wi.shape[0], x : x + wi.shape[1]]
            b[i] = np.tensordot(wi.astype(np.float64), under_box, axes=([0, 1], [0, 1]))
    b = torch.from_numpy(b)
    c0_t = torch.from_numpy(c0)
    pull = np.full((len(c0), 1), ridge)
    if hold is not None:
        own = np.array([0.0 if box is None else float((box[2].astype(np.float64) ** 2).sum()) for box in weights])
        pull += (np.asarray(hold, np.float64).reshape(-1) * own)[:, None]
    pull_t = torch.from_numpy(pull)
    # Gershgorin on G (non-negative entries): its largest row sum bounds its largest eigenvalue,
    # hence the step 1 / L is safe.
    lipschitz = float((g @ torch.ones(len(c0), 1, dtype=torch.float64) + pull_t).max())
    c, z, t = c0_t.clone(), c0_t.clone(), 1.0
    for _ in range(iterations):  # FISTA: projected gradient with Nesterov momentum
        c_next = (z - (g @ z - b + pull_t * (z - c0_t)) / lipschitz).clamp(0.0, 1.0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        z = c_next + (t - 1) / t_next * (c_next - c)
        c, t = c_next, t_next
    c = c.numpy()
    return c.astype(np.float32)


__all__ = ["coverage_weights", "gram", "reduce_box", "refit_colors"]
