"""The pen path of one stroke, exactly as Nakano's MyPaint environment draws it.

Pure geometry, no engine: `pen_path(action, size)` returns the (x, y, pressure, dtime) events
that `ColorEnv.draw` / `ColorEnv.curve` of neural-painters send to the brush:

1. the brush is first moved twice to a fixed rest point (20/64 of the window) at zero pressure
   (the environment's "two extra strokes for MyPaint 2"), then to the start at zero pressure;
2. a quadratic Bezier through the control point halfway: its Bezier control is
   2 * control - midpoint(start, end); 100 points, a first point nudged 0.25/64 of the window
   off the start;
3. pressure ramps from entry pressure to the mean of the two over the first quarter, holds,
   then ramps to the end pressure over the last quarter;
4. 0.1 s between events; the pen is lifted (zero pressure) at the end point.

A stroke with zero end pressure is a jump: the environment moves straight to the end.
"""

from __future__ import annotations

import numpy as np

from brushwork import actions as A

POINTS = 100
HEAD, TAIL = 0.25, 0.75
DTIME = 0.1
REST = 20.0 / A.REFERENCE_SIZE  # the environment's rest point, as a fraction of the window


def bezier_control(start: np.ndarray, control: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The quadratic Bezier control point that makes the curve pass through `control` at t=0.5."""
    return 2.0 * control - 0.5 * (start + end)


def pen_path(action: np.ndarray, scale: float) -> np.ndarray:
    """Pen events for one action (12,) in [0, 1], coordinates multiplied by `scale` (px).

    Returns float64 (K, 4): x, y, pressure (already x 0.8), dtime in seconds.
    """
    a = action
    p_end = a[A.PRESSURE] * A.PRESSURE_SCALE
    p_entry = a[A.ENTRY_PRESSURE] * A.PRESSURE_SCALE
    s = np.array([a[A.START_X], a[A.START_Y]]) * scale
    e = np.array([a[A.END_X], a[A.END_Y]]) * scale
    c = np.array([a[A.CONTROL_X], a[A.CONTROL_Y]]) * scale
    rest = REST * scale

    events = [(rest, rest, 0.0, DTIME), (rest, rest, 0.0, DTIME), (s[0], s[1], 0.0, DTIME)]
    if p_end == 0:  # a jump in the original: no paint
        events.append((e[0], e[1], 0.0, 1.0))
        events.append((e[0], e[1], 0.0, DTIME))
        return np.array(events)

    q = bezier_control(s, c, e)
    t = np.arange(1, POINTS + 1) / POINTS  # (100,)
    pts = ((1 - t) ** 2)[:, None] * s + (2 * (1 - t) * t)[:, None] * q + (t**2)[:, None] * e  # (100, 2)

    p_mid = (p_entry + p_end) / 2
    head, tail = POINTS * HEAD, POINTS * TAIL
    i = np.arange(1, POINTS + 1)
    pressure = np.where(
        i < int(head) + 1,
        np.abs(i / head * (p_mid - p_entry) + p_entry),
        np.where(i < int(tail) + 1, p_mid, np.abs((i - tail) / (POINTS - tail) * (p_end - p_mid) + p_mid)),
    )

    # the first event sits 0.25 px (of the 64 px window) from the start towards the first point
    d = pts[0] - s
    norm = float(np.hypot(*d))
    nudge = s + (d / norm * 0.25 * scale / A.REFERENCE_SIZE if norm > 0 else 0.0)
    events.append((nudge[0], nudge[1], p_entry, DTIME))
    events.extend((x, y, p, DTIME) for (x, y), p in zip(pts, pressure, strict=True))
    events.append((e[0], e[1], 0.0, DTIME))
    return np.array(events)
