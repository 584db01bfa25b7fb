"""The rules that carry strokes from frame to frame, on real engine coverage."""

from __future__ import annotations

import numpy as np

from brushwork.engine import EngineCanvas, stroke_alphas
from brushwork.video.carry import footprint_motion, removal_change, visible_weights

SIZE = 64
BACKGROUND = (0.9, 0.85, 0.8)


def _strokes(n: int, seed: int) -> tuple[list, np.ndarray]:
    """n real, overlapping dry-brush coverages and a colour each."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(0.2, 0.8, (n, 12)).astype(np.float32)
    windows = np.array([[rng.uniform(-8, 36), rng.uniform(-8, 36), 32] for _ in range(n)], np.float32)
    return stroke_alphas(acts, windows, "classic/dry_brush"), rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)


def _painting(boxes: list, colors: np.ndarray) -> np.ndarray:
    canvas = EngineCanvas(SIZE, SIZE, None, BACKGROUND)
    canvas.composite(boxes, colors)
    return canvas.prem[..., :3] + (1.0 - canvas.prem[..., 3:4]) * np.float32(BACKGROUND)  # unclipped


def test_removal_change_is_what_taking_each_stroke_out_changes():
    """For every stroke: the painting without it, composited by the engine's canvas, differs from the
    painting with it by exactly `removal_change` (sum of squares)."""
    boxes, colors = _strokes(10, seed=3)
    weights = visible_weights(boxes, SIZE, SIZE)
    got = removal_change(boxes, colors, BACKGROUND, weights, SIZE, SIZE)
    whole = _painting(boxes, colors)
    for i in range(len(boxes)):
        without = _painting(boxes[:i] + boxes[i + 1 :], np.delete(colors, i, axis=0))
        want = float(((whole.astype(np.float64) - without) ** 2).sum())
        assert abs(got[i] - want) <= 1e-3 * max(want, 1.0), (i, got[i], want)
    assert got.max() > 1.0  # strokes in the open change the painting


def test_a_stroke_the_colour_of_what_lies_under_it_changes_nothing_when_removed():
    """The rule ranks by change, not by size: a large stroke painted in the background's colour
    (under nothing else) costs nothing to remove, a small one in another colour does."""
    boxes, colors = _strokes(2, seed=5)
    colors[0] = BACKGROUND  # the first stroke lies on the bare canvas
    colors[1] = (0.1, 0.2, 0.9)
    got = removal_change(boxes, colors, BACKGROUND, visible_weights(boxes, SIZE, SIZE), SIZE, SIZE)
    assert got[0] < 1e-6 < got[1]


def test_footprint_motion_follows_translations_and_affine_flows_exactly():
    """A flow that is one translation moves every point by it; an affine flow (a slow turn and a
    stretch) moves a loosely held stroke's points by the map itself, wherever they lie."""
    boxes, _ = _strokes(6, seed=7)
    weights = visible_weights(boxes, SIZE, SIZE)
    rng = np.random.default_rng(1)
    points = [rng.uniform(0, SIZE, (6, 2)) for _ in range(3)]
    shift = np.broadcast_to(np.float32([1.5, -0.75]), (SIZE, SIZE, 2)).copy()
    for d in footprint_motion(weights, shift, points) + footprint_motion(weights, shift, points, stiffness=4.0):
        assert np.allclose(d, [1.5, -0.75], atol=1e-5)
    jac = np.array([[0.02, -0.05], [0.05, 0.03]])
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    affine = (np.stack([xs, ys], -1) @ jac.T + [0.5, 1.0]).astype(np.float32)
    for p, d in zip(points, footprint_motion(weights, affine, points, stiffness=1e-9), strict=True):
        shows = np.array([w is not None for w in weights])
        assert np.allclose(d[shows], (p @ jac.T + [0.5, 1.0])[shows], atol=1e-3)


def test_a_translated_or_stiff_stroke_moves_in_one_piece():
    """Translated, or with a large stiffness, the footprint's mean flow moves all three points alike."""
    boxes, _ = _strokes(4, seed=9)
    weights = visible_weights(boxes, SIZE, SIZE)
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    flow = np.stack([0.05 * ys, -0.04 * xs], -1).astype(np.float32)  # a shear
    points = [np.full((4, 2), v) for v in (10.0, 30.0, 50.0)]
    a, b, c = footprint_motion(weights, flow, points, stiffness=1e9)
    assert np.allclose(a, b, atol=1e-4) and np.allclose(b, c, atol=1e-4)
    a2, b2, c2 = footprint_motion(weights, flow, points)
    assert np.array_equal(a2, b2) and np.array_equal(b2, c2) and np.allclose(a2, a, atol=1e-4)
