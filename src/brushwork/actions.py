"""The stroke action layout, defined once for the whole package.

An action is 12 numbers in [0, 1], in the order of Nakano's MyPaint environment (and of the
Kaggle MyPaintBrushstrokes data set), so that actions from either source mean the same stroke:

====  ===============  ==============================================================
idx   name             meaning
====  ===============  ==============================================================
0     pressure         pressure at the end of the stroke, x 0.8
1     size             brush size, x 2 -> MyPaint ``radius_logarithmic``
2, 3  control_x, _y    the curve passes through this point halfway
4, 5  end_x, end_y     end point
6-8   color_r, _g, _b  stroke colour (sRGB)
9, 10 start_x, _y      start point
11    entry_pressure   pressure at the start of the stroke, x 0.8
====  ===============  ==============================================================

Coordinates are fractions of the stroke's square window (x to the right, y down). The window
is 64 px in the data set; when painting, each stroke has its own window placed on the canvas.
"""

from __future__ import annotations

import numpy as np

from brushwork.errors import BrushworkError

ACTION_DIM = 12

PRESSURE = 0
SIZE = 1
CONTROL_X, CONTROL_Y = 2, 3
END_X, END_Y = 4, 5
COLOR_R, COLOR_G, COLOR_B = 6, 7, 8
START_X, START_Y = 9, 10
ENTRY_PRESSURE = 11

COLOR = slice(COLOR_R, COLOR_B + 1)
FIELDS = (
    "pressure", "size", "control_x", "control_y", "end_x", "end_y",
    "color_r", "color_g", "color_b", "start_x", "start_y", "entry_pressure",
)  # fmt: skip

PRESSURE_SCALE = 0.8  # the original environment multiplies both pressures by 0.8
SIZE_SCALE = 2.0  # size * 2 is MyPaint's radius_logarithmic at the 64 px reference window
REFERENCE_SIZE = 64  # the window size the action space was defined at

assert len(FIELDS) == ACTION_DIM


def check_actions(actions: np.ndarray, name: str = "actions") -> np.ndarray:
    """Validate and return actions as float64 (N, 12) in [0, 1].

    Raises ValueError naming the argument, the shape or the worst value, and the fix.
    """
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != ACTION_DIM:
        raise BrushworkError(f"{name} must have shape (N, {ACTION_DIM}), got {tuple(np.shape(actions))}")
    if not np.all(np.isfinite(a)):
        raise BrushworkError(f"{name} contain NaN or infinite values")
    lo, hi = float(a.min(initial=0.0)), float(a.max(initial=1.0))
    if lo < 0.0 or hi > 1.0:
        raise BrushworkError(f"{name} must lie in [0, 1], got values from {lo:.4g} to {hi:.4g}; clip them first")
    return a


def sample_actions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniformly random actions (N, 12) in [0, 1], float64: the original data set's sampling."""
    return rng.random((n, ACTION_DIM))
