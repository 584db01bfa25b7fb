"""Painting actions with the real MyPaint engine.

`render(actions, brush, size)` paints each stroke alone in a size x size window and returns
straight RGBA; `render_canvas(...)` paints a whole stroke list, each stroke in its own window
placed on one large canvas (the "real brush" re-render of a painting).

Resolution independence: a stroke painted at window size w has its coordinates scaled by w,
its radius by w/64 (radius_logarithmic + log(w/64)) and the view zoom set to 64/w, which makes
libmypaint's speed and direction inputs (px/s x viewzoom) the same at every size.

Determinism: each stroke gets a new brush, because jittery brushes keep their random state
between strokes and `mypaint_brush_reset` does not reseed it. A new brush is always seeded the
same, so a stroke's pixels do not depend on what was painted before it or in which process.

Blending: the brush's `paint_mode` (pigment mixing, libmypaint >= 1.5) is set to 0, the normal
"over" blending of libmypaint 1.3 that painted the Kaggle data set, so that a stroke composites
as canvas * (1 - alpha) + alpha * colour.
"""

from __future__ import annotations

import colorsys
import contextlib
import functools
import json
import math
import os
from collections.abc import Callable, Iterator

import numpy as np

from brushwork import actions as A
from brushwork.engine.brushes import BrushInfo, resolve_brush
from brushwork.engine.libmypaint import ONE, TILE, Brush, Surface, hold_signals, lib
from brushwork.engine.stroke import pen_path
from brushwork.errors import BrushworkError

# one brush for every stroke, or a sequence of one brush per stroke (paintings with several brushes)
BrushSpec = str | os.PathLike | BrushInfo | list | tuple


def _brush_info(brush: str | os.PathLike | BrushInfo) -> BrushInfo:
    return brush if isinstance(brush, BrushInfo) else resolve_brush(brush)


def _stroke_infos(brush: BrushSpec, n: int) -> list[BrushInfo]:
    """One BrushInfo per stroke from one brush or a list of N (each distinct brush resolved once)."""
    if not isinstance(brush, list | tuple):
        return [_brush_info(brush)] * n
    if all(isinstance(b, BrushInfo) for b in brush) and len(brush) == n:
        return list(brush)
    if len(brush) != n:
        raise ValueError(f"need one brush per stroke: {len(brush)} brushes for {n} strokes")
    keys = [b if isinstance(b, BrushInfo) else str(b) for b in brush]
    infos: dict = {}
    for key, b in zip(keys, brush, strict=True):  # not setdefault(key, _brush_info(b)): that reads the .myb each time
        if key not in infos:
            infos[key] = _brush_info(b)
    return [infos[key] for key in keys]


def _draw(info: BrushInfo, surface: Surface, action: np.ndarray, x0: float, y0: float, w: float,
          dry: bool = False) -> None:  # fmt: skip
    """Paint one action (12,) in the square window (x0, y0, w) of `surface`.

    `dry`: a wet brush with its smudging turned off (`_dry_myb`): its dabs alone, what its coverage is.
    Signals are held for the stroke, brush freed included (`libmypaint.hold_signals`).
    """
    path = pen_path(action, w).tolist()
    h, s, v = colorsys.rgb_to_hsv(*(float(c) for c in action[A.COLOR]))
    radius = action[A.SIZE] * A.SIZE_SCALE + math.log(w / A.REFERENCE_SIZE)
    viewzoom = A.REFERENCE_SIZE / w
    stroke_to = lib().mypaint_brush_stroke_to_2
    with hold_signals():
        brush = Brush(_dry_myb(info.myb) if dry and info.wet else info.myb)
        try:
            brush.set_base_value("paint_mode", 0.0)
            brush.set_base_value("color_h", h)
            brush.set_base_value("color_s", s)
            brush.set_base_value("color_v", v)
            brush.set_base_value("radius_logarithmic", radius)
            bp, sp = brush.ptr, surface.ptr
            with surface.atomic():
                for x, y, p, dt in path:
                    stroke_to(bp, sp, x + x0, y + y0, p, 0.0, 0.0, dt, viewzoom, 0.0, 0.0)
        finally:
            brush.close()


@functools.cache
def _dry_myb(myb: bytes) -> bytes:
    """A wet brush's .myb with smudging off (base value and inputs): the same dabs, in its own colour.

    Smudging changes the colour a dab lays, not where it lays it or how opaque: over any canvas C a
    wet stroke paints C * (1 - alpha) + alpha * L with alpha this dry stroke's coverage and L a
    per-pixel colour (a mix of the brush's colour and the paint it picked up).
    """
    brush = json.loads(myb)
    brush["settings"]["smudge"] = {"base_value": 0.0, "inputs": {}}
    return json.dumps(brush).encode()


def _fill_from(image: np.ndarray, background: np.ndarray | None = None, x0: int = 0,
               y0: int = 0) -> Callable[[int, int], np.ndarray]:  # fmt: skip
    """Tiles of an image (H, W, 3) opaque RGB, or (H, W, 4) premultiplied RGBA over `background`,
    placed at surface px (x0, y0) with its edges repeated outside it: the paint a smudging brush
    picks up. -> `Surface.fill`."""
    h, w = image.shape[:2]

    def fill(tx: int, ty: int) -> np.ndarray:
        ys = np.clip(np.arange(ty * TILE, ty * TILE + TILE) - y0, 0, h - 1)
        xs = np.clip(np.arange(tx * TILE, tx * TILE + TILE) - x0, 0, w - 1)
        px = image[ys[:, None], xs[None, :]]
        rgb = px if background is None else px[..., :3] + (1.0 - px[..., 3:4]) * background
        tile = np.full((TILE, TILE, 4), ONE, np.uint16)
        tile[..., :3] = np.rint(np.clip(rgb, 0.0, 1.0) * ONE)
        return tile

    return fill


@contextlib.contextmanager
def _scratch_surface() -> Iterator[Surface]:
    """A surface for painting strokes one by one, freed with signals held when done."""
    surface = Surface()
    try:
        yield surface
    finally:
        with hold_signals():
            surface.close()


def premultiplied_to_straight(prem: np.ndarray, fill_rgb: np.ndarray | None = None) -> np.ndarray:
    """(..., 4) premultiplied RGBA -> straight RGBA; RGB where alpha is 0 becomes `fill_rgb`."""
    alpha = prem[..., 3:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        rgb = np.where(alpha > 0, prem[..., :3] / np.maximum(alpha, 1e-8), 0.0)
    if fill_rgb is not None:
        rgb = np.where(alpha > 0, rgb, fill_rgb)
    return np.concatenate([np.clip(rgb, 0.0, 1.0), alpha], axis=-1).astype(np.float32)


def render(
    actions: np.ndarray, brush: str | os.PathLike | BrushInfo = "classic/dry_brush", size: int = 64
) -> np.ndarray:
    """Paint each action alone with the real MyPaint brush.

    Args:
        actions: (N, 12) or (12,) in [0, 1], layout in `brushwork.actions`.
        brush: a brush name such as "classic/dry_brush", a .myb path, or a BrushInfo.
        size: the square window in px (64 for data; larger re-renders the stroke finer).

    Returns:
        float32 (N, size, size, 4): straight (not premultiplied) RGBA in [0, 1]; where alpha is 0
        the RGB is the action's colour. A wet (smudging) brush alone has nothing to smudge: it
        gives its coverage, its dabs with smudging off (`render_over` paints it over a canvas).

    Example:
        >>> rgba = render(np.full((1, 12), 0.5), "classic/pen", size=64)
        >>> rgba.shape
        (1, 64, 64, 4)
    """
    from brushwork.engine.brushes import require_learnable
    from brushwork.limits import MAX_CANVAS

    acts = A.check_actions(actions)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 8 <= size <= MAX_CANVAS:
        raise BrushworkError(f"size must be an integer from 8 to {MAX_CANVAS} px, got {size!r}")
    _check_memory(size * len(acts), size, 4 * 4)  # the (N, size, size, 4) result
    info = require_learnable(_brush_info(brush))  # erasing or colour-shifting brushes are refused
    out = np.empty((len(acts), size, size, 4), dtype=np.float32)
    with _scratch_surface() as surface:
        for i, action in enumerate(acts):
            surface.clear()
            _draw(info, surface, action, 0.0, 0.0, float(size), dry=True)
            out[i] = premultiplied_to_straight(surface.read(0, 0, size, size), action[A.COLOR])
    return out


def render_over(
    actions: np.ndarray, canvases: np.ndarray, brush: str | os.PathLike | BrushInfo, size: int = 64
) -> np.ndarray:
    """Paint each action over its own canvas patch with the real brush (what a wet brush needs).

    Args:
        actions: (N, 12) or (12,) in [0, 1].
        canvases: (N, C, C, 3) opaque RGB, uint8 or float in [0, 1], C >= size: the paint each stroke
            meets. The stroke's window is the centred size x size square; the rest is context the
            brush's dabs reach past the window's edge (edges repeat beyond it).
        brush: any learnable brush; a dry one gives canvas * (1 - alpha) + alpha * colour.

    Returns:
        float32 (N, size, size, 3): the window after the stroke, RGB in [0, 1].

    Example:
        >>> render_over(np.full((1, 12), 0.5), np.ones((1, 96, 96, 3)), "classic/smudge").shape
        (1, 64, 64, 3)
    """
    from brushwork.engine.brushes import require_learnable

    acts = A.check_actions(actions)
    canv = np.asarray(canvases)
    canv = canv.astype(np.float32) / 255.0 if canv.dtype == np.uint8 else canv.astype(np.float32)
    if canv.ndim != 4 or canv.shape[0] != len(acts) or canv.shape[3] != 3 or canv.shape[1] != canv.shape[2] \
            or canv.shape[1] < size:  # fmt: skip
        raise BrushworkError(f"canvases must have shape ({len(acts)}, C, C, 3) with C >= {size}, got {canv.shape}")
    info = require_learnable(_brush_info(brush))
    off = (canv.shape[1] - size) // 2
    out = np.empty((len(acts), size, size, 3), dtype=np.float32)
    with _scratch_surface() as surface:
        for i, action in enumerate(acts):
            surface.clear()
            # the window at surface px (0, 0), as `render` paints a stroke: where a stroke starts on the
            # surface changes its dabs (the brush comes from (0, 0)), so coverage and smudge then agree
            surface.fill = _fill_from(canv[i], x0=-off, y0=-off)
            _draw(info, surface, action, 0.0, 0.0, float(size))
            out[i] = surface.read(0, 0, size, size)[..., :3]
    return out


# float32 bytes per canvas px a painting holds at its peak: the premultiplied painting (4), its RGB image
# (3), one stroke's coverage read back (1, a stroke may cover the canvas) and its 15-bit tiles (2)
CANVAS_BYTES_PER_PX = 4 * (4 + 3 + 1 + 2)


def _check_memory(width: int, height: int, per_px: int = CANVAS_BYTES_PER_PX) -> None:
    """Refuse, before any work, a canvas whose arrays would not fit in the memory this process can get."""
    from brushwork.limits import available_memory

    need, free = width * height * per_px, available_memory()
    if need > free:
        raise BrushworkError(
            f"a {width}x{height} canvas needs {need / 2**30:.1f} GB and {free / 2**30:.1f} GB are free; paint smaller"
        )


# Bytes of coverage `EngineCanvas.paint` holds at once: 256 strokes of 64 px take 4 MB, but 256 of a
# poster's 2048 px strokes took 4.5 GB when chunks were counted in strokes (measured at 4096 px).
PAINT_CHUNK_BYTES = 128 << 20


def coverage_chunks(
    windows: np.ndarray, width: int, height: int, max_bytes: int = PAINT_CHUNK_BYTES
) -> list[tuple[int, int]]:
    """Consecutive (start, stop) runs of strokes whose coverage boxes on a width x height canvas take at
    most `max_bytes` of float32 together (a stroke alone may take more); `windows` (N, 3) in canvas px.

    A box is the tiles a stroke's paint touched, so at most its window plus a tile each side.
    """
    w = np.asarray(windows, np.float64).reshape(-1, 3)[:, 2] + 2 * TILE
    need = 4.0 * np.minimum(w, width) * np.minimum(w, height)
    runs, start, held = [], 0, 0.0
    for i, n in enumerate(need.tolist()):
        if i > start and held + n > max_bytes:
            runs.append((start, i))
            start, held = i, 0.0
        held += n
    if start < len(need):
        runs.append((start, len(need)))
    return runs


class EngineCanvas:
    """A painting by the real brush, painted stroke list by stroke list, in painting order.

    Each stroke is painted alone by libmypaint on a scratch surface; its coverage alpha is then
    composited onto the painting as canvas * (1 - alpha) + alpha * colour, in float32. With normal
    blending that is exactly what the brush does over a canvas (its dabs compose to one alpha that
    does not depend on the colour or on what lies under it), and it means a stroke's coverage is
    rendered once and can be reused with another colour (`alphas`, then `composite`): the painting
    pipeline refits a level's colours against the real coverage without painting the level twice.
    Painting a list in several calls gives exactly what one call gives, so a painting built level by
    level is byte-identical to `render_canvas` of its whole stroke list.

    A wet (smudging) brush's stroke depends on the paint under it, so `paint` paints it with libmypaint
    over the painting itself (its tiles start as the painting over the background, edges repeated
    past the canvas), and the pixels it changed become that paint, opaque. Its coverage from
    `alphas` is its dabs with smudging off; `composite` is for dry strokes only.

    Example:
        >>> canvas = EngineCanvas(64, 48, "classic/pen", background=(1.0, 1.0, 1.0))
        >>> canvas.paint(np.full((1, 12), 0.5), np.array([[0.0, 0.0, 48.0]]))
        >>> canvas.image().shape
        (48, 64, 3)
    """

    def __init__(
        self,
        width: int,
        height: int,
        brush: str | os.PathLike | BrushInfo | None = "classic/dry_brush",
        background: tuple[float, float, float] = (1.0, 1.0, 1.0),
        scale: float = 1.0,
    ) -> None:
        # None: no default brush, every `alphas`/`paint` call names a brush per stroke
        self.info = None if brush is None else _brush_info(brush)
        self.scale = float(scale)
        self.width, self.height = max(1, round(width * scale)), max(1, round(height * scale))
        self.background = np.asarray(background, dtype=np.float32)
        _check_memory(self.width, self.height)
        self.prem = np.zeros((self.height, self.width, 4), np.float32)  # premultiplied RGBA of the strokes
        self.strokes = 0

    def alphas(
        self, actions: np.ndarray, windows: np.ndarray, brushes: list | tuple | None = None
    ) -> list[tuple[int, int, np.ndarray]]:
        """Each stroke's real coverage on this canvas's pixel grid: [(x, y, alpha (h, w) float32), ...].

        `windows` (N, 3) are (x0, y0, w) on the unscaled canvas; `brushes` one brush per stroke
        (default: the canvas's brush). A box covers every tile the stroke touched, so it holds all of
        its paint on this canvas (boxes are cropped to it).
        """
        win = np.asarray(windows, np.float64).reshape(-1, 3) * self.scale
        if brushes is None and self.info is None:
            raise ValueError("this canvas has no brush of its own: give one brush per stroke")
        return stroke_alphas(actions, win, self.info if brushes is None else brushes, clip=(self.width, self.height))

    def composite(self, boxes: list[tuple[int, int, np.ndarray]], colors: np.ndarray) -> None:
        """Paint coverages (from `alphas`) with colours (N, 3) in [0, 1] over the painting, in order."""
        cols = np.asarray(colors, np.float32).reshape(-1, 3)
        if len(cols) != len(boxes):
            raise ValueError(f"need one colour per stroke: {len(cols)} colours for {len(boxes)} strokes")
        h, w = self.height, self.width
        for (x, y, a), c in zip(boxes, cols, strict=True):
            xa, ya, xb, yb = max(x, 0), max(y, 0), min(x + a.shape[1], w), min(y + a.shape[0], h)
            if xa >= xb or ya >= yb:
                continue
            ai = a[ya - y : yb - y, xa - x : xb - x, None]
            region = self.prem[ya:yb, xa:xb]
            region *= 1.0 - ai
            region += ai * np.append(c, np.float32(1.0))
        self.strokes += len(boxes)

    def paint(self, actions: np.ndarray, windows: np.ndarray, brushes: list | tuple | None = None) -> None:
        """Paint (N, 12) actions in their (N, 3) windows (x0, y0, w) of the unscaled canvas, in order
        (`brushes`: one per stroke, default the canvas's brush)."""
        acts = A.check_actions(actions)
        win = np.asarray(windows, dtype=np.float64)
        if win.shape != (len(acts), 3):
            raise BrushworkError(f"windows must have shape ({len(acts)}, 3), one (x0, y0, w) per action; "
                                 f"got {win.shape}")  # fmt: skip
        if brushes is None and self.info is None:
            raise ValueError("this canvas has no brush of its own: give one brush per stroke")
        infos = _stroke_infos(self.info if brushes is None else brushes, len(acts))
        lo = 0
        while lo < len(acts):  # runs of dry strokes go through their coverage; wet strokes one by one
            hi = lo + 1
            while hi < len(acts) and infos[hi].wet == infos[lo].wet:
                hi += 1
            if infos[lo].wet:
                self._paint_wet(infos[lo:hi], acts[lo:hi], win[lo:hi])
            else:  # in chunks: the coverages of a chunk are held at once, not a whole painting's
                for a, b in coverage_chunks(win[lo:hi] * self.scale, self.width, self.height):
                    a, b = lo + a, lo + b
                    self.composite(self.alphas(acts[a:b], win[a:b], infos[a:b]), acts[a:b, A.COLOR])
            lo = hi

    def _paint_wet(self, infos: list[BrushInfo], actions: np.ndarray, windows: np.ndarray) -> None:
        """Paint smudging strokes one after the other over the painting itself."""
        h, w = self.height, self.width
        with _scratch_surface() as surface:
            for info, action, (x0, y0, ws) in zip(infos, actions, windows * self.scale, strict=True):
                surface.clear()
                fill = surface.fill = _fill_from(self.prem, self.background)
                _draw(info, surface, action, x0, y0, ws)
                for (tx, ty), tile in surface.tiles.items():
                    xa, ya = max(tx * TILE, 0), max(ty * TILE, 0)
                    xb, yb = min(tx * TILE + TILE, w), min(ty * TILE + TILE, h)
                    if xa >= xb or ya >= yb:
                        continue
                    part = tile[ya - ty * TILE : yb - ty * TILE, xa - tx * TILE : xb - tx * TILE]
                    before = fill(tx, ty)[ya - ty * TILE : yb - ty * TILE, xa - tx * TILE : xb - tx * TILE]
                    changed = (part != before).any(axis=-1)  # untouched pixels keep their exact floats
                    if changed.any():
                        region = self.prem[ya:yb, xa:xb]
                        region[changed] = part[changed].astype(np.float32) * (1.0 / ONE)
        self.strokes += len(actions)

    def premultiplied(self) -> np.ndarray:
        """float32 (h, w, 4) premultiplied RGBA of the strokes alone (transparent where unpainted)."""
        return self.prem.copy()

    def image(self) -> np.ndarray:
        """float32 (h, w, 3) RGB in [0, 1]: the strokes over the background."""
        prem = self.prem
        return np.clip(prem[..., :3] + (1.0 - prem[..., 3:4]) * self.background, 0.0, 1.0)


def render_canvas(
    actions: np.ndarray,
    windows: np.ndarray,
    width: int,
    height: int,
    brush: BrushSpec = "classic/dry_brush",
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    scale: float = 1.0,
) -> np.ndarray:
    """Paint a stroke list in order on one canvas with the real brush.

    Args:
        actions: (N, 12) in [0, 1].
        windows: (N, 3) float: each stroke's window (x0, y0, w) in canvas px.
        width, height: the canvas size in px that `windows` refer to.
        brush: one brush for all strokes, or a list of N (a brush per stroke).
        background: RGB in [0, 1] under the strokes.
        scale: output size / canvas size (2.0 paints at twice the resolution).

    Returns:
        float32 (round(height*scale), round(width*scale), 3) RGB in [0, 1].
    """
    per_stroke = isinstance(brush, list | tuple)
    canvas = EngineCanvas(width, height, None if per_stroke else brush, background, scale)
    canvas.paint(actions, windows, brush if per_stroke else None)
    return canvas.image()


def stroke_alphas(actions: np.ndarray, windows: np.ndarray, brush: BrushSpec,
                  clip: tuple[int, int] | None = None) -> list[tuple[int, int, np.ndarray]]:  # fmt: skip
    """Each stroke's real coverage, painted alone: [(x, y, alpha (h, w) float32), ...] in canvas px.

    `brush` is one brush for all strokes or a list with one brush per stroke. `clip` (width, height):
    keep only the paint on that canvas (the boxes are then cropped to it), which bounds the memory a
    stroke with a window larger than the canvas takes.

    A stroke's box is the bounding box of its paint (found from the 64 px tiles it touched, so it holds
    all of it whatever the brush's reach); boxes may reach outside the canvas (crop them). With normal blending
    the coverage does not depend on the stroke's colour or on what lies under it: over a canvas C the
    stroke paints C * (1 - alpha) + alpha * colour.
    """
    acts = A.check_actions(actions)
    win = np.asarray(windows, dtype=np.float64)
    if win.shape != (len(acts), 3):
        raise BrushworkError(f"windows must have shape ({len(acts)}, 3): x, y, size per stroke; got {win.shape}")
    infos = _stroke_infos(brush, len(acts))
    with _scratch_surface() as surface:
        return [_coverage(surface, info, action, x0, y0, w, clip)
                for info, action, (x0, y0, w) in zip(infos, acts, win, strict=True)]  # fmt: skip


def _coverage(surface: Surface, info: BrushInfo, action: np.ndarray, x0: float, y0: float,
              w: float, clip: tuple[int, int] | None = None) -> tuple[int, int, np.ndarray]:  # fmt: skip
    """One stroke painted alone: (x, y, alpha (h, w)) cropped to its paint (an empty box if none),
    and to the canvas `clip` (width, height) if given."""
    surface.clear()
    if clip is not None:
        surface.clip = (0, 0, -(-clip[0] // TILE), -(-clip[1] // TILE))
    _draw(info, surface, action, x0, y0, w)
    if not surface.tiles:  # nothing painted (e.g. zero pressure)
        return 0, 0, np.zeros((0, 0), np.float32)
    tx = [k[0] for k in surface.tiles]
    ty = [k[1] for k in surface.tiles]
    x, y = min(tx) * TILE, min(ty) * TILE
    alpha = surface.read(x, y, (max(tx) + 1) * TILE - x, (max(ty) + 1) * TILE - y, slice(3, 4))[..., 0]
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if not len(rows):
        return 0, 0, np.zeros((0, 0), np.float32)
    # cropped to the paint: less memory to keep and fewer pixels to composite
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return x + int(c0), y + int(r0), np.ascontiguousarray(alpha[r0:r1, c0:c1])
