"""The painting as a program: a list of brushstrokes that can be saved, reloaded and replayed.

A `StrokeList` holds, for N strokes in painting order:

- ``actions`` (N, 12) float32 in [0, 1]: the stroke actions (layout in `brushwork.actions`), whose
  coordinates are fractions of the stroke's own square window;
- ``windows`` (N, 3) float32 = (x0, y0, w) in canvas px: an action point (ax, ay) lands on the canvas
  at (x0 + ax * w, y0 + ay * w), and the brush radius scales by w / 64 (the reference window);
- ``levels`` (N,) int32: the coarse-to-fine level (0 = coarsest) that painted each stroke;
- ``brush_ids`` (N,) int32: each stroke's brush, an index into ``brushes`` (a painting may use
  several brushes, e.g. a coarse one for the block-in and a pen for the details);

plus the brushes, the canvas size (px) it was optimised at and the background colour.

File formats
------------
JSON (``.json``), human readable, one stroke per line::

    {
      "schema": "brushwork.strokes",     # identifies the file type
      "version": 2,                       # bumped on incompatible changes; readers refuse newer ones
      "brushes": ["classic/dry_brush", "classic/pen"],   # the brushes, in order of first use
      "width": 512, "height": 384,        # canvas px the painting was optimised at
      "background": [r, g, b],            # canvas colour before the first stroke, sRGB in [0, 1]
      "action_fields": ["pressure", "size", ..., "entry_pressure"],   # = brushwork.actions.FIELDS
      "strokes": [
        {"level": 0, "brush": "classic/dry_brush", "window": [x0, y0, w], "action": [12 numbers]},
        ...                               # painting order; "brush" is one of "brushes"
      ]
    }

Version 1 files (one brush for every stroke: a header ``"brush": name`` and no per-stroke brush)
still load. Numbers are written as the shortest decimal that reads back to the same float32, so a
round trip is exact. NPZ (``.npz``, compact): arrays ``actions``, ``windows``, ``levels``,
``brush_ids`` as above, and ``meta``, a 0-d string array holding the JSON header above without
``"strokes"`` (a version 1 NPZ has no ``brush_ids``).

Writing lives here (`StrokeList.save`, `to_json`, `to_npz`); reading, which checks every field of
a file it did not write, lives in `brushwork.painting.strokes_files` (`load(path)`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.actions import (
    ACTION_DIM,
    COLOR,
    CONTROL_X,
    CONTROL_Y,
    END_X,
    END_Y,
    ENTRY_PRESSURE,
    FIELDS,
    PRESSURE,
    PRESSURE_SCALE,
    REFERENCE_SIZE,
    SIZE,
    SIZE_SCALE,
    START_X,
    START_Y,
)
from brushwork.errors import BrushworkError
from brushwork.io import atomic_write, write_text_atomic
from brushwork.limits import (
    MAX_CANVAS,
    MAX_LEVEL,
    MAX_STROKES,
    MAX_STROKES_PER_PX,
    MAX_WINDOW_PER_CANVAS,
    MIN_STROKES_LIMIT,
)

SCHEMA = "brushwork.strokes"
VERSION = 2  # the newest schema version this code reads and the one it writes (2: a brush per stroke)


@dataclass(frozen=True)
class StrokeGeometry:
    """Canvas-space geometry of N strokes, float64, in px of the output canvas."""

    start: np.ndarray  # (N, 2) x, y where the stroke starts
    through: np.ndarray  # (N, 2) the point the curve passes through halfway
    control: np.ndarray  # (N, 2) quadratic Bezier control point = 2 * through - (start + end) / 2
    end: np.ndarray  # (N, 2) x, y where the stroke ends
    radius: np.ndarray  # (N,) base dab radius px = exp(size * 2) * w / 64
    entry_pressure: np.ndarray  # (N,) pressure at the start, in [0, 0.8] (PRESSURE_SCALE applied)
    pressure: np.ndarray  # (N,) pressure at the end, in [0, 0.8]
    color: np.ndarray  # (N, 3) sRGB in [0, 1]

    @property
    def mean_pressure(self) -> np.ndarray:
        """(N,) pressure averaged along the stroke, in [0, 0.8].

        The profile ramps p0 -> m = (p0 + p1) / 2 over the first quarter, holds m, then ramps m -> p1
        over the last quarter; its mean is 1/8 (p0 + m) + 1/2 m + 1/8 (m + p1) = m exactly.
        """
        return (self.entry_pressure + self.pressure) / 2


@dataclass(eq=False)  # arrays have no single truth value: compare fields explicitly
class StrokeList:
    """N brushstrokes in painting order, with everything needed to replay them (see module docstring).

    `brushes` may be given as one name (every stroke that brush) or a tuple of names with `brush_ids`.
    """

    brushes: tuple[str, ...]  # the brushes, in order of first use (one name is normalised to a 1-tuple)
    width: int  # canvas px at which the painting was optimised
    height: int
    background: tuple[float, float, float]  # sRGB in [0, 1], the canvas before the first stroke
    actions: np.ndarray  # (N, 12) float32 in [0, 1]
    windows: np.ndarray  # (N, 3) float32 (x0, y0, w) canvas px
    levels: np.ndarray  # (N,) int32 coarse-to-fine level
    brush_ids: np.ndarray | None = None  # (N,) int32 index into `brushes`; None: all 0

    def __post_init__(self) -> None:
        # Normalise types once so that every consumer (and the files) see the documented dtypes.
        self.brushes = (self.brushes,) if isinstance(self.brushes, str) else tuple(self.brushes)
        self.background = tuple(float(c) for c in self.background)  # type: ignore[assignment]
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, which validate() refuses
            self.actions = np.asarray(self.actions, dtype=np.float32)
            self.windows = np.asarray(self.windows, dtype=np.float32)
        levels = np.asarray(self.levels)
        if levels.size and levels.dtype.kind in "iu" and not (0 <= levels.min() and levels.max() <= MAX_LEVEL):
            raise ValueError(f"levels must lie in 0 .. {MAX_LEVEL}, got {int(levels.min())} .. {int(levels.max())}")
        self.levels = levels.astype(np.int32)
        ids = np.zeros(len(self.actions), np.int32) if self.brush_ids is None else self.brush_ids
        self.brush_ids = np.asarray(ids, dtype=np.int32)

    @classmethod
    def empty(cls, brush: str, width: int, height: int, background: tuple[float, float, float]) -> StrokeList:
        """A painting with no strokes yet."""
        return cls(
            brush, width, height, background,
            np.zeros((0, ACTION_DIM), np.float32), np.zeros((0, 3), np.float32), np.zeros(0, np.int32),
        )  # fmt: skip

    @property
    def brush(self) -> str:
        """The brush's name; with several brushes their names joined by commas (as `--brush` takes them)."""
        return ",".join(self.brushes)

    def stroke_brushes(self) -> list[str]:
        """(N,) each stroke's brush name, in painting order."""
        return [self.brushes[i] for i in self.brush_ids.tolist()]

    def with_brush(self, brush: str) -> StrokeList:
        """The same strokes, every one painted with `brush`."""
        return StrokeList(brush, self.width, self.height, self.background, self.actions, self.windows, self.levels)

    def replace_actions(self, actions: np.ndarray) -> StrokeList:
        """The same strokes with other actions (N, 12), e.g. refitted colours."""
        return StrokeList(self.brushes, self.width, self.height, self.background, actions, self.windows,
                          self.levels, self.brush_ids)  # fmt: skip

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def __getitem__(self, index: slice | np.ndarray | list[int]) -> StrokeList:
        """The strokes selected by a slice or index array, e.g. ``strokes[:k]`` for the first k."""
        if isinstance(index, int | np.integer):
            index = slice(int(index), int(index) + 1 or None)  # keep the (N, ...) shapes
        return StrokeList(
            self.brushes, self.width, self.height, self.background,
            self.actions[index], self.windows[index], self.levels[index], self.brush_ids[index],
        )  # fmt: skip

    def concat(self, other: StrokeList) -> StrokeList:
        """These strokes followed by `other`'s, each keeping its brush (canvas and background stay this list's)."""
        brushes = list(self.brushes)
        for b in other.brushes:
            if b not in brushes:
                brushes.append(b)
        remap = np.array([brushes.index(b) for b in other.brushes], np.int32)
        return StrokeList(
            tuple(brushes), self.width, self.height, self.background,
            np.concatenate([self.actions, other.actions]), np.concatenate([self.windows, other.windows]),
            np.concatenate([self.levels, other.levels]), np.concatenate([self.brush_ids, remap[other.brush_ids]]),
        )  # fmt: skip

    def validate(self) -> StrokeList:
        """Check shapes, dtypes-compatible values and ranges; return self. Raises ValueError."""
        if not self.brushes or not all(isinstance(b, str) and b for b in self.brushes):
            raise ValueError(f"brushes must be non-empty names, got {self.brushes!r}")
        if len(set(self.brushes)) != len(self.brushes):
            raise ValueError(f"brushes must not repeat, got {list(self.brushes)}")
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{name} must be a positive integer (canvas px), got {v!r}")
        bg = np.asarray(self.background, dtype=np.float64)
        if bg.shape != (3,) or not np.all(np.isfinite(bg)) or bg.min() < 0 or bg.max() > 1:
            raise ValueError(f"background must be 3 numbers in [0, 1] (sRGB), got {self.background!r}")
        n = len(self)
        if self.actions.ndim != 2 or self.actions.shape[1] != ACTION_DIM:
            raise ValueError(f"actions must have shape (N, {ACTION_DIM}), got {self.actions.shape}")
        if self.windows.shape != (n, 3):
            raise ValueError(f"windows must have shape ({n}, 3), (x0, y0, w) per stroke, got {self.windows.shape}")
        if self.levels.shape != (n,):
            raise ValueError(f"levels must have shape ({n},), got {self.levels.shape}")
        if self.brush_ids.shape != (n,):
            raise ValueError(f"brush_ids must have shape ({n},), got {self.brush_ids.shape}")
        if n and (self.brush_ids.min() < 0 or self.brush_ids.max() >= len(self.brushes)):
            raise ValueError(f"brush_ids must index the {len(self.brushes)} brushes")
        if not np.all(np.isfinite(self.actions)):
            raise ValueError("actions contain NaN or infinite values")
        if n and (self.actions.min() < 0 or self.actions.max() > 1):
            lo, hi = float(self.actions.min()), float(self.actions.max())
            raise ValueError(f"actions must lie in [0, 1], got values from {lo:.4g} to {hi:.4g}; clip them")
        if not np.all(np.isfinite(self.windows)):
            raise ValueError("windows contain NaN or infinite values")
        if n and self.windows[:, 2].min() <= 0:
            raise ValueError(f"window sizes w must be > 0 px, got {float(self.windows[:, 2].min()):.4g}")
        if n and (self.levels.min() < 0 or self.levels.max() > MAX_LEVEL):
            lo, hi = int(self.levels.min()), int(self.levels.max())
            raise ValueError(f"levels must lie in 0 .. {MAX_LEVEL}, got {lo} .. {hi}")
        self.check_limits()
        return self

    def check_limits(self) -> StrokeList:
        """Refuse what would exhaust the machine (see `brushwork.limits`); return self. Raises ValueError."""
        if len(self) > MAX_STROKES:
            raise ValueError(f"{len(self)} strokes is more than the limit of {MAX_STROKES}")
        if max(self.width, self.height) > MAX_CANVAS:
            raise ValueError(f"canvas {self.width}x{self.height} is larger than the limit of {MAX_CANVAS} px")
        most = max(MIN_STROKES_LIMIT, int(MAX_STROKES_PER_PX * self.width * self.height))
        if len(self) > most:
            raise ValueError(f"{len(self)} strokes on a {self.width}x{self.height} canvas: at most {most:,} fit "
                             "(one per px); paint a larger canvas")  # fmt: skip
        if len(self):
            x, y, w = (self.windows[:, k].astype(np.float64) for k in range(3))
            long = max(self.width, self.height)
            big = int(np.argmax(w))
            if w[big] > MAX_WINDOW_PER_CANVAS * long:
                raise ValueError(
                    f"stroke {big} has a {w[big]:.4g} px window, more than {MAX_WINDOW_PER_CANVAS:g} x the "
                    f"canvas's {long} px"
                )
            off = np.flatnonzero((x <= -w) | (y <= -w) | (x >= self.width) | (y >= self.height))
            if len(off):
                i = int(off[0])
                raise ValueError(
                    f"stroke {i}'s window {[float(v) for v in self.windows[i]]} lies outside the "
                    f"{self.width}x{self.height} canvas"
                )
        return self

    # -- geometry --------------------------------------------------------------------------------------

    def scaled(self, factor: float) -> StrokeList:
        """The same painting on a canvas `factor` times larger: windows and canvas size scale, actions not."""
        if not factor > 0:
            raise ValueError(f"scale factor must be > 0, got {factor!r}")
        return StrokeList(
            self.brushes, max(1, round(self.width * factor)), max(1, round(self.height * factor)),
            self.background, self.actions.copy(), self.windows * np.float32(factor), self.levels.copy(),
            self.brush_ids.copy(),
        )  # fmt: skip

    def geometry(self, scale: float = 1.0) -> StrokeGeometry:
        """Canvas-space curves, radii, pressures and colours, in px of a canvas `scale` times larger."""
        a = self.actions.astype(np.float64)
        x0y0 = self.windows[:, :2].astype(np.float64) * scale
        w = self.windows[:, 2:3].astype(np.float64) * scale  # (N, 1)

        def point(ix: int, iy: int) -> np.ndarray:
            return x0y0 + a[:, [ix, iy]] * w

        start, through, end = point(START_X, START_Y), point(CONTROL_X, CONTROL_Y), point(END_X, END_Y)
        return StrokeGeometry(
            start=start,
            through=through,
            control=2 * through - (start + end) / 2,  # so that B(1/2) = through
            end=end,
            radius=np.exp(a[:, SIZE] * SIZE_SCALE) * w[:, 0] / REFERENCE_SIZE,
            entry_pressure=a[:, ENTRY_PRESSURE] * PRESSURE_SCALE,
            pressure=a[:, PRESSURE] * PRESSURE_SCALE,
            color=a[:, COLOR],
        )

    # -- files -----------------------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        """The file header: everything but the strokes (see module docstring)."""
        return {
            "schema": SCHEMA,
            "version": VERSION,
            "brushes": list(self.brushes),
            "width": int(self.width),
            "height": int(self.height),
            "background": [float(c) for c in self.background],
            "action_fields": list(FIELDS),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to ``.json`` or ``.npz`` according to the suffix."""
        suffix = Path(path).suffix.lower()
        if suffix == ".json":
            self.to_json(path)
        elif suffix == ".npz":
            self.to_npz(path)
        else:
            raise BrushworkError(f"cannot save strokes to {path}: use a .json or .npz file name")

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON format (module docstring), atomically. Raises ValueError if invalid."""
        self.validate()
        # float32 -> shortest decimal that reads back to the same float32: exact and short.
        acts, wins = self.actions.astype(str), self.windows.astype(str)
        lines = [
            json.dumps(
                {
                    "level": int(lv),
                    "brush": self.brushes[b],
                    "window": [float(v) for v in win],
                    "action": [float(v) for v in act],
                },
                separators=(", ", ": "),
            )  # fmt: skip
            for lv, b, win, act in zip(self.levels, self.brush_ids.tolist(), wins, acts, strict=True)
        ]
        # Header one key per line, strokes one per line: readable, diffable, and compact enough.
        head = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in self.header().items()]
        body = "[\n    " + ",\n    ".join(lines) + "\n  ]" if lines else "[]"
        write_text_atomic(path, "\n".join(["{", *head, f'  "strokes": {body}', "}", ""]))

    def to_npz(self, path: str | os.PathLike[str]) -> None:
        """Write the NPZ format (module docstring), atomically. Raises ValueError if invalid."""
        self.validate()
        with atomic_write(path, "wb") as f:
            np.savez_compressed(
                f, meta=np.array(json.dumps(self.header())),
                actions=self.actions, windows=self.windows, levels=self.levels, brush_ids=self.brush_ids,
            )  # fmt: skip
