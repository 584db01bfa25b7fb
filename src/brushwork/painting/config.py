"""`PaintConfig`: every setting of a painting, checked once on construction.

Per-call settings (strokes, size, brush, seed, ...) and the optimiser's knobs live in one dataclass;
each field says why it has its default. Errors name the field, the value and the fix.

    >>> PaintConfig(strokes=500, size=256).levels_window_fractions()
    (0.5, 0.25, 0.125, 0.0625)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.limits import MAX_CANVAS, MAX_STROKES, MIN_WINDOW

DEFAULT_STROKES = 2000  # without a time budget; with 15 steps a level the default command takes < 30 s


@dataclass
class PaintConfig:
    # -- what to paint ------------------------------------------------------------------------------
    strokes: int | None = None  # new strokes; None: DEFAULT_STROKES, or chosen to fit a time budget
    size: int = 512  # long side of the canvas, px; the aspect ratio is the image's
    # the brush the strokes are for (its painter, the engine); several, comma-separated, go coarse to
    # fine over the levels ("classic/dry_brush,classic/pen": block in, then detail; see plan.assign_brushes)
    brush: str = "classic/dry_brush"
    painter: str | None = None  # a painter .safetensors instead of the brush's shipped one
    seed: int = 0  # stroke placement and initial geometry
    device: str = "cpu"
    # True: the real brush paints every finished level and the next level works on that painting
    # (needs libmypaint); False: painter only, `painting.png` is the painter's canvas.
    engine: bool = True
    # -- time ---------------------------------------------------------------------------------------
    steps: int | None = None  # Adam steps per level (default: `level_steps`)
    time_budget: float | None = None  # seconds of painting; without `strokes` brushwork plans the painting
    # -- stroke sizes ---------------------------------------------------------------------------------
    # Largest and smallest stroke window as fractions of the canvas's long side; the levels halve the
    # window from the largest to the smallest (a few large strokes block in, many small ones detail).
    # Windows are never smaller than MIN_WINDOW px.
    max_stroke: float = 0.5
    min_stroke: float = 0.0625
    # Strokes per level grow by this factor per level (coarse to fine): at 4 levels 4/10/25/60 %.
    share_growth: float = 2.4
    # -- the optimiser ------------------------------------------------------------------------------
    # A name in brushwork.painting.losses.LOSSES. "pixel" gives the best real painting per second:
    # castle at 256 px, 1000 strokes x 10 steps, 24.2 dB vs 23.2 for "mixed" in the same time.
    loss: str = "pixel"
    # Adam steps per level when neither steps nor a time budget is given. 2000 x 15 fits the default
    # command in < 30 s on 2 cores (measured: 2000 x 10 22.6 dB in 18 s, 2000 x 20 23.3 dB in 31 s).
    level_steps: int = 15
    lr: float = 0.25  # Adam step on the action logits
    lr_final: float = 0.2  # the lr decays (cosine) to lr * lr_final at the end of each level
    pixel_weight: float = 60.0  # weight of the pixel MSE in "mixed"; the content term is ~1 at the start
    layers: tuple[int, ...] = (1, 3, 6, 13)  # MobileNetV2 taps of the content loss
    layer_weights: tuple[float, ...] = (1.0, 0.35, 0.4, 2.0)  # ~1 / mean square activation per tap
    # Windows of at least this many px are optimised on a canvas reduced so that they measure exactly
    # this: the CNN loss runs on fewer pixels and the work per level does not grow with the canvas.
    work_window: int = 32
    # -- the real brush in the loop -----------------------------------------------------------------
    # Every this many steps the engine paints the level's current strokes at the work window and the
    # forward pass uses that real coverage plus the painter's change since (straight-through); 0: off.
    real_forward_every: int = 0
    refit_colors: bool = True  # after a level, solve its colours exactly against the real composite
    # With `init`: the final joint refit changes the continued strokes' colours too, not only the new
    # ones'. Off for continuing a painting (it stays as it was); on for a video's next frame, whose
    # strokes carry over from the last frame and whose colours must follow the new frame's light.
    refit_init: bool = False
    # With refit_init: the continued strokes' colours are pulled toward the colours they came with,
    # this many times their own visible weight (refit.refit_colors `hold`; 1 halves a lone stroke's change).
    refit_hold: float = 0.0
    # With `init`: optimise the earlier painting's own strokes again, level by level, instead of
    # keeping them as they are (`brushwork.painting.refine`); new strokes only if `strokes` is given.
    refine: bool = False
    # -- placement ----------------------------------------------------------------------------------
    fill: float = 0.75  # strokes per pass = fill x (canvas area / window area)
    # Cells of the finer levels score error x (1 + detail_weight x local detail): small strokes go to
    # edges, faces and text rather than to flat areas a larger stroke already covers.
    detail_weight: float = 1.0
    # Curve points stay this far (window fraction) from the window's edge: measured with the engine, a
    # stroke then keeps > 99.7% of its paint inside its window, so cropping it there leaves no seams.
    margin: float = 0.1
    init_half_length: tuple[float, float] = (0.22, 0.36)  # initial half stroke length, window fraction
    init_pull: float = 0.6  # how far a stroke's centre moves from the window's middle to the error centroid
    init_size: tuple[float, float] = (0.75, 0.9)
    init_pressure: tuple[float, float] = (0.65, 0.95)

    def __post_init__(self) -> None:
        from brushwork.painting.losses import LOSSES

        if self.strokes is not None:
            _positive_int(self, "strokes")
            if self.strokes > MAX_STROKES:
                raise BrushworkError(f"strokes must be at most {MAX_STROKES}, got {self.strokes}")
        _positive_int(self, "size")
        if self.size < MIN_WINDOW or self.size > MAX_CANVAS:
            raise BrushworkError(f"size must be between {MIN_WINDOW} and {MAX_CANVAS} px, got {self.size}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) or not 0 <= self.seed < 2**63:
            raise BrushworkError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.brush, str) or not all(split_brushes(self.brush)):
            raise BrushworkError(f"brush must be a brush name or .myb path, or several separated by commas, "
                                 f"got {self.brush!r}")  # fmt: skip
        if self.loss not in LOSSES:
            raise BrushworkError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.steps is not None and self.time_budget is not None:
            raise BrushworkError("give either steps or a time budget, not both")
        if self.steps is not None:
            _positive_int(self, "steps")
        _positive_int(self, "level_steps")
        if self.time_budget is not None:
            tb = self.time_budget
            if isinstance(tb, bool) or not isinstance(tb, int | float) or not (0 < tb <= 86_400):
                raise BrushworkError(f"time budget must be a number of seconds in (0, 86400], got {tb!r}")
        for name in ("max_stroke", "min_stroke"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0 < v <= 1):
                raise BrushworkError(f"{name} must be a fraction of the canvas in (0, 1], got {v!r}")
        if self.min_stroke > self.max_stroke:
            raise BrushworkError(f"min_stroke ({self.min_stroke}) must not exceed max_stroke ({self.max_stroke})")
        if self.max_stroke * self.size < MIN_WINDOW - 0.5:  # smaller windows are clamped to MIN_WINDOW
            raise BrushworkError(
                f"max_stroke {self.max_stroke} is {self.max_stroke * self.size:.1f} px on a {self.size} px "
                f"canvas; strokes need at least {MIN_WINDOW} px: raise max_stroke or size"
            )
        if not (self.share_growth > 0 and math.isfinite(self.share_growth)):
            raise BrushworkError(f"share_growth must be a positive number, got {self.share_growth!r}")
        if (
            isinstance(self.real_forward_every, bool)
            or not isinstance(self.real_forward_every, int)
            or (self.real_forward_every < 0)
        ):
            raise BrushworkError(f"real_forward_every must be an integer >= 0, got {self.real_forward_every!r}")
        if not all(isinstance(v, bool) for v in (self.engine, self.refit_colors, self.refit_init, self.refine)):
            raise BrushworkError("engine, refit_colors, refit_init and refine must be True or False")
        if isinstance(self.work_window, bool) or not isinstance(self.work_window, int) or self.work_window < MIN_WINDOW:
            raise BrushworkError(
                f"work_window must be an integer of at least {MIN_WINDOW} px, got {self.work_window!r}"
            )
        for name, lo, hi in RANGES:  # (lo, hi]: the optimiser's numeric knobs
            _in_range(self, name, lo, hi)
        for name in ("init_half_length", "init_size", "init_pressure"):
            v = getattr(self, name)
            if not (isinstance(v, tuple | list) and len(v) == 2 and all(_number(x) and 0 <= x <= 1 for x in v)):
                raise BrushworkError(f"{name} must be two numbers in [0, 1], got {v!r}")
            if v[0] > v[1]:
                raise BrushworkError(f"{name} must be (low, high), got {v!r}")
        if len(self.layers) != len(self.layer_weights) or not all(_number(w) for w in self.layer_weights):
            raise BrushworkError("layers and layer_weights need the same length, and the weights must be numbers")

    def brush_list(self) -> tuple[str, ...]:
        """The brushes, coarse levels first: `brush` split at commas (a name may repeat)."""
        return split_brushes(self.brush)

    def levels_window_fractions(self) -> tuple[float, ...]:
        """Window side per level as a fraction of the long side: max_stroke halved down to min_stroke."""
        n = 1 + max(0, math.floor(math.log2(self.max_stroke / self.min_stroke) + 1e-9))
        return tuple(self.max_stroke / 2**k for k in range(n))

    def level_shares(self) -> tuple[float, ...]:
        """Share of the strokes per level, coarse to fine (they sum to 1)."""
        raw = [self.share_growth**k for k in range(len(self.levels_window_fractions()))]
        return tuple(r / sum(raw) for r in raw)

    def updated(self, **changes: Any) -> PaintConfig:
        """A copy with some fields changed, checked again. Unknown names are an error that lists them."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BrushworkError(f"unknown paint setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **changes)


def split_brushes(text: str) -> tuple[str, ...]:
    """'a, b,a' -> ('a', 'b', 'a'): a `--brush` list, coarse levels first (an empty entry stays '')."""
    return tuple(b.strip() for b in text.split(","))


# (field, low, high): each must be a finite number with low < value <= high
RANGES = (
    ("lr", 0.0, 100.0),
    ("lr_final", -1e-12, 1.0),
    ("pixel_weight", -1e-12, 1e6),
    ("fill", 0.0, 1.0),
    ("detail_weight", -1e-12, 1e3),
    ("margin", -1e-12, 0.49),
    ("init_pull", -1e-12, 1.0),
    ("refit_hold", -1e-12, 1e3),
)


def _number(v: object) -> bool:
    return not isinstance(v, bool) and isinstance(v, int | float | np.integer | np.floating) and math.isfinite(v)


def _in_range(cfg: PaintConfig, name: str, lo: float, hi: float) -> None:
    v = getattr(cfg, name)
    if not _number(v) or not lo < v <= hi:
        interval = f"[0, {hi:g}]" if lo < 0 else f"({lo:g}, {hi:g}]"
        raise BrushworkError(f"{name} must be a number in {interval}, got {v!r}")


def _positive_int(cfg: PaintConfig, name: str) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise BrushworkError(f"{name} must be a positive integer, got {v!r}")


__all__ = ["PaintConfig", "split_brushes"]
