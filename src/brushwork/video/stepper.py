"""One painted frame after another: frame 0 painted as a photo is, every later frame carried over.

    step = FrameStepper(pipe, strokes=2000, carry=CarryConfig())
    state, row = step.first(frame0, index=0)
    state, row = step.next(frame0, frame1, state, index=1)   # strokes moved by the flow, a few new

A frame's `FrameState` is its painting: the strokes (with a lasting id each, so one can follow a
stroke through the film), their real coverage (reused by the next frame for the strokes that do
not move) and the real brush's image. The next frame:

1. DIS flow between the two *input* frames, both ways (`brushwork.video.flow`);
2. a scene cut -- most of the frame occluded or changed -- paints the frame afresh;
3. otherwise every stroke moves with the flow, damaged ones are dropped, hidden ones removed, and
   to make room the ones whose removal changes the painting least (`brushwork.video.carry`); the
   real brush paints the strokes that moved;
4. the `PaintPipeline` continues that painting (`init`, with its coverage): new strokes where the
   real painting differs most from the new frame, as many as were dropped and at least
   `refresh` x strokes, optimised for `new_steps` steps a level, then all colours refitted
   jointly against the new frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.metrics import psnr
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.refit import Box
from brushwork.painting.result import Painting
from brushwork.painting.strokes import StrokeList
from brushwork.video.carry import (
    CarryConfig,
    damaged_pixels,
    is_scene_cut,
    move_strokes,
    removal_change,
    stroke_shares,
    visible_weights,
)
from brushwork.video.flow import FramePair, frame_flow


@dataclass
class FrameState:
    """A painted frame: what the next frame starts from."""

    strokes: StrokeList
    ids: np.ndarray  # (N,) int64: a stroke keeps its id while it lives
    coverage: list[Box]  # (x, y, alpha (h, w)) per stroke, the real brush's, in painting order
    image: np.ndarray  # (H, W, 3) float32, the real brush's painting
    next_id: int  # the id the next new stroke gets


def engine_coverage(strokes: StrokeList) -> list[Box]:
    """Every stroke's real coverage on its canvas (the engine paints each once)."""
    from brushwork.engine import stroke_alphas

    return stroke_alphas(strokes.actions, strokes.windows, strokes.stroke_brushes())


class FrameStepper:
    """Paints frames one after another with one `PaintPipeline` (see module docstring).

    Args:
        pipe: the pipeline, built once for the clip (painter, loss network).
        strokes: the strokes a frame's painting holds (frame 0 paints this many).
        carry: the rules for keeping, moving and replacing strokes.
        seed: frame k paints with seed + k, so a resumed run repeats an uninterrupted one.
        settings: other PaintConfig fields for every frame (steps, time_budget, ...).
    """

    def __init__(self, pipe: PaintPipeline, strokes: int | None, carry: CarryConfig, seed: int = 0,
                 **settings: Any) -> None:  # fmt: skip
        self.pipe = pipe
        self.strokes = strokes
        self.carry = carry
        self.seed = seed
        self.settings = settings

    def _paint(self, frame: np.ndarray, index: int, **kw: Any) -> Painting:
        painting = self.pipe(frame, name=f"frame {index}", progress=False, seed=self.seed + index,
                             **{**self.settings, **kw})  # fmt: skip
        if not painting.real:
            raise BrushworkError("painting a clip needs the real brush (libmypaint): install libmypaint-1.5-1")
        return painting

    def first(self, frame: np.ndarray, index: int, next_id: int = 0, cut: bool = False) -> tuple[FrameState, dict]:
        """Paint a frame from scratch (the first, or after a scene cut)."""
        t0 = time.perf_counter()
        painting = self._paint(frame, index, strokes=self.strokes)
        n = len(painting.strokes)
        coverage = painting.coverage if painting.coverage is not None else engine_coverage(painting.strokes)
        state = FrameState(painting.strokes, np.arange(next_id, next_id + n, dtype=np.int64), coverage,
                           painting.image, next_id + n)  # fmt: skip
        row = {"cut": cut, "strokes": n, "added": n, "moved": 0, "removed": 0, "kept": 0,
               "psnr": round(painting.psnr, 4), "steps": [lv["steps"] for lv in painting.levels],
               "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
        return state, row

    def next(self, prev: np.ndarray, frame: np.ndarray, state: FrameState, index: int,
             pair: FramePair | None = None) -> tuple[FrameState, dict]:  # fmt: skip
        """Paint `frame` from the painting of the frame before it (`prev` is that input frame)."""
        t0 = time.perf_counter()
        cfg = self.carry
        pair = pair if pair is not None else frame_flow(prev, frame)
        damaged = damaged_pixels(prev, frame, pair, cfg.change)
        if is_scene_cut(damaged, cfg):  # a new shot: nothing carries over
            new_state, row = self.first(frame, index, state.next_id, cut=True)
            row["removed"] = len(state.strokes)
            row["seconds"] = round(time.perf_counter() - t0, 3)
            return new_state, row

        s = state.strokes
        h, w = s.height, s.width
        shown_before = visible_weights(state.coverage, h, w)
        _, damage = stroke_shares(shown_before, damaged)
        acts, wins, moved, inside = move_strokes(s, pair.forward, cfg, self.pipe.config.margin, shown_before)
        keep = inside & (damage <= cfg.drop_damage)
        moved &= keep
        # the real brush paints the strokes that moved; the others keep their coverage bit for bit
        carried = StrokeList(s.brushes, w, h, s.background, acts, wins, s.levels, s.brush_ids)
        coverage = list(state.coverage)
        idx = np.flatnonzero(moved)
        if len(idx):
            for i, box in zip(idx, engine_coverage(carried[idx]), strict=True):
                coverage[i] = box
        # remove hidden strokes, and to make room for the new the ones whose going changes the painting least
        kept = np.flatnonzero(keep)
        kept_coverage = [coverage[i] for i in kept]
        weights = visible_weights(kept_coverage, h, w)
        shown, _ = stroke_shares(weights)
        live = shown >= cfg.hidden_px
        if cfg.remove_by == "change":  # what taking each out would change in the painting
            rank = removal_change(kept_coverage, acts[kept][:, A.COLOR], s.background, weights, h, w)
        else:
            rank = shown
        target = self.strokes or len(s)
        add = max(math.ceil(cfg.refresh * target), target - int(live.sum()))
        excess = int(live.sum()) + add - target
        if excess > 0:  # the least change first (stable order: ties keep the older stroke)
            order = np.argsort(np.where(live, rank, -1.0), kind="stable")
            live[order[(~live).sum() : (~live).sum() + excess]] = False
        kept = kept[live]
        init = carried[kept]
        init_coverage = [coverage[i] for i in kept]
        if add > 0:
            chosen = self.settings.get("steps") is not None or self.settings.get("time_budget") is not None
            more_steps = {"steps": cfg.new_steps} if cfg.new_steps is not None and not chosen else {}
            painting = self._paint(frame, index, init=init, init_coverage=init_coverage, strokes=add,
                                   refit_init=cfg.refit_carried, refit_hold=cfg.hold, **more_steps)  # fmt: skip
            result, image, steps = painting.strokes, painting.image, [lv["steps"] for lv in painting.levels]
            cov = painting.coverage if painting.coverage is not None else engine_coverage(result)
        else:  # nothing to add: the carried strokes are the painting
            from brushwork.engine import EngineCanvas
            from brushwork.painting.backends import is_wet

            canvas = EngineCanvas(w, h, None, s.background)
            if any(is_wet(b) for b in init.brushes):  # wet strokes paint over what is under them
                canvas.paint(init.actions, init.windows, init.stroke_brushes())
            else:
                canvas.composite(init_coverage, init.actions[:, A.COLOR])
            result, image, cov, steps = init, canvas.image(), init_coverage, []
        n_new = len(result) - len(kept)
        ids = np.concatenate([state.ids[kept], np.arange(state.next_id, state.next_id + n_new, dtype=np.int64)])
        new_state = FrameState(result, ids, cov, image, state.next_id + n_new)
        row = {"cut": False, "strokes": len(result), "added": n_new, "moved": int(moved[kept].sum()),
               "removed": len(s) - len(kept), "kept": len(kept), "psnr": round(psnr(image, frame), 4), "steps": steps,
               "seconds": round(time.perf_counter() - t0, 3)}  # fmt: skip
        return new_state, row


__all__ = ["FrameState", "FrameStepper", "engine_coverage"]
