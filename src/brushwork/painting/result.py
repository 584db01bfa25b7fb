"""`Painting`, what painting a photo returns: the painting, its strokes, and their renderings.

`image` is the real brush's painting when the engine was in the loop (`real` is True), byte for byte
what `brushwork render strokes.json --size <canvas>` paints; otherwise the painter's canvas. Time-lapse
frames and OpenRaster layers come from the same source as `image`.

A wet (smudging) stroke changes the paint under it rather than laying a coverage of one colour, so a
wet level's layer holds the pixels the level changed, opaque, as they are after it: the layers
stacked in order still give the painting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.limits import MAX_CANVAS, MIN_WINDOW
from brushwork.metrics import psnr, ssim
from brushwork.models.painter import Painter
from brushwork.painting.backends import paint_strokes, strokes_painter_alphas
from brushwork.painting.canvas import composite_strokes
from brushwork.painting.strokes import StrokeList


def render_engine(strokes: StrokeList, size: int | None = None, brush: str | None = None) -> np.ndarray:
    """Paint a stroke list with libmypaint at long side `size` (default: its canvas) -> (h, w, 3) float32.

    Each stroke is painted with its own brush, or every stroke with `brush` when given.

    Raises BrushworkError (one line) if libmypaint or the brush is missing, the brush is one brushwork
    cannot model (it erases, locks alpha, ...), or the size is out of range.
    """
    from brushwork.engine import render_canvas, require_learnable, resolve_brush

    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or not MIN_WINDOW <= size <= MAX_CANVAS
    ):
        raise BrushworkError(f"render size must be an integer from {MIN_WINDOW} to {MAX_CANVAS} px, got {size!r}")
    try:
        strokes.validate()
    except ValueError as e:
        raise BrushworkError(f"cannot render these strokes: {e}") from None
    for name in [brush] if brush else strokes.brushes:
        require_learnable(resolve_brush(name))

    scale = 1.0 if size is None else size / max(strokes.width, strokes.height)
    return render_canvas(
        strokes.actions, strokes.windows, strokes.width, strokes.height,
        brush=brush or strokes.stroke_brushes(), background=strokes.background, scale=scale,
    )  # fmt: skip


NEURAL_CHUNK = 8192  # strokes whose painter alphas `neural_image` holds at once (64,000 of them: 1 GB)


def _scale_for(strokes: StrokeList, size: int | None) -> float:
    return 1.0 if size is None else min(1.0, size / max(strokes.width, strokes.height))


@dataclass
class Painting:
    """A finished painting. Arrays are (H, W, 3) float32 in [0, 1] at the canvas size."""

    image: np.ndarray  # the painting: the real brush's (real=True) or the painter's
    target: np.ndarray  # the photo at the canvas size
    strokes: StrokeList
    painter: Painter  # the first brush's painter (`painters` holds one per brush)
    real: bool = False  # True: `image` was painted by libmypaint
    name: str = "image"  # the photo's file stem, for folders and messages
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    levels: list[dict] = field(default_factory=list)  # per level: window, strokes, steps, seconds, loss
    notes: list[str] = field(default_factory=list)
    # the real brush's coverage of every stroke at the canvas size, (x, y, alpha (h, w)) in painting
    # order, as the engine painted them (real paintings): frames and layers reuse them
    coverage: list[tuple[int, int, np.ndarray]] | None = field(default=None, repr=False)
    painters: dict[str, Painter] | None = field(default=None, repr=False)  # by brush; None: `painter` for all
    # each level's layer as the real brush painted it, uint8 straight RGBA (`EngineBackend.level_layers`)
    level_layers: list[np.ndarray] | None = field(default=None, repr=False)
    _alpha: torch.Tensor | None = field(default=None, repr=False)  # (N, 1, 64, 64) painter alphas, cached
    _neural: np.ndarray | None = field(default=None, repr=False)

    @property
    def psnr(self) -> float:
        """PSNR of the painting against the photo, dB."""
        return psnr(self.image, self.target)

    @property
    def ssim(self) -> float:
        """SSIM of the painting against the photo."""
        return ssim(self.image, self.target)

    def alphas(self) -> torch.Tensor:
        """(N, 1, 64, 64) each stroke's coverage by its brush's painter (computed once, then cached)."""
        if self._alpha is None or len(self._alpha) != len(self.strokes):
            self._alpha = strokes_painter_alphas(self.painters or self.painter, self.strokes)
        return self._alpha

    def neural_image(self) -> np.ndarray:
        """(H, W, 3) the same strokes composited by the painter (the optimiser's view of them)."""
        if not self.real:
            return self.image
        if self._neural is None:
            s, painters = self.strokes, self.painters or self.painter
            if self._alpha is not None and len(self._alpha) == len(s):  # the painter's alphas, computed already
                canvas, _ = paint_strokes(painters, s, alpha=self._alpha)
            else:  # the alphas of NEURAL_CHUNK strokes at a time
                canvas = None
                for lo in range(0, max(len(s), 1), NEURAL_CHUNK):
                    canvas, _ = paint_strokes(painters, s[lo : lo + NEURAL_CHUNK], canvas=canvas)
            self._neural = canvas.permute(1, 2, 0).cpu().numpy()
        return self._neural

    def render_engine(self, size: int | None = None, brush: str | None = None) -> np.ndarray:
        """The strokes painted by the real brush: (h, w, 3) float32 at long side `size`."""
        return render_engine(self.strokes, size=size, brush=brush)

    def save(self, out_dir: str | os.PathLike, **kwargs: Any) -> Any:
        """Write every output into `out_dir`: see `brushwork.painting.outputs.save_outputs`."""
        from brushwork.painting.outputs import save_outputs

        return save_outputs(self, out_dir, **kwargs)

    def frames(self, counts: list[int], size: int | None = None) -> list[np.ndarray]:
        """Time-lapse frames: (h, w, 3) uint8 paintings after each of `counts` strokes, long side <= `size`."""
        from brushwork.painting.exports import as_uint8

        s = self.strokes
        scale = _scale_for(s, size)
        if self.real:
            from brushwork.engine import EngineCanvas

            canvas = EngineCanvas(s.width, s.height, None, s.background, scale)
            reuse = self._coverage_ok() and scale == 1.0
            brushes = s.stroke_brushes()
            frames, done = [], 0
            for k in counts:
                if k > done and reuse:
                    canvas.composite(self.coverage[done:k], s.actions[done:k, A.COLOR])
                elif k > done:  # paint (wet strokes over what is under them)
                    canvas.paint(s.actions[done:k], s.windows[done:k], brushes[done:k])
                if k > done:
                    done = k
                frames.append(as_uint8(canvas.image()))
            return frames
        out: list[np.ndarray] = []

        def keep(_: int, c: torch.Tensor) -> None:
            out.append(as_uint8(c.permute(1, 2, 0).cpu().numpy()))

        paint_strokes(self.painters or self.painter, s, scale=scale, snapshots=counts, on_snapshot=keep,
                      alpha=self.alphas())  # fmt: skip
        return out

    def layers(self, uint8: bool = False) -> tuple[list[np.ndarray], list[str]]:
        """One (H, W, 4) straight-alpha RGBA layer per level: its strokes over a transparent layer.

        float32 in [0, 1], or `uint8` (what the OpenRaster file holds: a quarter of the memory, which a
        poster's seven 4096 px layers need: 1.2 GB as floats).
        """
        from brushwork.painting.backends import changed_layer, is_wet
        from brushwork.painting.exports import as_uint8

        s = self.strokes
        out, names = [], []
        levels = np.unique(s.levels)
        made = self.level_layers if self.level_layers is not None and len(self.level_layers) == len(levels) else None
        wet_levels = [any(is_wet(s.brushes[b]) for b in np.unique(s.brush_ids[s.levels == lv])) for lv in levels]
        if any(wet_levels) and made is None:  # the painting before each level: a wet level's layer is what it changed
            counts = [0] + [int(np.flatnonzero(s.levels <= lv).max()) + 1 for lv in levels]
            stages = self.frames(counts)  # uint8
        for i, level in enumerate(levels):
            idx = np.flatnonzero(s.levels == level)
            if made is not None or wet_levels[i]:  # uint8: made as the level was painted, or what it changed
                layer = made[i] if made is not None else changed_layer(stages[i], stages[i + 1])
                out.append(layer if uint8 else layer.astype(np.float32) / 255.0)
            else:
                layer = self._real_layer(idx) if self.real else self._painter_layer(idx)
                out.append(as_uint8(layer) if uint8 else layer)
            brushes = ", ".join(s.brushes[b] for b in np.unique(s.brush_ids[idx]))
            names.append(f"level {int(level)} ({len(idx)} strokes, {int(s.windows[idx[0], 2])} px, {brushes})")
        return out, names

    def _coverage_ok(self) -> bool:
        return self.coverage is not None and len(self.coverage) == len(self.strokes)

    def _real_layer(self, idx: np.ndarray) -> np.ndarray:
        from brushwork.engine import EngineCanvas
        from brushwork.engine.draw import premultiplied_to_straight

        s = self.strokes
        canvas = EngineCanvas(s.width, s.height, None, s.background)
        if self._coverage_ok():
            canvas.composite([self.coverage[i] for i in idx], s.actions[idx][:, A.COLOR])
        else:  # painted in chunks: a level's coverage at once may not fit (a poster's coarse levels: GBs)
            canvas.paint(s.actions[idx], s.windows[idx], s[idx].stroke_brushes())
        return premultiplied_to_straight(canvas.premultiplied(), np.zeros(3, np.float32))

    def _painter_layer(self, idx: np.ndarray) -> np.ndarray:
        s = self.strokes
        device = next(self.painter.parameters()).device
        acts = torch.from_numpy(s.actions[idx]).to(device)
        # Premultiplied RGBA: composite colour (r, g, b, 1); the alpha channel then accumulates coverage.
        color = torch.cat([acts[:, A.COLOR], torch.ones(len(acts), 1, device=device)], dim=1)  # (n, 4)
        wins = torch.from_numpy(s.windows[idx]).to(device)
        layer, _ = composite_strokes(torch.zeros(4, s.height, s.width, device=device),
                                     self.alphas()[torch.from_numpy(idx)], color, wins)  # fmt: skip
        a = layer[3:4]
        rgb = torch.where(a > 0, layer[:3] / a.clamp(min=1e-6), torch.zeros_like(layer[:3])).clamp(0, 1)
        return torch.cat([rgb, a.clamp(0, 1)]).permute(1, 2, 0).cpu().numpy()


__all__ = ["Painting", "render_engine"]
