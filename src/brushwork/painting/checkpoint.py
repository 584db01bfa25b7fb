"""A painting's checkpoint: what a long painting needs to go on after an interruption.

    pipe(photo, checkpoint="out/photo/.checkpoint.npz")               # written after every level
    pipe(photo, checkpoint="out/photo/.checkpoint.npz", resume=True)  # goes on after its last level

Written atomically after each finished level, it holds the strokes so far (each finished level's with
its final, refitted colours), where each level ends, the plan, the random generator's state and each
level's stats, under a key of everything the painting depends on: the photo at the canvas size, every
setting, the strokes continued from and the painters' weights. Going on, the backend is told the
finished levels again as they were committed (with their colours, so nothing is refitted): the real
brush paints them exactly as it did (painting a stroke list in parts gives what one call gives), and
the backend then holds what it held -- the painting, the kept coverage, the level layers. The levels
after it are computed exactly as in an uninterrupted run, so the files have the same bytes (with a
time budget, the steps a level gets depend on the clock, as they always do).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import atomic_write
from brushwork.painting.config import PaintConfig
from brushwork.painting.plan import Level
from brushwork.painting.strokes import StrokeList

FORMAT = "brushwork.painting-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A painting after `done` of its `plan`'s levels."""

    key: str  # painting_key of the call that wrote it
    plan: list[Level]  # every level of the painting, coarse to fine
    level_steps: int  # the steps a level gets by default (a time budget's plan chooses them)
    strokes: StrokeList  # the strokes continued from, then each finished level's
    continued: int  # how many of them were continued from (`init`)
    level_ends: list[int]  # where each finished level's strokes end in `strokes`
    rng_state: dict[str, Any]  # the placement generator's state after the last finished level
    stats: list[dict[str, Any]]  # each finished level's LevelStats, as a dict
    seconds: float  # painting seconds spent before the checkpoint

    @property
    def done(self) -> int:
        """Levels finished."""
        return len(self.level_ends)

    def level(self, i: int) -> StrokeList:
        """Finished level i's strokes as the backend was told them (one brush, final colours)."""
        part = self.strokes[self.level_ends[i - 1] if i else self.continued : self.level_ends[i]]
        brush = part.brushes[int(part.brush_ids[0])] if len(part) else (self.plan[i].brush or part.brushes[-1])
        return part.with_brush(brush)


def painters_digest(painters: dict) -> str:
    """A hash of the painters' weights, by brush (a pipeline's painters are frozen: computed once)."""
    h = hashlib.sha256()
    for brush in sorted(painters):
        h.update(brush.encode())
        for name, t in painters[brush].state_dict().items():
            h.update(name.encode())
            h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def painting_key(photo: np.ndarray, config: PaintConfig, init: StrokeList | None, painters: str) -> str:
    """A hash of everything a painting depends on: the photo (H, W, 3) at the canvas size, the settings,
    the strokes continued from and the painters' weights (`painters_digest`)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(photo, np.float32).tobytes())
    h.update(json.dumps(dataclasses.asdict(config), sort_keys=True, default=str).encode())
    if init is not None:
        h.update(json.dumps(init.header(), sort_keys=True).encode())
        for a in (init.actions, init.windows, init.levels, init.brush_ids):
            h.update(np.ascontiguousarray(a).tobytes())
    h.update(painters.encode())
    return h.hexdigest()


def save(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write `ckpt` to `path` (.npz), atomically: an interruption leaves the previous one or this one."""
    s = ckpt.strokes
    meta = {
        "format": FORMAT, "version": VERSION, "key": ckpt.key,
        "plan": [dataclasses.asdict(lv) for lv in ckpt.plan], "level_steps": ckpt.level_steps,
        "continued": ckpt.continued, "level_ends": ckpt.level_ends, "rng_state": ckpt.rng_state,
        "stats": ckpt.stats, "seconds": ckpt.seconds,
        "strokes": {"brushes": list(s.brushes), "width": s.width, "height": s.height, "background": s.background},
    }  # fmt: skip
    with atomic_write(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), actions=s.actions, windows=s.windows, levels=s.levels,
                 brush_ids=s.brush_ids)  # fmt: skip


def load(path: str | os.PathLike, key: str) -> Checkpoint | None:
    """The checkpoint at `path`, or None if there is none; BrushworkError if it is another painting's
    (another photo, settings or painter) or not a checkpoint."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in ("actions", "windows", "levels", "brush_ids")}
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError("not a brushwork painting checkpoint")
        s = meta["strokes"]
        strokes = StrokeList(tuple(s["brushes"]), int(s["width"]), int(s["height"]), tuple(s["background"]),
                             **arrays)  # fmt: skip
        ckpt = Checkpoint(
            key=meta["key"], plan=[Level(**lv) for lv in meta["plan"]], level_steps=int(meta["level_steps"]),
            strokes=strokes, continued=int(meta["continued"]),
            level_ends=[int(e) for e in meta["level_ends"]],
            rng_state=meta["rng_state"], stats=meta["stats"], seconds=float(meta["seconds"]),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BrushworkError(f"{path}: not a painting checkpoint ({e}); remove it to start afresh") from None
    if ckpt.key != key:
        raise BrushworkError(
            f"{path} is another painting's (another photo, settings or painter); "
            "paint with the same ones, or remove it to start afresh"
        )
    return ckpt


__all__ = ["Checkpoint", "load", "painters_digest", "painting_key", "save"]
