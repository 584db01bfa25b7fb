"""The stroke optimiser: coarse-to-fine levels of strokes fitted to a target through the neural painter.

How a painting is made (design in the package README / pipeline docstring):

1. The canvas starts as a flat colour. Levels go from few large strokes to many small ones; a level
   has one window size w and a share of the strokes (`plan_levels`).
2. A level paints in *passes*: each pass is a grid of non-overlapping w x w windows, shifted from
   pass to pass (see `brushwork.painting.canvas`). Strokes go to the cells where the mean error
   |target - canvas| over the window is largest, with the target's mean colour there and a curve
   along the local image edges (`init_level`); a pass may leave low-error cells empty. Each pass is
   painted (no grad) before the next is placed, so later passes see the remaining error.
3. The level's actions (N, 12) are optimised through a sigmoid (so they stay in range) with Adam on
   `PaintLoss`; window placement stays fixed. Earlier levels are frozen and cached as a canvas.
4. Large windows are optimised on a reduced canvas on which they measure `work_window` (32) px: a
   256 px window at 1/8 scale, the painter's 64 px alpha box-reduced to 32 px. Measured against
   64 px work windows: the same PSNR (21.77 vs 21.79 dB, 2 photos) in 20% less time, as the CNN loss
   runs on a quarter of the pixels; and the work per level no longer grows with the canvas size.
   The final painting composites the painter's alphas resized to the full windows.

Contents, top to bottom:
    OptimiseConfig   every knob, with a reason per field
    Level, plan_levels
    PaintLoss        content (MobileNetV2 features) / pixel (MSE) / mixed
    LevelInit, init_level
    StrokeOptimiser  runs the levels; `__call__` returns the StrokeList
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.models.painter import Painter
from brushwork.painting.canvas import PassGrid, composite_pass, composite_strokes, reduce, resize_alpha
from brushwork.painting.strokes import StrokeList

LOSSES = ("content", "pixel", "mixed")
NATIVE = A.REFERENCE_SIZE  # the painter's output size: 64 px
MIN_WINDOW = 8  # px: below this a stroke is a smudge of a few pixels


@dataclass
class OptimiseConfig:
    # Window side of each level as a fraction of the canvas's long side, coarse to fine.
    window_fractions: tuple[float, ...] = (0.5, 0.25, 0.125, 0.0625)
    # Share of the strokes per level: a few large strokes block in, most strokes are small detail.
    stroke_shares: tuple[float, ...] = (0.04, 0.12, 0.34, 0.5)
    # Windows of at least this many px are optimised on a canvas reduced so that they measure exactly
    # this: the painter's 64 px alphas are box-reduced to it, and the CNN loss runs on fewer pixels.
    work_window: int = 32
    # Adam steps per level when neither steps nor a time budget is given.
    steps: tuple[int, ...] = (40, 40, 40, 40)
    loss: str = "mixed"
    # Weight of the pixel MSE in "mixed"; the content term is ~1 at the start of a level.
    pixel_weight: float = 60.0
    # MobileNetV2 taps (see brushwork.models.features) and their weights, ~1 / mean square activation.
    layers: tuple[int, ...] = (1, 3, 6, 13)
    layer_weights: tuple[float, ...] = (1.0, 0.35, 0.4, 2.0)
    lr: float = 0.25  # Adam step on the action logits
    # Curve points stay this far (window fraction) from the window's edge: measured with the engine, a
    # stroke then keeps > 99.7% of its paint inside its window, so cropping it at the window (which the
    # painter's alpha does and the real brush does not) leaves no straight seams. Margin 0: 4% outside.
    margin: float = 0.1
    lr_final: float = 0.2  # the lr decays (cosine) to lr * lr_final at the end of each level
    # Strokes per pass = fill x (canvas area / window area): the rest of the cells stay empty.
    fill: float = 0.75
    # Initial stroke geometry, as fractions of the window / action units.
    init_half_length: tuple[float, float] = (0.22, 0.36)
    init_pull: float = 0.6  # how far a stroke's centre moves from the window's middle to the error centroid
    init_size: tuple[float, float] = (0.75, 0.9)
    init_pressure: tuple[float, float] = (0.65, 0.95)
    # Run the painter under bfloat16 autocast where the CPU has native bf16 (measured faster; the
    # alpha differs by < 2e-3, far below what the optimiser can see).
    bf16: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise BrushworkError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if len(self.window_fractions) != len(self.stroke_shares) or not self.window_fractions:
            raise ValueError("window_fractions and stroke_shares need one entry per level")
        if len(self.layers) != len(self.layer_weights):
            raise ValueError("layers and layer_weights need the same length")


# -- the level plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One coarse-to-fine level: its window size on the full canvas and on its work canvas."""

    index: int  # level number written to the StrokeList
    window: int  # window side in full-canvas px
    factor: int  # the level is optimised on the canvas reduced `factor` times
    strokes: int
    steps: int  # Adam steps (0 when a time budget decides)

    @property
    def work_window(self) -> int:
        return self.window // self.factor


def _split(n: int, shares: tuple[float, ...]) -> list[int]:
    """n split by shares, rounding by largest remainder so the parts sum to n."""
    s = np.asarray(shares, dtype=np.float64)
    raw = n * s / s.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: n - out.sum()]] += 1
    return out.tolist()


def plan_levels(
    height: int,
    width: int,
    strokes: int,
    config: OptimiseConfig,
    steps: int | None = None,
    first_index: int = 0,
    max_window: int | None = None,
) -> list[Level]:
    """The levels for a height x width canvas and `strokes` strokes.

    A window of at least `config.work_window` (W) px is snapped to W * m and optimised at 1/m scale,
    where it measures W px; a smaller window (small canvases) is optimised at full scale. A level whose
    window repeats the previous one is merged into it. `max_window` drops the levels with larger
    windows (their strokes go to the others; the finest level always stays): continuing a painting
    adds detail on top rather than big strokes over it. Levels that get no strokes are dropped.
    """
    long = max(height, width)
    ww = config.work_window
    windows: list[tuple[int, int]] = []
    shares: list[float] = []
    level_steps: list[int] = []
    for k, (frac, share) in enumerate(zip(config.window_fractions, config.stroke_shares, strict=True)):
        want = long * frac
        if want >= ww:
            m = max(1, round(want / ww))
            win = (ww * m, m)
        else:
            win = (max(MIN_WINDOW, round(want)), 1)
        if windows and windows[-1] == win:
            shares[-1] += share
            continue
        windows.append(win)
        shares.append(share)
        level_steps.append(steps if steps is not None else config.steps[min(k, len(config.steps) - 1)])
    if max_window is not None:
        keep = [i for i, (win, _) in enumerate(windows) if win <= max_window] or [len(windows) - 1]
        windows, shares, level_steps = ([x[i] for i in keep] for x in (windows, shares, level_steps))
    counts = _split(strokes, tuple(shares))
    levels = []
    for (win, m), n, st in zip(windows, counts, level_steps, strict=True):
        if n > 0:
            levels.append(Level(first_index + len(levels), win, m, n, st))
    return levels


# -- loss ------------------------------------------------------------------------------------------


def fold_batch_norm(module: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d (in a Sequential) into the conv.

    Exact up to float rounding (measured < 1e-5 on MobileNetV2 activations), and the CNN loss's
    forward + backward gets ~25% faster on CPU: BN no longer runs as separate ops. In place; returns
    `module`. Only for frozen networks: the folded conv no longer has separate BN statistics.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for child in module.children():
        fold_batch_norm(child)
    if isinstance(module, nn.Sequential):
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fused = fuse_conv_bn_eval(conv.eval(), bn.eval()).requires_grad_(False)
                module[i] = fused.to(memory_format=torch.channels_last)
                module[i + 1] = nn.Identity()
    return module


class PaintLoss(nn.Module):
    """Loss between the canvas and the target, both (3, H, W) in [0, 1].

    content: sum over MobileNetV2 taps of w_k * MSE(features): intrinsic style transfer as in
        Nakano's neural painters, where the painter is the only style constraint.
    pixel: MSE on pixels.
    mixed: content + pixel_weight * pixel (colours stay true; features keep edges and texture).
    `set_target` caches the target's features (no grad) once per level.
    """

    def __init__(self, kind: str, config: OptimiseConfig, extractor: nn.Module | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.pixel_weight = config.pixel_weight
        self.layer_weights = config.layer_weights
        self.extractor = None
        if kind in ("content", "mixed"):
            if extractor is None:
                from brushwork.models.features import FeatureExtractor

                extractor = FeatureExtractor.mobilenet_v2(layers=config.layers)
            self.extractor = fold_batch_norm(copy.deepcopy(extractor))
        self.target: Tensor | None = None
        self.target_features: list[Tensor] = []

    @torch.no_grad()
    def set_target(self, target: Tensor) -> None:
        self.target = target
        self.target_features = self.extractor(target[None]) if self.extractor is not None else []

    def forward(self, canvas: Tensor) -> tuple[Tensor, dict[str, float]]:
        parts: dict[str, float] = {}
        total = canvas.new_zeros(())
        if self.kind in ("pixel", "mixed"):
            pix = F.mse_loss(canvas, self.target)
            parts["pixel"] = pix.item()
            total = total + (pix if self.kind == "pixel" else self.pixel_weight * pix)
        if self.extractor is not None:
            feats = self.extractor(canvas[None])
            content = sum(
                w * F.mse_loss(a, b) for w, a, b in zip(self.layer_weights, feats, self.target_features, strict=True)
            )
            parts["content"] = content.item()
            total = total + content
        return total, parts


# -- initialisation --------------------------------------------------------------------------------


@dataclass
class LevelInit:
    """A level's strokes before optimisation, in painting order, pass by pass (work-canvas px)."""

    grids: list[PassGrid]
    cells: list[Tensor]  # per pass (P_k,) long
    actions: Tensor  # (N, 12) in [0, 1], N = sum P_k

    @property
    def slices(self) -> list[slice]:
        out, start = [], 0
        for c in self.cells:
            out.append(slice(start, start + len(c)))
            start += len(c)
        return out

    def windows(self, factor: int) -> Tensor:
        """(N, 3) float (x0, y0, w) in full-canvas px."""
        rows = []
        for g, c in zip(self.grids, self.cells, strict=True):
            o = g.origins(c.cpu()).float() * factor  # (P, 2)
            rows.append(torch.cat([o, torch.full((len(c), 1), float(g.window * factor))], dim=1))
        return torch.cat(rows) if rows else torch.zeros(0, 3)


def _shifts(n: int, window: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """n grid shifts spread evenly over [0, window)^2: the R2 low-discrepancy sequence, random start."""
    g = 1.32471795724474602596  # plastic number: R2's generator
    a = np.array([1 / g, 1 / g**2])
    u = (rng.random(2) + np.arange(n)[:, None] * a) % 1.0  # (n, 2)
    return [(int(x * window), int(y * window)) for x, y in u]


def _edge_directions(target: Tensor, grid: PassGrid) -> Tensor:
    """Per cell, the angle (ny, nx) of the local edges (orthogonal to the mean structure tensor)."""
    lum = (0.299 * target[0] + 0.587 * target[1] + 0.114 * target[2])[None]  # (1, H, W)
    gx = F.pad(lum[:, :, 1:] - lum[:, :, :-1], (0, 1))
    gy = F.pad(lum[:, 1:, :] - lum[:, :-1, :], (0, 0, 0, 1))
    s = grid.cell_sums(torch.cat([gx * gx, gy * gy, gx * gy]))  # (3, ny, nx)
    grad_angle = 0.5 * torch.atan2(2 * s[2], s[0] - s[1])  # dominant gradient direction
    return grad_angle + math.pi / 2


def init_level(
    painter: Painter,
    level: Level,
    target: Tensor,
    canvas: Tensor,
    config: OptimiseConfig,
    rng: np.random.Generator,
) -> tuple[LevelInit, Tensor]:
    """Place a level's strokes where the error is largest.

    Args:
        target, canvas: (3, h, w) on the level's work canvas.

    Returns:
        The LevelInit and the canvas with the initial strokes painted (3, h, w).

    Pass by pass: score every grid cell by the mean error |target - canvas| over the window, take the
    best cells, give each stroke the target's mean colour in its window and a curve along the local
    edges, then paint the pass with the painter (no grad) so the next pass sees the remaining error.
    """
    h, w = target.shape[-2:]
    ww = level.work_window
    per_pass = max(1, round(config.fill * h * w / ww**2))
    n_passes = math.ceil(level.strokes / per_pass)
    counts = _split(level.strokes, (1.0,) * n_passes)
    grids, cells_list, acts_list = [], [], []
    lo_l, hi_l = config.init_half_length
    ys, xs = (t.to(target)[None] + 0.5 for t in torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"))
    k = max(1, ww // 2) | 1  # odd box size
    smooth = F.avg_pool2d(F.pad(target[None], (k // 2,) * 4, mode="replicate"), k, stride=1)[0]  # (3, h, w)
    for (sx, sy), n in zip(_shifts(n_passes, ww, rng), counts, strict=True):
        grid = PassGrid(h, w, ww, sx, sy)
        area = grid.cell_areas().to(target.device)  # (ny, nx)
        err = (target - canvas).abs().sum(0, keepdim=True)  # (1, h, w)
        score = grid.cell_sums(err)[0] / ww**2  # mean error over the whole window; cropped px count 0
        score = torch.where(area > 0, score, torch.full_like(score, -1.0)).flatten()
        n = min(n, int((area > 0).sum()))
        cells = torch.sort(torch.topk(score, n).indices).values  # (n,) sorted: painting order is free
        # The stroke centre: the error's centroid in the window (pulled to the middle, jittered).
        mass = grid.cell_sums(torch.cat([err, err * xs, err * ys])).flatten(1)[:, cells]  # (3, n)
        origin = grid.origins(cells).to(mass).t()  # (2, n)
        centroid = ((mass[1:] / mass[:1].clamp(min=1e-6) - origin) / ww).t().cpu().numpy()  # (n, 2)
        centre = np.clip(0.5 + config.init_pull * (centroid - 0.5), 0.3, 0.7) + rng.normal(0.0, 0.04, (n, 2))
        # Its colour: the target around the centre (a box of half the window), not the window's mean.
        px = (origin.t().cpu().numpy() + centre * ww).astype(np.int64)  # (n, 2) x, y
        px = np.clip(px, 0, [w - 1, h - 1])
        color = smooth[:, px[:, 1], px[:, 0]].t().cpu()  # (n, 3)
        angle = _edge_directions(target, grid).flatten()[cells].cpu().numpy()
        angle = angle + rng.normal(0.0, 0.3, n)
        half = rng.uniform(lo_l, hi_l, n)
        d = np.stack([np.cos(angle), np.sin(angle)], 1) * half[:, None]  # (n, 2)
        bend = np.stack([-d[:, 1], d[:, 0]], 1) * rng.uniform(-0.3, 0.3, (n, 1))
        a = np.empty((n, A.ACTION_DIM))
        a[:, [A.START_X, A.START_Y]] = centre - d
        a[:, [A.END_X, A.END_Y]] = centre + d
        a[:, [A.CONTROL_X, A.CONTROL_Y]] = centre + bend
        a[:, A.SIZE] = rng.uniform(*config.init_size, n)
        a[:, A.PRESSURE] = rng.uniform(*config.init_pressure, n)
        a[:, A.ENTRY_PRESSURE] = rng.uniform(*config.init_pressure, n)
        a[:, A.COLOR] = color.numpy()
        lo, hi = action_bounds(config.margin)
        acts = torch.from_numpy(np.clip(a, lo.numpy() + 0.01, hi.numpy() - 0.01)).float().to(target.device)
        with torch.no_grad():
            alpha = resize_alpha(painter.alpha(acts), ww)
            canvas = composite_pass(canvas, alpha, acts[:, A.COLOR], cells, grid)
        grids.append(grid)
        cells_list.append(cells)
        acts_list.append(acts)
    return LevelInit(grids, cells_list, torch.cat(acts_list)), canvas


# -- the optimiser ---------------------------------------------------------------------------------


def action_bounds(margin: float) -> tuple[Tensor, Tensor]:
    """(12,) lower and upper bounds of the actions: curve points in [margin, 1 - margin], the rest [0, 1]."""
    lo, hi = torch.zeros(A.ACTION_DIM), torch.ones(A.ACTION_DIM)
    points = [A.START_X, A.START_Y, A.CONTROL_X, A.CONTROL_Y, A.END_X, A.END_Y]
    lo[points], hi[points] = margin, 1.0 - margin
    return lo, hi


def _bf16_ok() -> bool:
    """True where bfloat16 matmul/conv run natively on the CPU (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@dataclass
class LevelStats:
    level: int
    window: int
    strokes: int
    steps: int
    seconds: float
    loss_start: float
    loss_end: float
    init_seconds: float = 0.0


@dataclass
class OptimiseResult:
    strokes: StrokeList
    canvas: Tensor  # (3, H, W) the painted full canvas
    stats: list[LevelStats] = field(default_factory=list)


class StrokeOptimiser:
    """Fits strokes to a target, level by level.

    Args:
        painter: a frozen `Painter` (its `alpha` gives (N, 1, 64, 64) coverage).
        config: `OptimiseConfig`.
        device: where to run.

    `__call__(target, strokes, ...)` returns an `OptimiseResult` whose StrokeList holds any initial
    strokes (frozen, first) followed by the new levels.
    """

    def __init__(self, painter: Painter, config: OptimiseConfig, device: str | torch.device = "cpu") -> None:
        self.painter = painter
        self.config = config
        self.device = torch.device(device)
        self.loss = PaintLoss(config.loss, config).to(self.device)
        self.autocast = config.bf16 and self.device.type == "cpu" and _bf16_ok()

    def alpha(self, actions: Tensor) -> Tensor:
        """(N, 12) -> (N, 1, 64, 64) float32 coverage, under bf16 autocast when enabled."""
        if self.autocast:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.painter.alpha(actions).float()
        return self.painter.alpha(actions)

    def __call__(
        self,
        target: Tensor,
        strokes: int,
        background: tuple[float, float, float],
        brush: str,
        init: StrokeList | None = None,
        steps: int | None = None,
        time_budget: float | None = None,
        progress: bool = True,
    ) -> OptimiseResult:
        """Paint `strokes` strokes over `init` (or a flat `background`) to match `target` (3, H, W)."""
        cfg = self.config
        target = target.to(self.device)
        _, h, w = target.shape
        rng = np.random.default_rng(cfg.seed)
        canvas = torch.empty_like(target).copy_(torch.tensor(background, device=self.device)[:, None, None])
        result = init if init is not None else StrokeList.empty(brush, w, h, background)
        if len(result):
            canvas, _ = paint_strokes(self.painter, result, canvas)
        first = int(result.levels.max()) + 1 if len(result) else 0
        finest = int(round(float(result.windows[:, 2].min()))) if len(result) else None
        levels = plan_levels(h, w, strokes, cfg, steps, first_index=first, max_window=finest)
        budgets = _split_budget(levels, h, w, time_budget) if time_budget is not None else [None] * len(levels)
        stats = []
        spent = 0.0
        for k, level in enumerate(levels):
            budget = budgets[k]
            if budget is not None and time_budget is not None:  # hand on time a faster level left over
                rest = sum(b for b in budgets[k:] if b is not None)
                budget = budget / rest * max(0.0, time_budget - spent)
            t0 = time.perf_counter()
            new, canvas, st = self._level(level, target, canvas, rng, f"{k + 1}/{len(levels)}", budget, progress)
            spent += time.perf_counter() - t0
            st.seconds = time.perf_counter() - t0
            stats.append(st)
            result = _concat(result, new)
        return OptimiseResult(result, canvas, stats)

    def _level(
        self,
        level: Level,
        target: Tensor,
        canvas: Tensor,
        rng: np.random.Generator,
        position: str,
        budget: float | None,
        progress: bool,
    ) -> tuple[StrokeList, Tensor, LevelStats]:
        cfg = self.config
        m, ww = level.factor, level.work_window
        t_init = time.perf_counter()
        target_w = reduce(target, m)  # (3, h, w) work canvas
        base_w = reduce(canvas, m)  # the frozen earlier levels
        self.loss.set_target(target_w)
        init, _ = init_level(self.painter, level, target_w, base_w, cfg, rng)
        t_init = time.perf_counter() - t_init
        slices = init.slices
        lo, hi = (b.to(self.device) for b in action_bounds(cfg.margin))
        unit = ((init.actions.to(self.device) - lo) / (hi - lo)).clamp(0.01, 0.99)
        theta = torch.logit(unit).requires_grad_(True)  # (N, 12) unconstrained; actions = lo + (hi - lo) * sigmoid
        opt = torch.optim.Adam([theta], lr=cfg.lr)

        def step_loss() -> Tensor:
            acts = lo + (hi - lo) * torch.sigmoid(theta)
            alpha = resize_alpha(self.alpha(acts), ww)  # (N, 1, ww, ww)
            color = acts[:, A.COLOR]
            c = base_w
            for g, cells, sl in zip(init.grids, init.cells, slices, strict=True):
                c = composite_pass(c, alpha[sl], color[sl], cells, g)
            loss, _ = self.loss(c)
            return loss

        total = level.steps if budget is None else None
        bar = tqdm(
            total=total, disable=not progress, leave=True, dynamic_ncols=True, unit="step",
            desc=f"level {position} ({level.strokes} strokes, {level.window} px)",
        )  # fmt: skip
        t0 = time.perf_counter()
        losses: list[float] = []
        step = 0
        while True:
            elapsed = time.perf_counter() - t0
            if budget is None:
                if step >= level.steps:
                    break
                frac = step / max(1, level.steps)
            else:
                if step > 0 and elapsed + elapsed / step > budget:
                    break
                frac = min(1.0, elapsed / budget) if budget > 0 else 1.0
                if step == 2:  # now the step time is known: give the bar a total, hence an ETA
                    bar.total = max(step + 1, int(budget / (elapsed / step)))
                    bar.refresh()
            for group in opt.param_groups:  # cosine decay from lr to lr * lr_final
                group["lr"] = cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * frac)))
            opt.zero_grad(set_to_none=True)
            loss = step_loss()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4g}", refresh=False)
        if budget is not None:
            bar.total = step
            bar.refresh()
        bar.close()

        acts = (lo + (hi - lo) * torch.sigmoid(theta.detach())).float().cpu()
        windows = init.windows(m)
        new = StrokeList(
            "", target.shape[-1], target.shape[-2], (0.0, 0.0, 0.0),
            acts.numpy(), windows.numpy(), np.full(len(acts), level.index, np.int32),
        )  # fmt: skip
        with torch.no_grad():
            full_alpha = resize_alpha(self.painter.alpha(acts.to(self.device)), level.window)
            for g, cells, sl in zip(init.grids, init.cells, slices, strict=True):
                fg, fcells = _full_grid(g, cells, m, target.shape[-2], target.shape[-1])
                canvas = composite_pass(canvas, full_alpha[sl], acts[sl, A.COLOR].to(self.device), fcells, fg)
        stats = LevelStats(
            level.index, level.window, level.strokes, step, 0.0,
            losses[0] if losses else float("nan"), losses[-1] if losses else float("nan"), t_init,
        )  # fmt: skip
        return new, canvas, stats


def _full_grid(grid: PassGrid, cells: Tensor, factor: int, height: int, width: int) -> tuple[PassGrid, Tensor]:
    """A work-canvas pass grid and its cells -> the same windows on the full height x width canvas."""
    full = PassGrid(height, width, grid.window * factor, grid.shift_x * factor, grid.shift_y * factor)
    r, c = cells // grid.nx, cells % grid.nx
    return full, r * full.nx + c


def _split_budget(levels: list[Level], height: int, width: int, seconds: float) -> list[float]:
    """Seconds per level, in proportion to a cost model of one step times the level's default steps.

    One step costs about (strokes + 3 * blocks + 40) units, blocks = 64 x 64 px of work canvas
    through MobileNetV2, the constant being per-step overhead (Adam, small ops); fitted to per-level
    step times measured with 1 thread (a unit ~0.85 ms: one stroke forward + backward through the
    painter). So every level keeps its share of the default plan's steps.
    """
    costs = []
    for lv in levels:
        blocks = math.ceil(height / lv.factor) * math.ceil(width / lv.factor) / NATIVE**2
        costs.append(max(1, lv.steps) * (lv.strokes + 3.0 * blocks + 40.0))
    total = sum(costs)
    return [seconds * c / total for c in costs]


def _concat(a: StrokeList, b: StrokeList) -> StrokeList:
    return StrokeList(
        a.brush, a.width, a.height, a.background,
        np.concatenate([a.actions, b.actions]), np.concatenate([a.windows, b.windows]),
        np.concatenate([a.levels, b.levels]),
    )  # fmt: skip


# -- rendering a stroke list with the painter --------------------------------------------------------


@torch.no_grad()
def painter_alphas(painter: Painter, actions: Tensor) -> Tensor:
    """(N, 12) -> (N, 1, 64, 64) float32 coverage, no grad (the painter runs large N in chunks itself)."""
    return painter.alpha(actions.to(next(painter.parameters()).device)).float()


@torch.no_grad()
def paint_strokes(
    painter: Painter,
    strokes: StrokeList,
    canvas: Tensor | None = None,
    scale: float = 1.0,
    snapshots: list[int] | tuple[int, ...] = (),
    on_snapshot: Callable[[int, Tensor], None] | None = None,
    alpha: Tensor | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """Composite a stroke list with the painter, stroke by stroke, at `scale` times its canvas size.

    Args:
        canvas: (3, H, W) to paint on; default: the background colour at the scaled canvas size.
        alpha: (N, 1, 64, 64) the painter's alphas for these strokes, if already computed.
        snapshots: stroke counts after which to keep a copy of the canvas (time-lapse frames).
        on_snapshot: called as on_snapshot(k, canvas) instead of keeping copies (see composite_strokes).

    Returns:
        The painted canvas (3, H, W) in [0, 1] and one (3, H, W) per snapshot.
    """
    device = next(painter.parameters()).device
    if canvas is None:
        h, w = max(1, round(strokes.height * scale)), max(1, round(strokes.width * scale))
        canvas = torch.tensor(strokes.background, dtype=torch.float32, device=device)[:, None, None].expand(3, h, w)
    acts = torch.from_numpy(strokes.actions).to(device)
    alpha = painter_alphas(painter, acts) if alpha is None else alpha
    wins = torch.from_numpy(strokes.windows).to(device).double() * scale
    return composite_strokes(canvas, alpha, acts[:, A.COLOR], wins, snapshots, on_snapshot)


__all__ = [
    "LOSSES",
    "Level",
    "LevelStats",
    "OptimiseConfig",
    "OptimiseResult",
    "PaintLoss",
    "StrokeOptimiser",
    "init_level",
    "paint_strokes",
    "painter_alphas",
    "plan_levels",
]
