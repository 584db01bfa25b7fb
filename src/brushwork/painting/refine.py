"""Refining an earlier painting: its own strokes optimised again against the photo, level by level.

`brushwork paint photo.jpg --init out/strokes.json --refine` keeps the painting's strokes (their
number, order, windows and brushes) and moves, reshapes and recolours them: each level starts from
its strokes as they were instead of a new placement, is optimised over the real painting of the
refined levels below it, and the real brush paints it -- the painting of a fresh run, from a better
start. `--strokes N` adds N new strokes on top afterwards, as `--init` alone does.

A level's strokes were painted in passes: grids of non-overlapping windows, shifted from pass to
pass (`brushwork.painting.placement`). `level_start` finds those passes again from the windows, so
that a refined level goes through the painter a pass at a time, as it did when it was painted. A
strokes file whose windows lie on no such grid (a film frame's, moved by the flow; or painted at
another size) cannot be refined, and says so in one line.
"""

from __future__ import annotations

import numpy as np
import torch

from brushwork.errors import BrushworkError
from brushwork.painting.canvas import PassGrid
from brushwork.painting.placement import LevelInit
from brushwork.painting.plan import Level
from brushwork.painting.strokes import StrokeList


def refine_levels(strokes: StrokeList, work_window: int, steps: int) -> list[Level]:
    """One Level per level of `strokes` (in painting order), each with its strokes' window, brush and count.

    Raises BrushworkError if a level's strokes are not one block of one window size and one brush.
    """
    out: list[Level] = []
    order = strokes.levels
    if len(order) and np.any(np.diff(order) < 0):
        raise BrushworkError("cannot refine these strokes: their levels are not in painting order")
    for index in np.unique(order):
        rows = np.flatnonzero(order == index)
        sizes = np.unique(strokes.windows[rows, 2])
        brushes = np.unique(strokes.brush_ids[rows])
        if len(sizes) != 1 or len(brushes) != 1:
            raise BrushworkError(f"cannot refine level {index}: its strokes have several window sizes or brushes")
        window = float(sizes[0])
        if window != round(window):
            raise BrushworkError(f"cannot refine level {index}: its {window:g} px windows are not whole pixels "
                                 "(painted at another --size? refine at the size it was painted)")  # fmt: skip
        win = int(round(window))
        factor = win // work_window if win >= work_window and win % work_window == 0 else 1
        if np.any(strokes.windows[rows, :2] % factor):  # painted at full scale (a stroke-size limit): so again
            factor = 1
        out.append(Level(int(index), win, factor, len(rows), steps, strokes.brushes[int(brushes[0])]))
    return out


def level_start(strokes: StrokeList, level: Level, device: torch.device) -> LevelInit:
    """The level's strokes as the optimiser's start: their actions, grouped into the passes they were painted in.

    A pass is a run of consecutive strokes whose windows lie on one shifted grid of the level's work
    window and do not share a cell; the next stroke off that grid or on a taken cell starts a new pass.
    """
    rows = np.flatnonzero(strokes.levels == level.index)
    m, ww = level.factor, level.work_window
    h, w = -(-strokes.height // m), -(-strokes.width // m)  # the work canvas (`canvas.reduce`)
    origin = strokes.windows[rows, :2] / m
    if not np.allclose(origin, np.round(origin), atol=1e-3):
        raise BrushworkError(f"cannot refine level {level.index}: its windows lie on no stroke grid (a film "
                             "frame's strokes, moved with the content? refine a photo's painting)")  # fmt: skip
    origin = np.round(origin).astype(np.int64)
    grids: list[PassGrid] = []
    cells: list[list[int]] = []
    taken: set[int] = set()  # the current pass's cells
    for x0, y0 in origin:
        sx, sy = int(-x0 % ww), int(-y0 % ww)
        grid = PassGrid(h, w, ww, sx, sy)
        r, c = (y0 + sy) // ww, (x0 + sx) // ww
        if not (0 <= r < grid.ny and 0 <= c < grid.nx):
            raise BrushworkError(f"cannot refine level {level.index}: a window lies outside the canvas")
        cell = int(r * grid.nx + c)
        if not grids or grids[-1] != grid or cell in taken:
            grids.append(grid)
            cells.append([])
            taken = set()
        cells[-1].append(cell)
        taken.add(cell)
    actions = torch.from_numpy(np.ascontiguousarray(strokes.actions[rows], np.float32)).to(device)
    return LevelInit(grids, [torch.tensor(c, dtype=torch.long, device=device) for c in cells], actions)


def refine_plan(
    strokes: StrokeList, work_window: int, steps: int, device: torch.device
) -> dict[int, tuple[Level, LevelInit]]:
    """Level index -> (Level, its start) for every level of `strokes`: all checked before any work."""
    return {lv.index: (lv, level_start(strokes, lv, device)) for lv in refine_levels(strokes, work_window, steps)}


__all__ = ["level_start", "refine_levels", "refine_plan"]
