"""The canvas under the level being painted: the real brush's painting, or the painter's.

A backend holds the painting of every finished level and is told each finished level (`commit`):
- `EngineBackend` (the default when libmypaint is there): the real brush paints the level's strokes
  onto the painting (`brushwork.engine.EngineCanvas`, at the canvas resolution), after refitting the
  level's colours exactly against the real composite (`brushwork.painting.refit`). The next level is placed
  and optimised against that real painting, so it corrects what the painter got wrong. It also gives
  the real coverage of strokes at a work window (`coverage`) for straight-through forward passes.
- `NeuralBackend`: the painter's composite (no libmypaint needed, `--no-engine`).

`image` is the painting so far, (3, H, W) float32 in [0, 1] on the painting's device.

Wet (smudging) brushes: the real brush paints their strokes over the painting itself, in order
(`EngineCanvas.paint`). Their colours are not refitted: what a wet stroke lays is not linear in its
colour (it mixes the brush's colour with the paint it picks up), so the colours the optimiser fitted
through the wet painter, against the real painting under the level, are kept; and the final joint
refit, which recomposites coverages with new colours, is skipped for a painting with wet strokes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torch import Tensor

from brushwork import actions as A
from brushwork.models.painter import Painter
from brushwork.painting.canvas import composite_strokes
from brushwork.painting.refit import refit_colors
from brushwork.painting.strokes import StrokeList

if TYPE_CHECKING:
    from brushwork.engine import EngineCanvas


@torch.no_grad()
def painter_alphas(painter: Painter, actions: Tensor) -> Tensor:
    """(N, 12) -> (N, 1, 64, 64) float32 coverage, no grad (the painter runs large N in chunks itself)."""
    return painter.alpha(actions.to(next(painter.parameters()).device)).float()


Painters = Painter | Mapping[str, Painter]  # one painter, or one per brush name (several brushes)


@torch.no_grad()
def strokes_painter_alphas(painters: Painters, strokes: StrokeList) -> Tensor:
    """(N, 1, 64, 64) each stroke's coverage by its own brush's painter (`painters` by brush name)."""
    if isinstance(painters, Painter):
        painters = dict.fromkeys(strokes.brushes, painters)
    missing = [b for b in strokes.brushes if b not in painters]
    if missing:
        raise ValueError(f"no painter for brush {missing[0]!r} (have {', '.join(painters)})")
    first = painters[strokes.brushes[0]]
    acts = torch.from_numpy(strokes.actions).to(next(first.parameters()).device)
    if len(strokes.brushes) == 1:
        return painter_alphas(first, acts)
    size = first.config.out_size
    out = acts.new_zeros((len(acts), 1, size, size))
    for i, brush in enumerate(strokes.brushes):
        idx = torch.from_numpy(np.flatnonzero(strokes.brush_ids == i)).to(acts.device)
        if len(idx):
            out[idx] = painter_alphas(painters[brush], acts[idx])
    return out


def is_wet(brush: str) -> bool:
    """True for a smudging brush (its strokes depend on the paint under them)."""
    from brushwork.engine import resolve_brush

    return resolve_brush(brush).wet


def _painter_of(painters: Painters, brush: str) -> Painter:
    return painters if isinstance(painters, Painter) else painters[brush]


@torch.no_grad()
def composite_wet(canvas: Tensor, painter: Painter, actions: Tensor, windows: Tensor, alpha: Tensor) -> Tensor:
    """Paint wet strokes one after the other with their painter: each sees the canvas under it.

    canvas (3, H, W), actions (N, 12), windows (N, 3) in canvas px, alpha (N, 1, 64, 64) -> (3, H, W).
    """
    from brushwork.painting.canvas import resize_alpha

    out = canvas.clone()
    h, w = out.shape[-2:]
    size = painter.config.out_size
    for i, (x0, y0, ws) in enumerate(torch.round(windows.double()).long().tolist()):
        ws = max(1, ws)
        ys = (torch.arange(y0, y0 + ws, device=out.device)).clamp(0, h - 1)
        xs = (torch.arange(x0, x0 + ws, device=out.device)).clamp(0, w - 1)
        under = resize_alpha(out[:, ys][:, :, xs][None], size)  # (1, 3, 64, 64), edges repeated
        laid = resize_alpha(painter.laid(actions[i : i + 1], under), ws)[0]  # (3, ws, ws)
        a = resize_alpha(alpha[i : i + 1], ws)[0]  # (1, ws, ws)
        xa, xb, ya, yb = max(x0, 0), min(x0 + ws, w), max(y0, 0), min(y0 + ws, h)
        if xa < xb and ya < yb:
            sl = (slice(None), slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))
            out[:, ya:yb, xa:xb] = out[:, ya:yb, xa:xb] * (1 - a[sl]) + a[sl] * laid[sl]
    return out


@torch.no_grad()
def paint_strokes(
    painter: Painters,
    strokes: StrokeList,
    canvas: Tensor | None = None,
    scale: float = 1.0,
    snapshots: list[int] | tuple[int, ...] = (),
    on_snapshot: Callable[[int, Tensor], None] | None = None,
    alpha: Tensor | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """Composite a stroke list with the painter, stroke by stroke, at `scale` times its canvas size.

    Args:
        painter: the painter, or one per brush name when the strokes use several brushes.
        canvas: (3, H, W) to paint on; default: the background colour at the scaled canvas size.
        alpha: (N, 1, 64, 64) the painter's alphas for these strokes, if already computed.
        snapshots, on_snapshot: time-lapse frames, see `composite_strokes`.

    Returns:
        The painted canvas (3, H, W) in [0, 1] and one (3, H, W) per snapshot.
    """
    any_painter = painter if isinstance(painter, Painter) else next(iter(painter.values()))
    device = next(any_painter.parameters()).device
    if canvas is None:
        h, w = max(1, round(strokes.height * scale)), max(1, round(strokes.width * scale))
        canvas = torch.tensor(strokes.background, dtype=torch.float32, device=device)[:, None, None].expand(3, h, w)
    acts = torch.from_numpy(strokes.actions).to(device)
    alpha = strokes_painter_alphas(painter, strokes) if alpha is None else alpha
    wins = torch.from_numpy(strokes.windows).to(device).double() * scale
    wet = [_painter_of(painter, b).wet for b in strokes.brushes]
    if not any(wet):
        return composite_strokes(canvas, alpha, acts[:, A.COLOR], wins, snapshots, on_snapshot)
    # wet strokes: runs of one brush in order, snapshots taken between runs and inside dry runs
    want, shots = sorted(set(int(k) for k in snapshots)), []
    ids = strokes.brush_ids
    lo = 0
    out = canvas.clone()

    def shoot(k: int, c: Tensor) -> None:
        on_snapshot(k, c) if on_snapshot is not None else shots.append(c.clone())

    if 0 in want:
        shoot(0, out)
    while lo < len(acts):
        hi = lo + 1
        while hi < len(acts) and ids[hi] == ids[lo]:
            hi += 1
        p = _painter_of(painter, strokes.brushes[ids[lo]])
        if p.wet:  # snapshots inside a wet run: paint up to each
            cuts = [k for k in want if lo < k < hi] + [hi]
            start = lo
            for k in cuts:
                out = composite_wet(out, p, acts[start:k], wins[start:k], alpha[start:k])
                start = k
                if k in want:
                    shoot(k, out)
        else:
            inner = [k - lo for k in want if lo < k <= hi]
            out, got = composite_strokes(out, alpha[lo:hi], acts[lo:hi, A.COLOR], wins[lo:hi], inner)
            for k, c in zip(inner, got, strict=True):
                shoot(lo + k, c)
        lo = hi
    return out, shots


COVERAGE_CACHE_BYTES = 512 << 20  # 2000 strokes at 512 px take ~40 MB; 8192 px canvases would take GBs
# A level whose strokes' coverage at the canvas resolution would take more is refitted on a grid
# reduced until it fits and painted by the engine a second time with its colours (`_commit_streamed`):
# a poster's coarse levels (1120 strokes of 512 px at 4096 px: ~1 GB) and fine ones (37,000 of 256 px: 10 GB).
LEVEL_COVERAGE_BYTES = 512 << 20


def layer_uint8(prem: np.ndarray) -> np.ndarray:
    """(H, W, 4) premultiplied float RGBA of a level alone -> its uint8 straight-RGBA layer."""
    from brushwork.engine.draw import premultiplied_to_straight
    from brushwork.painting.exports import as_uint8

    return as_uint8(premultiplied_to_straight(prem, np.zeros(3, np.float32)))


def changed_layer(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """A wet level's uint8 layer: the painting after it where its pixels (as uint8) changed, else clear."""
    from brushwork.painting.exports import as_uint8

    b8, a8 = as_uint8(before), as_uint8(after)
    changed = np.any(b8 != a8, axis=-1, keepdims=True)
    after_f = a8.astype(np.float32) / 255.0
    return as_uint8(np.concatenate([after_f * changed, changed.astype(np.float32)], axis=-1))


def coverage_bytes(windows: np.ndarray, width: int, height: int) -> int:
    """An upper bound on the float32 bytes of the real coverage of strokes in (N, 3) windows on a
    width x height canvas (a stroke's paint lies in its window, cropped to the canvas)."""
    w = np.asarray(windows, np.float64).reshape(-1, 3)[:, 2]
    return int(4 * (np.minimum(w, width) * np.minimum(w, height)).sum())


class Backend(Protocol):
    """What the level optimiser needs of the painting under a level."""

    real: bool  # True: `image` is the real brush's painting and `coverage` gives real strokes
    image: Tensor  # (3, H, W) in [0, 1]

    def coverage(self, actions: Tensor, size: int, brush: str) -> Tensor | None: ...

    def commit(self, level: StrokeList, target: Tensor | None) -> StrokeList: ...

    def finish(self, painting: StrokeList, target: Tensor) -> StrokeList: ...


class NeuralBackend:
    """The painting as the painter sees it: every level composited with its brush's painter's coverage."""

    real = False

    def __init__(self, painter: Painters, strokes: StrokeList, device: torch.device) -> None:
        self.painter = painter
        bg = torch.tensor(strokes.background, dtype=torch.float32, device=device)[:, None, None]
        self.image = bg.expand(3, strokes.height, strokes.width).contiguous()
        if len(strokes):
            self.commit(strokes, None)

    def coverage(self, actions: Tensor, size: int, brush: str) -> Tensor | None:
        return None  # no real brush: the forward pass is the painter's

    def commit(self, level: StrokeList, target: Tensor | None) -> StrokeList:
        self.image, _ = paint_strokes(self.painter, level, self.image)
        return level

    def finish(self, painting: StrokeList, target: Tensor) -> StrokeList:
        return painting  # the painter's colours are what the optimiser found


class EngineBackend:
    """The painting as the real brush paints it, at the canvas resolution (`EngineCanvas`).

    Each stroke is painted with its own brush (`StrokeList.brush_ids`): a painting may mix brushes.

    Args:
        strokes: the painting so far (its brushes, canvas size, background, and any strokes to continue).
        refit: refit each committed level's colours against the real composite before painting it.
        coverage: the real coverage of `strokes` at the canvas resolution, if the caller has it (one
            box per stroke, as `EngineCanvas.alphas` gives): reused instead of painting them again.
        refit_init: the final joint refit also changes the colours of the strokes continued from
            (a video frame whose strokes carry over: their colours follow the new frame).
        hold: with refit_init, how strongly those strokes keep to the colours they came with.
    """

    real = True

    def __init__(
        self,
        strokes: StrokeList,
        device: torch.device,
        refit: bool = True,
        coverage: list | None = None,
        refit_init: bool = False,
        hold: float = 0.0,
    ) -> None:
        from brushwork.engine import EngineCanvas, resolve_brush

        for brush in strokes.brushes:
            resolve_brush(brush)  # raises BrushworkError without libmypaint's brushes
        if coverage is not None and len(coverage) != len(strokes):
            raise ValueError(f"need one coverage box per stroke: {len(coverage)} boxes for {len(strokes)} strokes")
        self.device = device
        self.refit = refit
        self.canvas = EngineCanvas(strokes.width, strokes.height, None, strokes.background)
        # every stroke's real coverage at the canvas resolution, in painting order: the outputs (video
        # frames, OpenRaster layers) composite these again instead of asking the engine twice
        self.coverage_boxes: list | None = []
        too_big = (
            coverage is None and coverage_bytes(strokes.windows, strokes.width, strokes.height) > LEVEL_COVERAGE_BYTES
        )
        if too_big or any(is_wet(b) for b in strokes.brushes):  # wet strokes paint over what is under them
            self.canvas.paint(strokes.actions, strokes.windows, strokes.stroke_brushes())
            self.coverage_boxes = None
        else:
            if coverage is None:
                coverage = self.canvas.alphas(strokes.actions, strokes.windows, strokes.stroke_brushes())
            self.canvas.composite(coverage, strokes.actions[:, A.COLOR])
            self._keep(list(coverage))
        self.image = self._read()
        # each level's OpenRaster layer, uint8 straight RGBA, made as the level is painted (the outputs
        # then need not paint the strokes again); None when strokes are continued or colours refitted
        self.level_layers: list[np.ndarray] | None = [] if len(strokes) == 0 else None
        # strokes before `first` are an earlier painting's: kept as they are, or their colours refitted too
        self.first = 0 if refit_init else len(strokes)
        self.continued = len(strokes)
        self.hold = hold  # with refit_init: the continued strokes' pull toward their colours (refit_colors)
        self.base = self.image if not refit_init else self._background()  # the painting under the refitted strokes

    def _keep(self, boxes: list) -> None:
        """Keep coverages for the outputs while they take at most COVERAGE_CACHE_BYTES, else none."""
        if self.coverage_boxes is None:
            return
        self.coverage_boxes += boxes
        if sum(a.nbytes for _, _, a in self.coverage_boxes) > COVERAGE_CACHE_BYTES:
            self.coverage_boxes = None  # a huge canvas: the outputs ask the engine again

    def _background(self) -> Tensor:
        bg = torch.tensor(self.canvas.background, dtype=torch.float32, device=self.device)[:, None, None]
        return bg.expand(3, self.canvas.height, self.canvas.width).contiguous()

    def _read(self) -> Tensor:
        return torch.from_numpy(self.canvas.image()).permute(2, 0, 1).contiguous().to(self.device)

    def coverage(self, actions: Tensor, size: int, brush: str) -> Tensor:
        """(N, 12) -> (N, 1, size, size) the real `brush`'s coverage of each stroke in a size px window."""
        from brushwork.engine import render

        rgba = render(actions.detach().float().cpu().numpy(), brush, size=size)
        return torch.from_numpy(rgba[..., 3]).unsqueeze(1).to(self.device)

    def commit(self, level: StrokeList, target: Tensor | None) -> StrokeList:
        """Paint a finished level with the real brush (colours refitted first); returns its final strokes."""
        if any(is_wet(b) for b in level.brushes):  # painted over the painting; colours kept (module docstring)
            before = self.image
            self.canvas.paint(level.actions, level.windows, level.stroke_brushes())
            self.coverage_boxes = None  # the outputs paint again: a wet stroke is no coverage and colour
            self.image = self._read()
            if self.level_layers is not None:
                hwc = [im.permute(1, 2, 0).cpu().numpy() for im in (before, self.image)]
                self.level_layers.append(changed_layer(*hwc))
            return level
        if coverage_bytes(level.windows, level.width, level.height) > LEVEL_COVERAGE_BYTES:
            return self._commit_streamed(level, target)
        # the engine paints each stroke once, with its brush
        boxes = self.canvas.alphas(level.actions, level.windows, level.stroke_brushes())
        if self.refit and target is not None and len(level):
            under = self.image.permute(1, 2, 0).cpu().numpy()
            colors = refit_colors(target.permute(1, 2, 0).cpu().numpy(), under, boxes, level.actions[:, A.COLOR])
            actions = level.actions.copy()
            actions[:, A.COLOR] = colors
            level = level.replace_actions(actions)
        self.canvas.composite(boxes, level.actions[:, A.COLOR])
        layer = self._new_layer()
        if layer is not None:
            layer.composite(boxes, level.actions[:, A.COLOR])
        self._keep_layer(layer)
        self._keep(boxes)
        self.image = self._read()
        return level

    def _new_layer(self) -> EngineCanvas | None:
        """A transparent canvas for a level's layer, or None when layers are not kept."""
        from brushwork.engine import EngineCanvas

        if self.level_layers is None:
            return None
        return EngineCanvas(self.canvas.width, self.canvas.height, None, self.canvas.background)

    def _keep_layer(self, layer: EngineCanvas | None) -> None:
        if layer is not None:
            self.level_layers.append(layer_uint8(layer.prem))

    def _commit_streamed(self, level: StrokeList, target: Tensor | None) -> StrokeList:
        """`commit` in bounded memory: the level's coverage is taken a chunk at a time (`coverage_chunks`) and
        kept box-filtered by m, the smallest factor that fits LEVEL_COVERAGE_BYTES; the colours are
        refitted on that grid against the target and the painting reduced alike; then the engine
        paints the level again with them (twice the engine's time for this level, no coverage kept:
        the joint refit and the outputs paint from the strokes)."""
        from brushwork.engine.draw import coverage_chunks
        from brushwork.painting.canvas import reduce
        from brushwork.painting.refit import reduce_box

        self.coverage_boxes = None
        brushes = level.stroke_brushes()
        chunks = coverage_chunks(level.windows, level.width, level.height)
        if self.refit and target is not None and len(level):
            need = coverage_bytes(level.windows, level.width, level.height)
            m = max(1, math.ceil(math.sqrt(need / LEVEL_COVERAGE_BYTES)))
            small: list = []
            for a, b in chunks:
                boxes = self.canvas.alphas(level.actions[a:b], level.windows[a:b], brushes[a:b])
                small += [reduce_box(box, m) for box in boxes]
            colors = refit_colors(reduce(target, m).permute(1, 2, 0).cpu().numpy(),
                                  reduce(self.image, m).permute(1, 2, 0).cpu().numpy(),
                                  small, level.actions[:, A.COLOR])  # fmt: skip
            actions = level.actions.copy()
            actions[:, A.COLOR] = colors
            level = level.replace_actions(actions)
        layer = self._new_layer()
        for a, b in chunks:  # the engine paints the level again, with its colours
            boxes = self.canvas.alphas(level.actions[a:b], level.windows[a:b], brushes[a:b])
            self.canvas.composite(boxes, level.actions[a:b, A.COLOR])
            if layer is not None:
                layer.composite(boxes, level.actions[a:b, A.COLOR])
        self._keep_layer(layer)
        self.image = self._read()
        return level

    def finish(self, painting: StrokeList, target: Tensor) -> StrokeList:
        """Refit the colours of all new strokes jointly against the real composite, the last step.

        Each level's refit saw only the painting under it; the strokes of later levels cover parts of
        earlier ones, so the best colours of the whole painting differ a little. Needs the coverage of
        every stroke (kept unless the canvas is huge; otherwise the painting is returned unchanged).
        """
        boxes = self.coverage_boxes
        if not self.refit or boxes is None or len(boxes) != len(painting) or len(painting) == self.continued:
            return painting
        hold = None
        if self.hold > 0 and self.first < self.continued:  # the continued strokes keep to their colours
            hold = np.zeros(len(painting) - self.first)
            hold[: self.continued - self.first] = self.hold
        colors = refit_colors(
            target.permute(1, 2, 0).cpu().numpy(), self.base.permute(1, 2, 0).cpu().numpy(),
            boxes[self.first :], painting.actions[self.first :, A.COLOR], hold=hold,
        )  # fmt: skip
        actions = painting.actions.copy()
        actions[self.first :, A.COLOR] = colors
        painting = painting.replace_actions(actions)
        self.level_layers = None  # every level's colours changed: the outputs composite the kept coverage
        from brushwork.engine import EngineCanvas

        self.canvas = EngineCanvas(painting.width, painting.height, None, painting.background)
        self.canvas.composite(boxes, painting.actions[:, A.COLOR])
        self.image = self._read()
        return painting


def engine_available(brushes: str | tuple[str, ...] | list[str]) -> str | None:
    """None if the real brush can paint every one of `brushes` here, else the one-line reason it cannot."""
    from brushwork.engine import resolve_brush
    from brushwork.engine.libmypaint import lib
    from brushwork.errors import BrushworkError

    try:
        lib()
        for brush in [brushes] if isinstance(brushes, str) else brushes:
            resolve_brush(brush)
    except BrushworkError as e:
        return str(e)
    return None


__all__ = ["LEVEL_COVERAGE_BYTES", "Backend", "EngineBackend", "NeuralBackend", "Painters", "composite_wet",
           "coverage_bytes", "engine_available", "is_wet", "paint_strokes", "painter_alphas",
           "strokes_painter_alphas"]  # fmt: skip
