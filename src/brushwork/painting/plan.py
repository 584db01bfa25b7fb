"""The level plan: how many strokes of which window size, coarse to fine.

A level has one window size w (a stroke's square box on the canvas) and a share of the strokes.
Windows of at least `work_window` (W) px are snapped to W * m and optimised on the canvas reduced m
times, where they measure exactly W px: the CNN loss then runs on fewer pixels and the work per
level does not grow with the canvas (measured against 64 px work windows: the same PSNR in 20 %
less time). Smaller windows (small canvases) are optimised at full scale.

    >>> [(lv.window, lv.strokes) for lv in plan_levels(512, 512, 1000, PaintConfig())]
    [(256, 44), (128, 104), (64, 251), (32, 601)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from brushwork.limits import MIN_WINDOW
from brushwork.painting.config import PaintConfig


@dataclass(frozen=True)
class Level:
    """One coarse-to-fine level: its window size on the full canvas and on its work canvas."""

    index: int  # level number written to the StrokeList
    window: int  # window side in full-canvas px
    factor: int  # the level is optimised on the canvas reduced `factor` times
    strokes: int
    steps: int  # Adam steps (the schedule may replace them with a time budget)
    brush: str = ""  # the brush its strokes are painted with ("": the painting's; see `assign_brushes`)

    @property
    def work_window(self) -> int:
        return self.window // self.factor


def split(n: int, shares: tuple[float, ...] | list[float]) -> list[int]:
    """n split by shares, rounding by largest remainder so the parts sum to n."""
    s = np.asarray(shares, dtype=np.float64)
    raw = n * s / s.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: n - out.sum()]] += 1
    return out.tolist()


def level_windows(height: int, width: int, config: PaintConfig) -> list[tuple[int, int, float]]:
    """(window px, reduction factor, share) per distinct level; repeated windows are merged."""
    long = max(height, width)
    ww = config.work_window
    lo_px, hi_px = config.min_stroke * long, config.max_stroke * long  # the user's stroke-size limits
    out: list[tuple[int, int, float]] = []
    for frac, share in zip(config.levels_window_fractions(), config.level_shares(), strict=True):
        want = long * frac
        m_lo, m_hi = max(1, math.ceil(lo_px / ww - 1e-9)), math.floor(hi_px / ww + 1e-9)
        if want >= ww and m_lo <= m_hi:  # a multiple of the work window within the limits
            m = min(max(round(want / ww), m_lo), m_hi)
            win, factor = ww * m, m
        else:  # a small window (or limits no multiple fits): optimised at full scale
            win, factor = max(MIN_WINDOW, min(round(want), math.floor(hi_px + 1e-9))), 1
        if out and out[-1][:2] == (win, factor):
            out[-1] = (win, factor, out[-1][2] + share)
        else:
            out.append((win, factor, share))
    return out


def plan_levels(
    height: int,
    width: int,
    strokes: int,
    config: PaintConfig,
    steps: int | None = None,
    first_index: int = 0,
    max_window: int | None = None,
    cover: bool = False,
) -> list[Level]:
    """The levels for a height x width canvas and `strokes` strokes.

    `max_window` drops the levels with larger windows (their strokes go to the others; the finest
    level always stays): continuing a painting adds detail on top rather than big strokes over it.
    `cover` moves strokes to the coarser levels until they cover the canvas (`cover_first`): a plan
    made for a time budget, whose few strokes would otherwise leave the ground showing. Levels that
    get no strokes are dropped.
    """
    wins = level_windows(height, width, config)
    if max_window is not None:
        wins = [w for w in wins if w[0] <= max_window] or wins[-1:]
    counts = split(strokes, [share for _, _, share in wins])
    if cover:
        counts = cover_first(counts, [w for w, _, _ in wins], height * width)
    levels: list[Level] = []
    for (win, m, _), n in zip(wins, counts, strict=True):
        if n > 0:
            levels.append(Level(first_index + len(levels), win, m, n, steps or config.level_steps))
    return levels


COVER_PER_CELL = 3  # strokes per window-sized cell of the canvas that cover it (a stroke is a curve in its window)


def cover_first(counts: list[int], windows: list[int], area: int) -> list[int]:
    """Strokes per level, coarse to fine, moved from the finest levels to the coarser ones until each
    coarser level has COVER_PER_CELL strokes per window-sized cell of the canvas, as far as they go;
    a level gives at most half of its own strokes, so the finest detail is thinned, never dropped.

    A painting covers the canvas before it adds detail: with few strokes (a small time budget) the
    shares put most of them in the finest level, whose small strokes left the ground showing. Only
    budget plans do it: a stroke count the user gave keeps the shares (at 96 px / 150 strokes, moving
    strokes up made a film's flicker 0.54 of independent frames' instead of under 0.5), and default
    plans give every level more than this already.
    """
    out = list(counts)
    can_give = [n // 2 for n in counts]
    for i in range(len(out) - 1):
        need = math.ceil(COVER_PER_CELL * area / windows[i] ** 2)
        for j in range(len(out) - 1, i, -1):  # take from the finest level first
            take = min(max(0, need - out[i]), can_give[j])
            out[i], out[j], can_give[j] = out[i] + take, out[j] - take, can_give[j] - take
    return out


def assign_brushes(levels: list[Level], brushes: tuple[str, ...] | list[str]) -> list[Level]:
    """Give each level a brush: k brushes over L levels, coarse to fine, level i gets brush
    floor(i * k / L). One brush per level when k == L; with fewer, the first brushes take the
    coarse levels (2 brushes over 4 levels: a, a, b, b; 3 over 4: a, a, b, c).

    Raises BrushworkError when there are more brushes than levels.
    """
    from dataclasses import replace

    k, n = len(brushes), len(levels)
    check_brush_count(k, n)
    return [replace(level, brush=brushes[i * k // n]) for i, level in enumerate(levels)]


def check_brush_count(brushes: int, levels: int) -> None:
    """BrushworkError unless `brushes` brushes can go over `levels` levels (at most one per level)."""
    from brushwork.errors import BrushworkError

    if brushes > levels:
        raise BrushworkError(
            f"{brushes} brushes for a painting of {levels} level{'s' * (levels != 1)}: give at most {levels} (one "
            "per level, coarse to fine), or more strokes or a smaller --min-stroke for more levels"
        )


__all__ = ["Level", "assign_brushes", "check_brush_count", "cover_first", "level_windows", "plan_levels", "split"]
