"""The step and time schedule: how long each level runs, its learning rate, and what a budget buys.

Three ways to say how long to paint:
- fixed steps per level (`PaintConfig.level_steps`, or `steps`);
- a time budget with a stroke count: the seconds are split over the levels in proportion to a cost
  model of their default steps, and time a faster level leaves over goes to the next;
- a time budget alone: `strokes_for_budget` picks the stroke count whose default plan the cost
  model says fits the budget, then the budget is split as above.

The cost model: one optimiser step of a level costs `unit` x (strokes + 3 x blocks + 40) seconds,
blocks = 64 x 64 px tiles of the level's work canvas through the loss network, the constant being
per-step overhead; `unit` is one stroke's painter forward + backward, measured on this machine
(`measure_unit`). The real brush adds `ENGINE_SECONDS` per stroke per engine pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import torch

from brushwork.limits import MAX_STROKES
from brushwork.painting.config import PaintConfig
from brushwork.painting.plan import Level, plan_levels

NATIVE = 64  # px per loss-network block in the cost model
ENGINE_SECONDS = 1.2e-3  # one stroke painted by libmypaint at a work or canvas window (measured 0.7-1.7 ms)
STEP_LADDER = (10, 20, 40)  # steps per level a time budget chooses from (see plan_for_budget)
DENSE_STROKES = 2000  # strokes per 256 x 256 px past which more steps pay more than more strokes


def step_cost(level: Level, height: int, width: int) -> float:
    """Cost units of one optimiser step of `level` (see module docstring)."""
    blocks = math.ceil(height / level.factor) * math.ceil(width / level.factor) / NATIVE**2
    return level.strokes + 3.0 * blocks + 40.0


def level_seconds(level: Level, height: int, width: int, unit: float, config: PaintConfig, engine: bool) -> float:
    """Predicted seconds of a level with its default steps."""
    seconds = level.steps * step_cost(level, height, width) * unit
    if engine:
        renders = 1 + (level.steps // config.real_forward_every if config.real_forward_every else 0)
        seconds += renders * level.strokes * ENGINE_SECONDS
    return seconds


def split_budget(levels: list[Level], height: int, width: int, seconds: float) -> list[float]:
    """Seconds per level, in proportion to the cost of the level's default steps."""
    costs = [max(1, lv.steps) * step_cost(lv, height, width) for lv in levels]
    total = sum(costs)
    return [seconds * c / total for c in costs]


def strokes_for_budget(height: int, width: int, seconds: float, config: PaintConfig, unit: float, engine: bool) -> int:
    """The largest stroke count whose default plan is predicted to take at most `seconds` (at least 1)."""

    def predicted(n: int) -> float:
        return sum(
            level_seconds(lv, height, width, unit, config, engine) for lv in plan_levels(height, width, n, config)
        )

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
    to 2000 x 10 -- until about DENSE_STROKES strokes per 256 x 256 px; past that, more steps pay more
    (2000 x 20 beat 4000 x 10). So: the most steps of STEP_LADDER that still afford that many strokes.
    """
    dense = DENSE_STROKES * math.sqrt(height * width) / 256
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
    acts = torch.rand(batch, 12, device=device)
    with torch.enable_grad():
        best = float("inf")
        for _ in range(repeats + 1):  # the first run warms up oneDNN
            x = acts.clone().requires_grad_(True)
            t = time.perf_counter()
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


def cosine_lr(lr: float, lr_final: float, fraction: float) -> float:
    """Cosine decay from lr to lr * lr_final over fraction 0 -> 1."""
    return lr * (lr_final + (1 - lr_final) * 0.5 * (1 + math.cos(math.pi * fraction)))


__all__ = [
    "LevelClock",
    "cosine_lr",
    "level_seconds",
    "measure_unit",
    "plan_for_budget",
    "split_budget",
    "step_cost",
    "strokes_for_budget",
]
