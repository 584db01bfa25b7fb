"""Painting a photo: `PaintPipeline`, built once per process, called once per image.

    pipe = PaintPipeline.from_pretrained("classic/dry_brush")   # painter + loss network, once
    painting = pipe("photo.jpg", strokes=1000, size=512)         # a Painting
    painting.image          # (H, W, 3) float32: the real brush's painting (painting.real is True)
    painting.save("out/")   # painting.png, painting_neural.png, strokes.json, ...

    brushwork.paint("photo.jpg", strokes=1000)                   # the same, for one image

The steps of `__call__`:
    1. read the photo and fit it to the canvas (long side `size`);
    2. the painting so far: a flat colour from the photo, or the strokes given as `init`;
    3. the backend holding it: the real brush (libmypaint) or, without it, the painter;
    4. the plan: the stroke count (chosen for a time budget if not given) and coarse-to-fine levels;
    5. per level: place and optimise its strokes through the painter over the real painting so far
       (`LevelOptimiser`), then the backend paints them -- colours refitted to the real composite;
    6. the colours of all levels refitted at once against the final real painting;
    7. the Painting.

`init` continues an earlier painting: its strokes stay underneath, frozen and unchanged (scaled to
this canvas), and new levels go on top where the painting still differs most from the photo; only
levels no larger than its finest window are used. Its background colour and brushes are kept.
With `refine=True` its strokes are optimised again instead, level by level, each from where it was
(`brushwork.painting.refine`); new strokes go on top only if `strokes` is given.

Several brushes: `brush="classic/dry_brush,classic/pen"` paints the coarse levels with the first
and the fine levels with the last (`plan.assign_brushes`: k brushes over L levels, level i gets brush
i * k // L; list one brush per level for full control). Each brush paints with its own painter, and
each stroke records its brush (`StrokeList.brush_ids`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from brushwork.allocator import trim
from brushwork.devices import resolve_device
from brushwork.errors import BrushworkError
from brushwork.images import ImageSource, fit_to_canvas, load_image
from brushwork.io import note_to_stderr
from brushwork.limits import check_painting_memory
from brushwork.models.painter import Painter
from brushwork.painting.backends import EngineBackend, NeuralBackend, engine_available
from brushwork.painting.checkpoint import Checkpoint, painters_digest, painting_key
from brushwork.painting.checkpoint import load as load_checkpoint
from brushwork.painting.checkpoint import save as save_checkpoint
from brushwork.painting.config import DEFAULT_STROKES, PaintConfig, split_brushes
from brushwork.painting.losses import build_loss
from brushwork.painting.optimise import LevelOptimiser, LevelStats
from brushwork.painting.plan import assign_brushes, level_windows, plan_levels
from brushwork.painting.refine import refine_plan
from brushwork.painting.result import Painting
from brushwork.painting.schedule import (
    LevelClock,
    Progress,
    level_line,
    level_seconds,
    measure_unit,
    plan_for_budget,
    split_budget,
    stroke_cost,
)
from brushwork.painting.strokes import StrokeList
from brushwork.painting.strokes_files import load as load_strokes

PREVIEW_SECONDS = 2.0  # on_progress gets a mid-level preview of the painting this often

# Settings the pipeline builds its parts from: a call cannot change them (build another pipeline).
BUILT_IN = ("brush", "painter", "loss", "device", "layers", "layer_weights", "pixel_weight")


class PaintPipeline:
    """The painter, the loss network and the settings, built once; `__call__` paints one image.

    Args:
        config: a `PaintConfig` (default: every default).
        painter: a Painter or a painter .safetensors file (default: `config.painter`, else the brush's
            shipped painter). With several brushes each uses its shipped painter.
    """

    def __init__(self, config: PaintConfig | None = None, painter: str | os.PathLike | Painter | None = None) -> None:
        if config is not None and not isinstance(config, PaintConfig):
            raise BrushworkError(f"config must be a PaintConfig, got {type(config).__name__}")
        if painter is not None and not isinstance(painter, str | os.PathLike | Painter):
            raise BrushworkError(f"painter must be a .safetensors path or a Painter, got {type(painter).__name__}")
        self.config = config or PaintConfig()
        self.device = resolve_device(self.config.device)
        self.brushes = self.config.brush_list()  # one per level group, coarse to fine (may repeat)
        distinct = list(dict.fromkeys(self.brushes))
        given = painter or self.config.painter
        if given is not None and len(distinct) > 1:
            raise BrushworkError("a painter file goes with one brush; several brushes each use their shipped painter")
        self.painters = {b: load_frozen_painter(b, given, self.device) for b in distinct}
        self.painter = self.painters[distinct[0]]
        self.loss = build_loss(self.config.loss, self.config).to(self.device)
        self._unit: float | None = None  # seconds of one stroke through the painter, measured when needed
        self._painters_digest: str | None = None  # their weights' hash, for checkpoints, made when needed

    @classmethod
    def from_pretrained(
        cls, brush: str = "classic/dry_brush", painter: str | os.PathLike | Painter | None = None, **settings: Any
    ) -> PaintPipeline:
        """A pipeline for `brush` (its shipped painter unless `painter`), other settings as PaintConfig fields."""
        return cls(PaintConfig(brush=brush, **settings), painter=painter)

    def settings(self, **overrides: Any) -> PaintConfig:
        """This pipeline's config with per-call `overrides`, checked; built-in parts cannot change."""
        fixed = [k for k in overrides if k in BUILT_IN and overrides[k] != getattr(self.config, k)]
        if fixed:
            raise BrushworkError(
                f"{', '.join(fixed)} cannot change per call: the pipeline was built for them; build another"
            )
        return self.config.updated(**overrides) if overrides else self.config

    def __call__(
        self,
        image: ImageSource,
        init: str | os.PathLike | StrokeList | None = None,
        name: str | None = None,
        progress: bool = True,
        notify: Callable[[str], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        init_coverage: list | None = None,
        checkpoint: str | os.PathLike | None = None,
        resume: bool = False,
        **overrides: Any,
    ) -> Painting:
        """Paint one image (a path, a PIL image or an (H, W[, C]) array); `overrides` are PaintConfig fields.

        `init_coverage`: the real brush's coverage of the `init` strokes on this canvas, one
        (x, y, alpha (h, w)) box per stroke (`Painting.coverage` of an earlier call), reused instead of
        painting them again -- a video frame whose strokes mostly stand still pays only for the new ones.

        `on_progress` is called after every optimiser step and after every level (with the painting so
        far); an exception it raises stops the painting at once and propagates (e.g. to cancel a job).

        `checkpoint`: a file written after every level (`brushwork.painting.checkpoint`); with `resume`
        the painting goes on after the last level it holds, to the same result as an uninterrupted call
        (BrushworkError if it is another painting's). The caller removes it once the painting is kept.
        """
        cfg = self.settings(**overrides)
        t_start = time.perf_counter()
        notes: list[str] = []

        def note(text: str) -> None:
            notes.append(text)
            if notify is not None:
                notify(text)
            elif progress:
                note_to_stderr(text)

        # 1. the photo at the canvas size
        if name is None:
            name = Path(image).stem if isinstance(image, str | os.PathLike) else "image"
        label = str(image) if isinstance(image, str | os.PathLike) else name
        photo = fit_to_canvas(load_image(image, notify=note), cfg.size, name=label, notify=note)
        h, w = photo.shape[:2]
        check_painting_memory(w, h)
        target = torch.from_numpy(photo).permute(2, 0, 1).contiguous().to(self.device)  # (3, H, W)

        # 2. the painting so far (refining: nothing yet, the earlier strokes come back level by level)
        given = refined = None
        if init is not None:
            painting = given = continue_strokes(init, cfg.brush, h, w)
            if cfg.refine:
                refined = refine_plan(given, cfg.work_window, cfg.steps or cfg.level_steps, self.device)
                painting = StrokeList.empty(given.brushes[0], w, h, given.background)
        elif cfg.refine:
            raise BrushworkError("refine needs the strokes of an earlier painting: give init (--init STROKES)")
        else:
            background = tuple(float(v) for v in np.median(photo.reshape(-1, 3), axis=0))
            painting = StrokeList.empty(self.brushes[0], w, h, background)

        # 3. the backend: the real brush if it can paint here
        problem = engine_available(tuple(self.painters)) if cfg.engine else "painter-only mode asked for"
        if problem is None:
            backend = EngineBackend(painting, self.device, refit=cfg.refit_colors,
                                    coverage=init_coverage if init is not None and refined is None else None,
                                    refit_init=cfg.refit_init, hold=cfg.refit_hold)  # fmt: skip
        else:
            if cfg.engine:
                note(f"painting through the painter alone, painting.png is the painter's canvas: {problem}")
            backend = NeuralBackend(self.painters, painting, self.device)
        timings = {"load": time.perf_counter() - t_start}

        # 4. the plan (an interrupted painting's, going on: a time budget's depends on the clock)
        t_plan = time.perf_counter()
        key = saved = None
        if checkpoint is not None:
            if self._painters_digest is None:
                self._painters_digest = painters_digest(self.painters)
            key = painting_key(photo, cfg, given, self._painters_digest)
            saved = load_checkpoint(checkpoint, key) if resume else None
        if saved is not None:
            cfg = cfg.updated(level_steps=saved.level_steps)
            levels = saved.plan
        else:
            levels, cfg = self._plan(h, w, cfg, backend.real, painting if refined is None else given, refined)
        budget_left = None if cfg.time_budget is None else cfg.time_budget - (time.perf_counter() - t_plan)

        # 5. the levels (after those a checkpoint holds, told to the backend again as they were committed)
        rng = np.random.default_rng(cfg.seed)
        optimisers = {b: LevelOptimiser(p, self.loss, cfg, self.device) for b, p in self.painters.items()}
        stats: list[LevelStats] = []
        continued, ends = len(painting), []
        if saved is not None:
            for i in range(saved.done):
                backend.commit(saved.level(i), None)
            painting, ends = saved.strokes, list(saved.level_ends)
            rng.bit_generator.state = saved.rng_state
            stats = [LevelStats(**d) for d in saved.stats]
            if progress:
                note_to_stderr(f"resuming {name} after level {saved.done}/{len(levels)} ({len(painting)} strokes)")
        # the predicted work of each level, for the share done and the ETA (the pace so far scales it)
        costs = [level_seconds(lv, h, w, 1.0, cfg, backend.real) for lv in levels]
        t_paint = time.perf_counter() - (saved.seconds if saved is not None else 0.0)
        last_preview = [t_paint]

        def share_done(k: int, inside: float = 0.0) -> float:
            return (sum(costs[:k]) + inside * costs[k]) / max(1e-9, sum(costs)) if k < len(costs) else 1.0

        for k, level in enumerate(levels):
            if saved is not None and k < saved.done:
                continue
            t0 = time.perf_counter()
            clock = LevelClock(level.steps, None)
            if budget_left is not None:  # this level's share of what is left, less the per-stroke work
                rest = levels[k:]
                spent = time.perf_counter() - t_paint
                fixed = self.unit() * sum(stroke_cost(lv, cfg, backend.real) for lv in rest)
                left = max(0.0, budget_left - spent - fixed)
                clock = LevelClock(None, split_budget(rest, h, w, left, cfg)[0])
            on_step = None
            if on_progress is not None:

                def on_step(step: int, total: int | None, work: torch.Tensor, k: int = k) -> None:
                    now = time.perf_counter()
                    preview = None
                    if now - last_preview[0] >= PREVIEW_SECONDS:  # the painter's view, mid-level
                        last_preview[0] = now
                        full = F.interpolate(work[None], size=(h, w), mode="bilinear", align_corners=False)[0]
                        preview = full.clamp(0, 1).permute(1, 2, 0).cpu().numpy()
                    inside = step / total if total else 0.0
                    on_progress(Progress(k, len(levels), step, total, now - t_paint, preview=preview,
                                         work=share_done(k, inside)))  # fmt: skip

            new, st = optimisers[level.brush](
                level, target, backend, painting, rng, detail=k > 0 or continued > 0, clock=clock,
                label=f"{k + 1}/{len(levels)}", progress=progress, on_step=on_step,
                start=refined[level.index][1] if refined is not None and level.index in refined else None,
            )  # fmt: skip
            t1 = time.perf_counter()
            new = backend.commit(new, target)
            trim()  # the engine's tiles and the refit's temporaries, back to the system (allocator.trim)
            st.commit_seconds = time.perf_counter() - t1
            st.seconds = time.perf_counter() - t0
            stats.append(st)
            painting = painting.concat(new)
            ends.append(len(painting))
            if checkpoint is not None:
                save_checkpoint(checkpoint, Checkpoint(
                    key, levels, cfg.level_steps, painting, continued, ends, rng.bit_generator.state,
                    [vars(s) for s in stats], time.perf_counter() - t_paint,
                ))  # fmt: skip
            done = Progress(k + 1, len(levels), 0, None, time.perf_counter() - t_paint, None, len(painting),
                            work=share_done(k + 1))  # fmt: skip
            if progress and len(levels) > 1:
                note_to_stderr(level_line(done, strokes_total=sum(lv.strokes for lv in levels) + continued))
            if on_progress is not None:
                done.image = backend.image.permute(1, 2, 0).cpu().numpy()
                on_progress(done)
        t0 = time.perf_counter()
        painting = backend.finish(painting, target)  # real brush: all colours refitted at once
        timings["finish"] = time.perf_counter() - t0
        timings["paint"] = time.perf_counter() - t_paint
        timings["total"] = time.perf_counter() - t_start

        # 6. the result
        return Painting(
            image=backend.image.permute(1, 2, 0).cpu().numpy(), target=photo, strokes=painting,
            painter=self.painter, painters=self.painters, real=backend.real, name=name, timings=timings,
            coverage=getattr(backend, "coverage_boxes", None), level_layers=getattr(backend, "level_layers", None),
            levels=[{k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(s).items()} for s in stats],
            notes=notes,
        )  # fmt: skip

    def _plan(
        self, h: int, w: int, cfg: PaintConfig, real: bool, painting: StrokeList, refined: dict | None = None
    ) -> tuple[list, PaintConfig]:
        """The levels of a painting on `painting` (empty, or strokes to continue) and the config with the
        steps a time budget chose. Refining, the levels of `painting` come first (`refined`), then new
        ones only for a stroke count given."""
        if refined is not None:
            levels = [lv for lv, _ in refined.values()]
            if cfg.strokes is None:
                return levels, cfg
            more, cfg = self._plan(h, w, cfg, real, painting)
            return levels + more, cfg
        first = int(painting.levels.max()) + 1 if len(painting) else 0
        finest = int(round(float(painting.windows[:, 2].min()))) if len(painting) else None
        by_budget = cfg.strokes is None and cfg.time_budget is not None
        if by_budget:  # a budget alone: the cost model plans
            strokes, steps = plan_for_budget(h, w, 0.9 * cfg.time_budget, cfg, self.unit(), real)
            cfg = cfg.updated(level_steps=steps)
        else:
            strokes = cfg.strokes if cfg.strokes is not None else DEFAULT_STROKES
        levels = plan_levels(h, w, strokes, cfg, cfg.steps, first_index=first, max_window=finest,
                             cover=by_budget and finest is None)  # fmt: skip
        if finest is not None and len(self.brushes) > len(levels):
            # continuing (a film's next frame) adds only the finest levels: each gets the brush its
            # window has in a fresh painting's plan (a film painted dry-then-wet goes on wet)
            windows = [win for win, _, _ in level_windows(h, w, cfg)]
            k = len(self.brushes)
            by_window = {win: self.brushes[i * k // len(windows)] for i, win in enumerate(windows)}
            return [dataclasses.replace(lv, brush=by_window.get(lv.window, self.brushes[-1])) for lv in levels], cfg
        return assign_brushes(levels, self.brushes), cfg

    def unit(self) -> float:
        """Seconds of one stroke's painter forward + backward here (measured once, for time budgets)."""
        if self._unit is None:
            self._unit = measure_unit(self.painter, self.device)
        return self._unit


def paint(
    image: ImageSource,
    config: PaintConfig | None = None,
    *,
    init: str | os.PathLike | StrokeList | None = None,
    painter: str | os.PathLike | Painter | None = None,
    progress: bool = True,
    name: str | None = None,
    **settings: Any,
) -> Painting:
    """Paint one image with brushstrokes: `PaintPipeline(config or PaintConfig(**settings))(image)`.

    `settings` are `PaintConfig` fields: strokes, size, brush, seed, steps, time_budget, engine,
    min_stroke, max_stroke, loss, device, ... For several images build a `PaintPipeline` once.
    Raises BrushworkError (one line) for a bad argument, image or brush.
    """
    if config is not None and settings:
        config = config.updated(**settings)
    elif config is None:
        try:
            config = PaintConfig(**settings)
        except TypeError as e:  # an unknown keyword: say which settings exist
            raise BrushworkError(f"{e}; paint settings are PaintConfig fields") from None
    pipe = PaintPipeline(config, painter=painter)
    return pipe(image, init=init, name=name, progress=progress)


def load_frozen_painter(brush: str, painter: str | os.PathLike | Painter | None, device: torch.device) -> Painter:
    """The frozen painter: given, from a file, or the brush's shipped one; brushes checked by name."""
    from brushwork.engine.brushes import brush_dirs, require_learnable, resolve_brush
    from brushwork.models.painter import load_painter

    # With MyPaint's brush files installed, an unknown or unpaintable brush is an error; without them
    # we can still paint through the painter.
    if brush_dirs():
        require_learnable(resolve_brush(brush))
    if isinstance(painter, Painter):
        model = painter
    elif painter is not None:
        model = Painter.from_pretrained(painter, device=device)
    else:
        model = load_painter(brush, device=device)
    trained_for = (getattr(model, "metadata", None) or {}).get("brush")
    if trained_for and trained_for != brush and not str(brush).endswith(".myb"):
        raise BrushworkError(
            f"that painter was trained for brush {trained_for!r}, not {brush!r}; pass --brush {trained_for}"
        )
    model = model.to(device).eval()
    model.requires_grad_(False)
    # channels_last: the painter's convs run about twice as fast on CPU in this layout (measured).
    return model.to(memory_format=torch.channels_last)


def continue_strokes(
    init: str | os.PathLike | StrokeList, brush: str, height: int, width: int, label: str | None = None
) -> StrokeList:
    """The strokes to continue from, scaled to this canvas; their brushes must be among `brush`'s (a
    comma-separated list) and the aspect ratio the same."""
    if not isinstance(init, StrokeList | str | os.PathLike):
        raise BrushworkError(f"init must be a StrokeList or a strokes file path, got {type(init).__name__}")
    s = init if isinstance(init, StrokeList) else load_strokes(init)
    label = label or ("the init strokes" if isinstance(init, StrokeList) else str(init))
    try:
        s.validate()
    except ValueError as e:
        raise BrushworkError(f"{label}: {e}") from None
    if any(b not in split_brushes(brush) for b in s.brushes):
        raise BrushworkError(f"{label} was painted with brush {s.brush!r}, not {brush!r}; pass --brush {s.brush}")
    factor = max(height, width) / max(s.width, s.height)
    scaled = s.scaled(factor)
    if abs(scaled.width - width) > 1 or abs(scaled.height - height) > 1:
        raise BrushworkError(
            f"{label} was painted on a {s.width}x{s.height} canvas, whose shape differs from this image's "
            f"{width}x{height}; continue it with the same image"
        )
    return StrokeList(s.brushes, width, height, s.background, scaled.actions, scaled.windows, scaled.levels,
                      scaled.brush_ids)  # fmt: skip


__all__ = ["PaintPipeline", "Progress", "continue_strokes", "load_frozen_painter", "paint", "resolve_device"]
