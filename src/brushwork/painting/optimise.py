"""Optimising one level's strokes through the neural painter, over the painting of the levels before.

1. Place the level's strokes (`brushwork.painting.placement`) on the level's work canvas (the canvas
   reduced `level.factor` times), against the painting so far: the real brush's when the engine is
   in the loop.
2. Optimise the actions (N, 12) through a sigmoid (so they stay in range) with Adam on the loss,
   window placement fixed, the learning rate on a cosine (`brushwork.painting.schedule`).
3. Straight-through: with the engine in the loop, every `real_forward_every` steps the real brush
   paints the current strokes at the work window; until the next time the forward pass uses that
   real coverage plus the painter's change since (its gradient is the painter's), so positions and
   sizes follow the real strokes, not only the painter's mean stroke.

Wet (smudging) brushes: a wet stroke lays a colour that depends on the paint under it. The strokes
of one pass do not overlap, so each sees the canvas as it was before its pass: the pass takes the
canvas under every window (`PassGrid.patches`), resized to the painter's 64 px, and the painter's
colour laid, resized back, is composited per pixel. A whole pass still goes through the painter at
once; only passes are sequential, as for dry strokes.

The result is the level's StrokeList; the backend then paints it (`brushwork.painting.backends`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from tqdm.auto import tqdm

from brushwork import actions as A
from brushwork.allocator import trim
from brushwork.models.painter import Painter, split_sketch
from brushwork.painting.backends import Backend
from brushwork.painting.canvas import composite_pass, reduce, resize_alpha
from brushwork.painting.config import PaintConfig
from brushwork.painting.losses import PaintLoss
from brushwork.painting.placement import LevelInit, action_bounds, detail_map, init_level
from brushwork.painting.plan import Level
from brushwork.painting.schedule import LevelClock, cosine_lr
from brushwork.painting.strokes import StrokeList

KEEP_ACTIVATIONS = 1024  # strokes whose painter activations a backward pass keeps (see painter_alpha)
# A pass over a work canvas of more pixels than this is composited again in the backward pass instead of
# keeping its ~8 canvas-sized intermediates (torch.utils.checkpoint; the same values): a poster's finest
# level has 5 passes over 4096 x 2560 px, 1.7 GB of intermediates kept.
RECOMPUTE_PASS_PIXELS = 1 << 20
TRIM_BYTES = 32 << 20  # a level whose coverage takes this much trims the heap after each forward pass


def painter_alpha(painter: Painter, actions: Tensor, size: int | None = None, sketch: Tensor | None = None) -> Tensor:
    """(N, 12) -> (N, 1, size, size) the painter's coverage resized to `size` px (default: its own 64),
    in memory that does not grow past KEEP_ACTIVATIONS strokes: backward keeps the activations of the
    first KEEP_ACTIVATIONS strokes and recomputes the others chunk by chunk (`torch.utils.checkpoint`),
    each chunk resized inside, so that no 64 px coverage of the whole level is held either. A dry
    painter's activations take 0.58 MB a stroke (measured), so a 2048 px painting's finest level (9,600
    strokes) kept 5.6 GB; recomputing costs one more forward of those strokes (~20 % of their step).
    The values are the same: the chunks are the painter's own (`chunk_size`). `sketch` (N, 1, 64, 64):
    the painter's `sketch(actions)` when it was drawn already (a wet level's, shared with `laid`).
    """

    def alpha(chunk: Tensor, chunk_sketch: Tensor | None) -> Tensor:
        out = painter.alpha(chunk, chunk_sketch)
        return out if size is None else resize_alpha(out, size)

    keep = KEEP_ACTIVATIONS - KEEP_ACTIVATIONS % painter.chunk_size
    if actions.shape[0] <= keep or not torch.is_grad_enabled():
        return alpha(actions, sketch)
    kept, rest = (None, None) if sketch is None else (sketch[:keep], sketch[keep:])  # (keep | N - keep, 1, 64, 64)
    chunks = actions[keep:].split(painter.chunk_size)
    sketches = split_sketch(rest, painter.chunk_size, len(chunks))
    recomputed = [checkpoint(alpha, c, s, use_reentrant=False) for c, s in zip(chunks, sketches, strict=True)]
    out = torch.cat([alpha(actions[:keep], kept), *recomputed])
    if out.numel() * out.element_size() >= TRIM_BYTES:  # the chunks' freed activations, back to the system
        trim()  # before the backward pass (allocator.trim); a few ms, so only where it counts
    return out


@dataclass
class LevelStats:
    """What one level did, for `Painting.levels` and the benchmarks."""

    level: int
    window: int
    strokes: int
    steps: int = 0
    seconds: float = 0.0  # placement + optimisation + painting by the backend
    init_seconds: float = 0.0
    commit_seconds: float = 0.0
    real_renders: int = 0
    loss_start: float = float("nan")
    loss_end: float = float("nan")


class LevelOptimiser:
    """Fits one level's strokes. Built per painting (its config may differ per call); called per level.

    Args:
        painter: a frozen `Painter` (its `alpha` gives (N, 1, 64, 64) coverage).
        loss: a `PaintLoss`, told each level's target here.
    """

    def __init__(self, painter: Painter, loss: PaintLoss, config: PaintConfig, device: torch.device) -> None:
        self.painter = painter
        self.loss = loss
        self.config = config
        self.device = device

    def __call__(
        self,
        level: Level,
        target: Tensor,
        backend: Backend,
        painting: StrokeList,
        rng: np.random.Generator,
        detail: bool,
        clock: LevelClock,
        label: str = "",
        progress: bool = True,
        on_step: Callable[[int, int | None, Tensor], None] | None = None,
        start: LevelInit | None = None,
    ) -> tuple[StrokeList, LevelStats]:
        """Place and optimise `level` over `backend.image`; returns its strokes (full-canvas windows).

        Args:
            target: (3, H, W) in [0, 1], the photo at the canvas size.
            painting: the strokes so far (the level's strokes get its canvas and background; their
                brush is the level's, which `self.painter` must be the painter of).
            detail: weight the placement by the photo's detail (finer levels).
            start: the level's strokes to start from instead of a new placement (refining an earlier
                painting: `brushwork.painting.refine.level_start`).
        """
        cfg = self.config
        stats = LevelStats(level.index, level.window, level.strokes)
        m, ww = level.factor, level.work_window
        t = time.perf_counter()
        target_w = reduce(target, m)  # (3, h, w) the work canvas
        base_w = reduce(backend.image, m)  # the painting under this level, frozen
        self.loss.set_target(target_w)
        if start is None:
            dmap = detail_map(target_w, ww) if detail and cfg.detail_weight > 0 else None
            init, _ = init_level(self.painter, level, target_w, base_w, cfg, rng, dmap)
            trim()  # placement's scratch tensors, back to the system before the steps (allocator.trim)
        else:
            init = start
        stats.init_seconds = time.perf_counter() - t
        clock.start()

        slices = init.slices
        lo, hi = (b.to(self.device) for b in action_bounds(cfg.margin))
        # a new placement starts well inside the bounds; strokes to refine start where they were
        edge = 0.01 if start is None else 1e-4
        unit = ((init.actions.to(self.device) - lo) / (hi - lo)).clamp(edge, 1.0 - edge)
        theta = torch.logit(unit).requires_grad_(True)  # (N, 12) unconstrained; actions = lo + (hi - lo) * sigmoid
        opt = torch.optim.Adam([theta], lr=cfg.lr)
        every = cfg.real_forward_every if backend.real else 0
        real: Tensor | None = None  # (N, 1, ww, ww) the engine's coverage at the last render
        seen: Tensor | None = None  # the painter's coverage at that moment

        latest: list[Tensor] = [base_w]  # the work canvas of the last step, for live previews

        def step_loss(step: int) -> Tensor:
            nonlocal real, seen
            acts = lo + (hi - lo) * torch.sigmoid(theta)
            # a wet painter's coverage and colour see the same curve sketch: drawn once for both
            sketch = self.painter.sketch(acts) if self.painter.wet else None  # (N, 1, 64, 64)
            alpha = painter_alpha(self.painter, acts, ww, sketch)  # (N, 1, ww, ww)
            if every and step % every == 0:
                with torch.no_grad():
                    real, seen = backend.coverage(acts, ww, level.brush), alpha.detach()
                stats.real_renders += 1
            if real is not None:  # straight-through: real forward, painter gradient
                alpha = (real + (alpha - seen)).clamp(0.0, 1.0)
            c = base_w
            color = acts[:, A.COLOR]
            for g, cells, sl in zip(init.grids, init.cells, slices, strict=True):
                if self.painter.wet:  # the colour laid over the canvas before this pass, per pixel
                    under = resize_alpha(g.patches(c, cells), self.painter.config.out_size)  # (P, 3, 64, 64)
                    laid = resize_alpha(self.painter.laid(acts[sl], under, sketch[sl]), ww)  # (P, 3, ww, ww)
                    c = composite_pass(c, alpha[sl], laid, cells, g)
                elif c.shape[-1] * c.shape[-2] > RECOMPUTE_PASS_PIXELS:
                    c = checkpoint(composite_pass, c, alpha[sl], color[sl], cells, g, use_reentrant=False)
                else:
                    c = composite_pass(c, alpha[sl], color[sl], cells, g)
            latest[0] = c.detach()
            return self.loss(c)

        bar = tqdm(
            total=clock.expected_steps(0), disable=not progress, leave=True, dynamic_ncols=True, unit="step",
            desc=f"level {label} ({level.strokes} strokes, {level.window} px)",
        )  # fmt: skip
        step = 0
        while not clock.done(step):
            for group in opt.param_groups:
                group["lr"] = cosine_lr(cfg.lr, cfg.lr_final, clock.fraction(step))
            opt.zero_grad(set_to_none=True)
            loss = step_loss(step)
            loss.backward()
            opt.step()
            value = loss.item()
            if step == 0:
                stats.loss_start = value
            stats.loss_end = value
            step += 1
            if step == 2 and clock.budget is not None:  # the step time is known now: an ETA
                bar.total = clock.expected_steps(step)
                bar.refresh()
            bar.update(1)
            if on_step is not None:  # may raise to stop the painting (a cancelled job)
                on_step(step, clock.expected_steps(step), latest[0])
            bar.set_postfix(loss=f"{value:.4g}", refresh=False)
        bar.total = step
        bar.refresh()
        bar.close()
        stats.steps = step

        acts = (lo + (hi - lo) * torch.sigmoid(theta.detach())).float().cpu().numpy()
        strokes = StrokeList(
            level.brush or painting.brushes[-1], painting.width, painting.height, painting.background,
            acts, init.windows(m).numpy(), np.full(len(acts), level.index, np.int32),
        )  # fmt: skip
        return strokes, stats


__all__ = ["KEEP_ACTIVATIONS", "RECOMPUTE_PASS_PIXELS", "LevelOptimiser", "LevelStats", "painter_alpha"]
