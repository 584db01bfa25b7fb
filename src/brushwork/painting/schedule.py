"""The step and time schedule: how long each level runs, its learning rate, and what a budget buys.

Three ways to say how long to paint:
- fixed steps per level (`PaintConfig.level_steps`, or `steps`);
- a time budget with a stroke count: the seconds are split over the levels in proportion to a cost
  model of their default steps, and time a faster level leaves over goes to the next;
- a time budget alone: `plan_for_budget` picks the stroke count and the steps per level that the
  cost model says fit the budget, then the budget is split as above.

The cost model, in `unit`s = one stroke's painter forward + backward on this machine now
(`measure_unit`, 0.45 ms on 2 idle cores), fitted to per-level timings of castle at 512 px (2000
strokes, 2 threads, idle; benchmarks/results/engine_loop.jsonl):
- one optimiser step of a level: strokes + 6 x passes + 0.5 x blocks x passes, where a pass is one
  grid of non-overlapping windows composited in one go and blocks are 64 x 64 px of the work canvas;
- once per stroke (placement, the real brush's coverage, the colour refit, painting it):
  2.7 + 1.3e-4 x window^2 (a large window's dabs cover more pixels).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from brushwork.limits import MAX_STROKES
from brushwork.painting.config import PaintConfig
from brushwork.painting.plan import Level, plan_levels

NATIVE = 64  # px per block of the work canvas in the cost model
STEP_LADDER = (10, 20, 40)  # steps per level a time budget chooses from (see plan_for_budget)
# Strokes past which more steps pay more than more strokes (measured the same at 256 and 512 px:
# the windows are fractions of the canvas, so the strokes needed to cover it do not change).
DENSE_STROKES = 2000


def step_cost(level: Level, height: int, width: int, config: PaintConfig) -> float:
    """Cost units of one optimiser step of `level` (see module docstring)."""
    h, w = math.ceil(height / level.factor), math.ceil(width / level.factor)
    per_pass = max(1, round(config.fill * h * w / level.work_window**2))
    passes = math.ceil(level.strokes / per_pass)
    return level.strokes + 6.0 * passes + 0.5 * (h * w / NATIVE**2) * passes


def stroke_cost(level: Level, config: PaintConfig, engine: bool) -> float:
    """Cost units a level pays once per stroke, outside its optimiser steps (see module docstring)."""
    per_stroke = 2.7 + 1.3e-4 * level.window**2 if engine else 1.0
    if engine and config.real_forward_every:  # straight-through renders at the work window
        per_stroke += 2.7 * math.ceil(level.steps / config.real_forward_every)
    return level.strokes * per_stroke


def level_seconds(level: Level, height: int, width: int, unit: float, config: PaintConfig, engine: bool) -> float:
    """Predicted seconds of a level with its default steps."""
    return unit * (level.steps * step_cost(level, height, width, config) + stroke_cost(level, config, engine))


def split_budget(levels: list[Level], height: int, width: int, seconds: float, config: PaintConfig) -> list[float]:
    """Seconds per level for the optimiser, in proportion to the cost of the level's default steps."""
    costs = [max(1, lv.steps) * step_cost(lv, height, width, config) for lv in levels]
    total = sum(costs)
    return [seconds * c / total for c in costs]


def strokes_for_budget(height: int, width: int, seconds: float, config: PaintConfig, unit: float, engine: bool) -> int:
    """The largest stroke count whose default plan is predicted to take at most `seconds` (at least 1)."""

    def predicted(n: int) -> float:
        levels = plan_levels(height, width, n, config, cover=True)
        return sum(level_seconds(lv, height, width, unit, config, engine) for lv in levels)

    lo, hi = 1, MAX_STROKES
    if predicted(hi) <= seconds:
        return hi
    while lo < hi:  # predicted() grows with n: bisect
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if predicted(mid) <= seconds else (lo, mid - 1)
    return lo


def plan_for_budget(
    height: int, width: int, seconds: float, config: PaintConfig, unit: float, engine: bool
) -> tuple[int, int]:
    """(strokes, Adam steps per level) for `seconds` of painting.

    Measured on castle at 256 px (benchmarks/results/engine_loop.jsonl), for the same time more
    strokes with fewer steps win down to 10 steps a level -- 2000 x 10 beat 1000 x 20, 4000 x 5 lost
    to 2000 x 10 -- until about DENSE_STROKES strokes; past that, more steps pay more (2000 x 20 beat
    4000 x 10 at 256 px and 3000 x 10 at 512 px). So: the most steps of STEP_LADDER that still afford
    that many strokes.
    """
    dense = DENSE_STROKES
    best: tuple[int, int] | None = None
    for steps in STEP_LADDER:
        n = strokes_for_budget(height, width, seconds, replace(config, level_steps=steps), unit, engine)
        if best is not None and n < dense:
            break
        best = (n, steps)
    assert best is not None
    return best


@torch.no_grad()
def measure_unit(painter: torch.nn.Module, device: torch.device, batch: int = 256, repeats: int = 2) -> float:
    """Seconds of one stroke's painter forward + backward on this machine now (the cost model's unit)."""
    acts = torch.rand(batch, 12, generator=torch.Generator().manual_seed(0)).to(device)  # global RNG untouched
    with torch.enable_grad():
        best = float("inf")
        for _ in range(repeats + 1):  # the first run warms up oneDNN
            x = acts.clone().requires_grad_(True)
            t = time.perf_counter()
            if getattr(painter, "wet", False):  # a wet painter's colour laid costs too
                painter.paint_over(x, torch.full((batch, 3, 64, 64), 0.5, device=device)).sum().backward()
            else:
                painter.alpha(x).sum().backward()
            best = min(best, time.perf_counter() - t)
    return best / batch


@dataclass
class LevelClock:
    """When a level stops and its learning rate: fixed steps, or a time budget in seconds.

    `fraction(step)` is the part of the level done, for the cosine decay; `done(step)` says stop.
    With a budget the step time is measured as the level runs: a step that would overrun is not taken.
    """

    steps: int | None
    budget: float | None

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        """(Re)start the clock: the optimiser starts it after placement, which the cost model counts apart."""
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def done(self, step: int) -> bool:
        if self.budget is None:
            return step >= (self.steps or 0)
        elapsed = self.elapsed()
        return step > 0 and elapsed + elapsed / step > self.budget

    def fraction(self, step: int) -> float:
        if self.budget is None:
            return step / max(1, self.steps or 0)
        return min(1.0, self.elapsed() / self.budget) if self.budget > 0 else 1.0

    def expected_steps(self, step: int) -> int | None:
        """The level's total steps, as far as known (for a progress bar's ETA)."""
        if self.budget is None:
            return self.steps
        return max(step + 1, int(self.budget / (self.elapsed() / step))) if step >= 2 else None


@dataclass
class Progress:
    """Where a painting is: `level` levels of `levels` done, `step` of `steps` in the current one.

    After a level `image` is the painting so far, (H, W, 3) float32 in [0, 1] (the real brush's when
    the engine is in the loop), and `strokes` how many it has; between steps both are None.
    """

    level: int
    levels: int
    step: int
    steps: int | None  # None while a time budget's step count is not known yet
    seconds: float  # since painting started
    image: np.ndarray | None = None
    strokes: int | None = None
    # mid-level, every couple of seconds: the painter's view of the painting with the level's current
    # strokes, (H, W, 3) in [0, 1] (smoother than the real brush's, which `image` gives after the level)
    preview: np.ndarray | None = None
    # share of the painting's predicted work done (each level weighed by `level_seconds`), in [0, 1]
    work: float | None = None

    @property
    def fraction(self) -> float:
        """Share of the painting done, in [0, 1]: `work` when known, else levels counted equally."""
        if self.work is not None:
            return min(1.0, self.work)
        inside = self.step / self.steps if self.steps else 0.0
        return min(1.0, (self.level + inside) / max(1, self.levels))

    @property
    def eta(self) -> float | None:
        """Seconds of painting left at the pace so far (None until a little is done)."""
        f = self.fraction
        return self.seconds * (1.0 - f) / f if f > 0.005 and self.seconds > 0.5 else None


def duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 05 min': a span of time as a person reads it."""
    s = max(0, round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{round(s / 60)} min"
    hours, minutes = divmod(round(s / 60), 60)
    return f"{hours} h {minutes:02d} min"


def level_line(p: Progress, strokes_total: int) -> str:
    """The line a finished level is reported with: the strokes, the time so far and what is left."""
    left = p.eta
    rest = f", about {duration(left)} left" if left is not None and p.level < p.levels else ""
    return (f"level {p.level}/{p.levels} done: {p.strokes:,} of {strokes_total:,} strokes, "
            f"{duration(p.seconds)} so far{rest}")


def cosine_lr(lr: float, lr_final: float, fraction: float) -> float:
    """Cosine decay from lr to lr * lr_final over fraction 0 -> 1."""
    return lr * (lr_final + (1 - lr_final) * 0.5 * (1 + math.cos(math.pi * fraction)))


__all__ = [
    "LevelClock",
    "Progress",
    "cosine_lr",
    "duration",
    "level_line",
    "level_seconds",
    "measure_unit",
    "plan_for_budget",
    "split_budget",
    "step_cost",
    "stroke_cost",
    "strokes_for_budget",
]
