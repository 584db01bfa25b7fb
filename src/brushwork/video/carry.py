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
- *hidden*: strokes that later strokes cover entirely;
- to keep the count about the same when new strokes come in, the strokes whose removal changes the
  painting least (`removal_change`: a stroke the colour of what lies under it goes unseen). Taking
  the least *visible* ones instead was the film's largest source of flicker: on Megamind frames
  1-30 (1000 strokes) it gave 2.72x the clip's warping error and 32.40 dB, the change rule 2.15x
  and 33.08 dB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.painting.refit import Box, coverage_weights
from brushwork.painting.strokes import StrokeList
from brushwork.video.flow import FramePair, sample, warp

POINTS = ((A.START_X, A.START_Y), (A.CONTROL_X, A.CONTROL_Y), (A.END_X, A.END_Y))


@dataclass(frozen=True)
class CarryConfig:
    """How strokes are carried, dropped and replaced from frame to frame (measured in benchmarks/video.py)."""

    # a stroke whose three points all move less than this (px) stays exactly as it was, its coverage
    # reused. Megamind frames 1-30, strokes translated: 0.25 px 1.57x the clip's warping error and
    # 33.17 dB, 0.1 px 1.51x and 33.39 dB, 0 (every stroke repainted) 1.48x and 33.46 dB
    still_px: float = 0.1
    # a pixel has changed when its colour along the flow differs by more than this (mean over RGB, in [0, 1])
    change: float = 0.1
    # a stroke is dropped when more than this share of what it shows is occluded or changed
    drop_damage: float = 0.3
    # a scene cut: more than this share of the frame is occluded or changed -> paint afresh
    cut: float = 0.5
    # new strokes every frame, as a share of the painting's strokes, even when none was dropped: they
    # go where the real painting differs most from the frame and replace strokes as `remove_by` says
    refresh: float = 0.05
    # how a stroke follows the flow (`footprint_motion`): "translate", in one piece by the flow's
    # mean over what it shows; "affine", by the flow's affine fit there, `stiffness` (px^2) toward
    # that translation; "points", each of its three points by the flow under it. A bent or
    # stretched stroke is a new stroke to the engine (its dabs land elsewhere): Megamind frames
    # 1-30, 1000 strokes: points 2.15x the clip's warping error, 33.08 dB; affine (4 px^2)
    # 2.06x, 33.06 dB; translate 1.57x, 33.17 dB.
    motion: str = "translate"
    stiffness: float = 4.0
    # which strokes make room for the new: "change", the ones whose removal changes the painting
    # least (`removal_change`), or "shown", the least visible
    remove_by: str = "change"
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
    # steps 31.95 dB, 2.87x, 2.7 s; 60 32.08 dB, 2.92x, 3.4 s; 90 32.20 dB, 2.89x, 4.7 s. With strokes
    # moved in one piece and the least-change rule (frames 1-30): 20 steps 32.95 dB, 1.44x; 30 33.29 dB,
    # 1.44x; 45 33.39 dB, 1.51x and 0.5 s a frame more than 30.
    new_steps: int | None = 30

    def __post_init__(self) -> None:
        if self.motion not in ("translate", "affine", "points"):
            raise BrushworkError(f"CarryConfig.motion must be 'translate', 'affine' or 'points', not {self.motion!r}")
        if self.remove_by not in ("change", "shown"):
            raise BrushworkError(f"CarryConfig.remove_by must be 'change' or 'shown', not {self.remove_by!r}")


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


def removal_change(boxes: list[Box], colors: np.ndarray, background: tuple[float, float, float],
                   weights: list[Box | None], height: int, width: int) -> np.ndarray:  # fmt: skip
    """Per stroke, how much the painting would change if it alone were taken out: (N,) float64,
    sum over pixels and RGB of (w_i (u_i - c_i))^2.

    `boxes` are the strokes' coverages in painting order, `colors` (N, 3) their colours, `weights`
    their visible weights (`visible_weights`), u_i the painting under stroke i (what shows through
    where it goes). A stroke the same colour as what lies under it leaves no trace when it goes,
    whatever its size: the change, not the size, is what flickers. A wet stroke lays a mix of its
    colour and the paint it picked up; its brush colour stands for that mix here (a ranking only).
    """
    canvas = np.empty((height, width, 3), np.float64)
    canvas[:] = background
    change = np.zeros(len(boxes))
    for i, ((x, y, a), c) in enumerate(zip(boxes, np.asarray(colors, np.float64), strict=True)):
        if weights[i] is not None:
            wx, wy, wi = weights[i]
            under = canvas[wy : wy + wi.shape[0], wx : wx + wi.shape[1]]
            change[i] = float((((under - c) * wi[..., None]) ** 2).sum())
        xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + a.shape[1], width), min(y + a.shape[0], height)
        if xa < xb and ya < yb:
            ai = a[ya - y : yb - y, xa - x : xb - x, None].astype(np.float64)
            region = canvas[ya:yb, xa:xb]
            region *= 1.0 - ai
            region += ai * c
    return change


def footprint_motion(weights: list[Box | None], forward: np.ndarray, points: list[np.ndarray],
                     stiffness: float | None = None) -> list[np.ndarray]:  # fmt: skip
    """How each of a stroke's points moves, from the flow over what the stroke shows -> 3 x (N, 2) px.

    `points` are 3 x (N, 2) canvas px, `weights` the strokes' visible weights. With `stiffness`
    None the stroke moves in one piece, by the flow's mean over its visible weight; otherwise by
    the flow's affine fit there (weighted least squares), evaluated at the points, `stiffness`
    (px^2) pulling the fit toward that translation. A stroke that shows nothing keeps the flow
    sampled at its points.
    """
    disp = [sample(forward, p).astype(np.float64) for p in points]
    for i, box in enumerate(weights):
        if box is None:
            continue
        x, y, w = box
        f = forward[y : y + w.shape[0], x : x + w.shape[1]].reshape(-1, 2).astype(np.float64)
        wt = w.reshape(-1).astype(np.float64)
        total = wt.sum()
        if total <= 0:
            continue
        mean = (wt[:, None] * f).sum(0) / total
        if stiffness is None:
            for d in disp:
                d[i] = mean
            continue
        ys, xs = np.mgrid[y : y + w.shape[0], x : x + w.shape[1]]
        xy = np.stack([xs.reshape(-1) + 0.5, ys.reshape(-1) + 0.5], 1)  # pixel centres
        centre = (wt[:, None] * xy).sum(0) / total
        dxy = xy - centre
        # the linear part J (2 x 2) of flow ~ mean + J (p - centre), ridge `stiffness` x weight
        m = (wt[:, None, None] * dxy[:, :, None] * dxy[:, None, :]).sum(0) + stiffness * total * np.eye(2)
        jac = np.linalg.solve(m, (wt[:, None, None] * dxy[:, :, None] * (f - mean)[:, None, :]).sum(0)).T
        for d, p in zip(disp, points, strict=True):
            d[i] = mean + jac @ (p[i] - centre)
    return disp


def move_strokes(strokes: StrokeList, forward: np.ndarray, config: CarryConfig, margin: float,
                 weights: list[Box | None] | None = None) -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # fmt: skip
    """Move every stroke with the forward flow (H, W, 2): as `config.motion` says, by the flow over
    its footprint (`footprint_motion`, with `weights`, the strokes' visible weights) or sampled at
    its three points.

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
    if config.motion != "points" and weights is not None:
        disp = footprint_motion(weights, forward, pts, config.stiffness if config.motion == "affine" else None)
    else:
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


__all__ = [
    "CarryConfig",
    "damaged_pixels",
    "footprint_motion",
    "move_strokes",
    "removal_change",
    "stroke_shares",
    "visible_weights",
]
