"""The canvases a wet (smudging) stroke is painted over in a data set: what it will meet when painting.

A smudging brush picks up the paint under it, so each training stroke needs a canvas. When painting,
a wet stroke lands on a painting made of strokes, so most canvases here are crops of paintings the
real engine makes from random strokes of dry brushes (big strokes first, then smaller ones, as a
painting's levels go), and the rest are flat and gradient fills (the first level, a sky).

Each canvas is `CONTEXT` px square with the 64 px stroke window at its centre: a dab near the
window's edge reaches past it and smudges what lies there. Everything comes from one seeded
generator, so a chunk's canvases depend only on (seed, shard, chunk): training and held-out sets,
generated with different seeds, share no canvas.
"""

from __future__ import annotations

import numpy as np

from brushwork import actions as A
from brushwork.data.shards import STROKE_SIZE, to_uint8
from brushwork.engine import render_canvas

CONTEXT = 96  # canvas side: the stroke window plus 16 px all round
POOL_SIZE = 256  # side of each random painting crops are taken from
POOL_PAINTINGS = 3  # per chunk of strokes
# the dry brushes that paint the random paintings (ones brushwork ships painters for)
POOL_BRUSHES = ("classic/dry_brush", "classic/charcoal", "classic/knife", "tanda/acrylic-05-paint", "classic/pen")
# (stroke window px, strokes) per level of a random painting: big strokes first, then finer ones
POOL_LEVELS = ((128, 40), (64, 90), (32, 160))
KINDS = ("painting", "flat", "gradient")
KIND_SHARES = (0.6, 0.15, 0.25)


def random_painting(rng: np.random.Generator, size: int = POOL_SIZE) -> np.ndarray:
    """A painting of random dry strokes by the real engine, float32 (size, size, 3) in [0, 1]."""
    acts, wins, brushes = [], [], []
    for window, count in POOL_LEVELS:
        a = A.sample_actions(rng, count)
        a[:, A.PRESSURE] = 0.3 + 0.7 * a[:, A.PRESSURE]  # visible strokes: faint ones paint next to nothing
        a[:, A.SIZE] = 0.2 + 0.6 * a[:, A.SIZE]
        xy = rng.uniform(-window / 4, size - 3 * window / 4, (count, 2))
        acts.append(a)
        wins.append(np.column_stack([xy, np.full(count, float(window))]))
        brushes += [POOL_BRUSHES[i] for i in rng.integers(0, len(POOL_BRUSHES), count)]
    background = tuple(float(c) for c in rng.random(3))
    return render_canvas(np.concatenate(acts), np.concatenate(wins), size, size, brushes, background)


def flat(rng: np.random.Generator, size: int = CONTEXT) -> np.ndarray:
    return np.broadcast_to(rng.random(3).astype(np.float32), (size, size, 3)).copy()


def gradient(rng: np.random.Generator, size: int = CONTEXT) -> np.ndarray:
    """A linear blend of two random colours at a random angle."""
    angle = rng.uniform(0, 2 * np.pi)
    g = (np.arange(size) + 0.5) / size - 0.5
    t = np.clip(0.5 + np.cos(angle) * g[None, :] + np.sin(angle) * g[:, None], 0.0, 1.0)[..., None]
    c0, c1 = rng.random(3), rng.random(3)
    return ((1 - t) * c0 + t * c1).astype(np.float32)


def sample_canvases(rng: np.random.Generator, n: int) -> np.ndarray:
    """n canvases (n, CONTEXT, CONTEXT, 3) uint8, drawn from `rng` (paintings made first, then cropped)."""
    pool = [random_painting(rng) for _ in range(POOL_PAINTINGS)]
    kinds = rng.choice(len(KINDS), size=n, p=KIND_SHARES)
    out = np.empty((n, CONTEXT, CONTEXT, 3), np.uint8)
    for i, kind in enumerate(kinds):
        if KINDS[kind] == "painting":
            p = pool[rng.integers(len(pool))]
            y, x = rng.integers(0, POOL_SIZE - CONTEXT + 1, 2)
            out[i] = to_uint8(p[y : y + CONTEXT, x : x + CONTEXT])
        else:
            out[i] = to_uint8(flat(rng) if KINDS[kind] == "flat" else gradient(rng))
    return out


def window_of(canvases: np.ndarray) -> np.ndarray:
    """(N, CONTEXT, CONTEXT, 3) -> (N, 64, 64, 3): the stroke windows the painter sees."""
    off = (canvases.shape[1] - STROKE_SIZE) // 2
    return np.ascontiguousarray(canvases[:, off : off + STROKE_SIZE, off : off + STROKE_SIZE])


__all__ = ["CONTEXT", "gradient", "flat", "random_painting", "sample_canvases", "window_of"]
