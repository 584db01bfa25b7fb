"""Carrying a painting's strokes from one frame to the next with the input's optical flow.

A stroke is three points on the canvas -- where it starts, the point it passes halfway and where it
ends (`StrokeList.geometry`) -- in a square window. To follow the content, each point moves by the
forward flow sampled under it; the window moves by the points' mean motion (its size stays: a
stroke keeps its brush width), and the points are written back as fractions of the moved window,
kept `margin` from its edge as the optimiser keeps them. A stroke whose points all move less than
`still_px` stays exactly as it was, so its real coverage is reused bit for bit and the engine
paints only the strokes that moved.

Which strokes go:
- *damaged*: more than `drop_damage` of what the stroke shows (its visible weight, the coverage
  not hidden by later strokes) lies on pixels that are occluded in the next frame (the flow's
  forward-backward check fails) or whose colour changed along the flow by more than `change`;
- strokes whose window leaves the canvas;
- *hidden*: strokes that later strokes cover entirely, and, to keep the count about the same, the
  least visible ones when new strokes come in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brushwork import actions as A
from brushwork.painting.refit import Box, coverage_weights
from brushwork.painting.strokes import StrokeList
from brushwork.video.flow import FramePair, sample, warp

POINTS = ((A.START_X, A.START_Y), (A.CONTROL_X, A.CONTROL_Y), (A.END_X, A.END_Y))


@dataclass(frozen=True)
class CarryConfig:
    """How strokes are carried, dropped and replaced from frame to frame (measured in benchmarks/video.py)."""

    # a stroke whose three points all move less than this (px) stays exactly as it was (Megamind, 20
    # frames: 0.25 px gave +0.5 dB and 8 % less warping error than 0.5 px, 1 px was worse than both)
    still_px: float = 0.25
    # a pixel has changed when its colour along the flow differs by more than this (mean over RGB, in [0, 1])
    change: float = 0.1
    # a stroke is dropped when more than this share of what it shows is occluded or changed
    drop_damage: float = 0.3
    # a scene cut: more than this share of the frame is occluded or changed -> paint afresh
    cut: float = 0.5
    # new strokes every frame, as a share of the painting's strokes, even when none was dropped: they
    # go where the real painting differs most from the frame and replace the least visible strokes
    refresh: float = 0.05
    # a stroke showing less than this many px of weight (covered by later ones) is removed
    hidden_px: float = 1.0
    # every frame, refit the colours of all strokes (carried ones too) against the new frame: light
    # and shading follow the film; off, carried strokes keep the colour they were painted with
    refit_carried: bool = True
    # ... and those carried colours keep to the last frame's this much (`PaintConfig.refit_hold`).
    # Off: Megamind frames 1-100, 1000 strokes (with a trial engine build): 0 gave 3.23x the
    # clip's warping error and 31.12 dB, 1 gave 3.12x and 31.01 dB (30 frames: 4 gave 3.21x and
    # 31.50 dB, worse on both than 1)
    hold: float = 0.0
    # Adam steps a level of a later frame's new strokes gets (None: the painting's own, 15 by default),
    # unless the user gave --steps or --time-budget. A later frame adds few strokes (`refresh`), so
    # steps are cheap there, and well-fitted strokes need less mending in the frames after. Megamind
    # frames 1-60, 1000 strokes: 15 steps 31.24 dB, warping 2.95x the clip's own, 1.4 s a frame; 45
    # steps 31.95 dB, 2.87x, 2.7 s; 60 32.08 dB, 2.92x, 3.4 s; 90 32.20 dB, 2.89x, 4.7 s.
    new_steps: int | None = 45


def visible_weights(boxes: list[Box], height: int, width: int) -> list[Box | None]:
    """Each stroke's visible weight w_i = a_i x prod_{j > i} (1 - a_j), cropped (see painting.refit)."""
    return coverage_weights(boxes, height, width)[0]


def damaged_pixels(prev: np.ndarray, cur: np.ndarray, pair: FramePair, change: float) -> np.ndarray:
    """(H, W) bool on prev's pixels: occluded in cur (forward-backward check) or changed along the flow."""
    along = warp(cur, pair.forward)  # cur's colour where prev's pixel went
    changed = np.abs(along - prev).mean(-1) > change
    return ~pair.seen_prev | changed


def is_scene_cut(damaged: np.ndarray, cfg: CarryConfig) -> bool:
    """A new shot: more than `cfg.cut` of the frame is occluded or changed (`damaged_pixels`)."""
    return bool(damaged.mean() > cfg.cut)


def stroke_shares(weights: list[Box | None], mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per stroke: its visible weight (px) and the share of it on `mask` (0 where it shows nothing or
    without a mask)."""
    n = len(weights)
    shown, share = np.zeros(n), np.zeros(n)
    for i, box in enumerate(weights):
        if box is None:
            continue
        x, y, w = box
        total = float(w.sum())
        shown[i] = total
        if total > 0 and mask is not None:
            share[i] = float((w * mask[y : y + w.shape[0], x : x + w.shape[1]]).sum()) / total
    return shown, share


def move_strokes(strokes: StrokeList, forward: np.ndarray, config: CarryConfig, margin: float) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # fmt: skip
    """Move every stroke with the forward flow (H, W, 2).

    Returns:
        actions (N, 12) and windows (N, 3) float32 after the move, `moved` (N,) bool (geometry
        changed) and `inside` (N,) bool (the moved window still overlaps the canvas).
    """
    n = len(strokes)
    acts = strokes.actions.astype(np.float64).copy()
    wins = strokes.windows.astype(np.float64).copy()
    if n == 0:
        return acts.astype(np.float32), wins.astype(np.float32), np.zeros(0, bool), np.zeros(0, bool)
    size = wins[:, 2:3]
    pts = [wins[:, :2] + acts[:, list(p)] * size for p in POINTS]  # 3 x (N, 2) canvas px
    disp = [sample(forward, p).astype(np.float64) for p in pts]  # 3 x (N, 2)
    step = np.max([np.hypot(d[:, 0], d[:, 1]) for d in disp], axis=0)
    moved = step >= config.still_px
    shift = np.mean(disp, axis=0)  # (N, 2) the window follows the points' mean motion
    new_wins = wins.copy()
    new_wins[:, :2] += shift
    lo, hi = margin, 1.0 - margin
    new_acts = acts.copy()
    for p, x, d in zip(POINTS, pts, disp, strict=True):
        new_acts[:, list(p)] = np.clip((x + d - new_wins[:, :2]) / size, lo, hi)
    acts[moved], wins[moved] = new_acts[moved], new_wins[moved]
    h, w = forward.shape[:2]
    x0, y0, s = wins[:, 0], wins[:, 1], wins[:, 2]
    inside = (x0 > -s) & (y0 > -s) & (x0 < w) & (y0 < h)
    return acts.astype(np.float32), wins.astype(np.float32), moved, inside


__all__ = ["CarryConfig", "damaged_pixels", "move_strokes", "stroke_shares", "visible_weights"]
