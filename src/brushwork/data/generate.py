"""Generating a stroke data set with the real brush, in parallel, reproducibly.

Layout: `count` strokes split into shards of `shard_size`; shard j holds strokes
[j * shard_size, ...) and draws its actions from `np.random.default_rng([seed, j])`. So a shard's
bytes depend only on (brush, seed, j, counts): not on `workers`, and many machines that each
write the shards j with j % num_shards == shard_index together make exactly what one machine
would.

Sampling: actions are uniform in [0, 1]^12, as the original data set's. About a fifth of such
strokes are faint (low pressure) or tiny; we keep them because painting uses them too and the
Kaggle data has them, so models trained on either see the same distribution.

Wet (smudging) brushes: each stroke is painted over its own canvas (`brushwork.data.canvases`,
drawn from `np.random.default_rng([seed, j, lo])` for the chunk of strokes starting at lo), and the
shard also holds the canvas under each stroke window (`canvases`), its `strokes` are the window
after the stroke, and its `alphas` the stroke's coverage (its dabs with smudging off).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from brushwork import __version__
from brushwork import actions as A
from brushwork.data.canvases import sample_canvases, window_of
from brushwork.data.shards import STROKE_SIZE, rgba_to_shard_arrays, to_uint8, write_shard
from brushwork.engine import render, render_over, require_learnable, resolve_brush
from brushwork.errors import BrushworkError
from brushwork.io import write_text_atomic

MANIFEST = "manifest.json"
CHUNK = 250  # strokes per worker task: small enough to balance 2 workers, large enough to amortise IPC


@dataclass(frozen=True)
class DatasetSpec:
    brush: str
    count: int
    seed: int = 0
    shard_size: int = 10_000
    wet: bool = False  # a smudging brush: strokes painted over canvases, which the shards hold too

    @property
    def num_shards(self) -> int:
        return -(-self.count // self.shard_size)

    def shard_count(self, j: int) -> int:
        return min(self.shard_size, self.count - j * self.shard_size)

    def shard_actions(self, j: int) -> np.ndarray:
        """(n_j, 12) float64 actions of shard j."""
        return A.sample_actions(np.random.default_rng([self.seed, j]), self.shard_count(j))

    def shard_name(self, j: int) -> str:
        return f"shard_{j:05d}.npz"

    def manifest(self) -> dict:
        wet = {"canvases": "uint8 (N, 64, 64, 3) the canvas under each stroke window; strokes: the window "
               "after the stroke; alphas: its coverage with smudging off"} if self.wet else {}  # fmt: skip
        return {
            "format": "brushwork.strokes-dataset",
            "version": 2 if self.wet else 1,
            **asdict(self),
            **wet,
            "num_shards": self.num_shards,
            "stroke_size": STROKE_SIZE,
            "action_fields": list(A.FIELDS),
            "sampling": "uniform [0, 1]^12, np.random.default_rng([seed, shard])",
            "brushwork": __version__,
        }


def _worker_signals() -> None:
    """In a worker: Ctrl-C is the parent's to handle, and the parent stops the pool with SIGTERM.
    A worker that raised on either (the CLI's handlers are inherited through fork) would print its
    own traceback: dozens of lines from two workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _render_chunk(task: tuple[DatasetSpec, int, int, int]) -> tuple:
    """(shard, first stroke, strokes, alphas, canvases or None) of one chunk of a shard."""
    spec, j, lo, hi = task
    actions = spec.shard_actions(j)[lo:hi]
    rgba = render(actions, brush=spec.brush, size=STROKE_SIZE)
    strokes, alphas = rgba_to_shard_arrays(rgba)
    if not spec.wet:
        return j, lo, strokes, alphas, None
    canvases = sample_canvases(np.random.default_rng([spec.seed, j, lo]), len(actions))
    after = render_over(actions, canvases, brush=spec.brush, size=STROKE_SIZE)
    return j, lo, to_uint8(after), alphas, window_of(canvases)


def missing_shards(folder: str | os.PathLike) -> tuple[list[str], int] | None:
    """(names of the shards the folder's manifest lists but that are not there, shards listed), or
    None for a folder without a brushwork manifest (e.g. Kaggle's shards). A shard appears under its
    name only when complete (atomic write), so a name that is there is a finished shard."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        m = json.loads(path.read_text())
        spec = DatasetSpec(brush=m["brush"], count=int(m["count"]), seed=int(m["seed"]),
                           shard_size=int(m["shard_size"]), wet=bool(m.get("wet", False)))  # fmt: skip
    except (ValueError, KeyError, TypeError) as e:
        raise BrushworkError(f"{path}: not a readable data set manifest ({e})") from None
    names = [spec.shard_name(j) for j in range(spec.num_shards)]
    return [n for n in names if not (Path(folder) / n).is_file()], len(names)


def generate_dataset(
    out: str | os.PathLike,
    brush: str,
    count: int,
    seed: int = 0,
    shard_size: int = 10_000,
    workers: int | None = None,
    shard_index: int = 0,
    num_shards: int = 1,
    progress: bool = True,
) -> list[Path]:
    """Paint `count` random strokes with `brush` into npz shards under `out`; returns the shards written.

    Shards already present are kept (an interrupted run resumes). Raises BrushworkError on bad
    arguments, on a folder holding a different data set, or on a full disk.
    """
    if count < 1 or shard_size < 1:
        raise BrushworkError(f"--count and --shard-size must be positive, got {count} and {shard_size}")
    if not 0 <= shard_index < num_shards:
        raise BrushworkError(f"--shard-index must be in [0, {num_shards}), got {shard_index}")
    info = require_learnable(resolve_brush(brush))
    spec = DatasetSpec(brush=info.name, count=count, seed=seed, shard_size=shard_size, wet=info.wet)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BrushworkError(f"--out {out} is a file; give a folder for the data set")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BrushworkError(f"cannot create {out}: {e.strerror or e}") from None

    manifest_path = out / MANIFEST
    manifest = spec.manifest()
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except ValueError:
            old = None
        keys = ("brush", "count", "seed", "shard_size", "wet")
        if not old or any(old.get(k) != manifest[k] for k in keys):
            raise BrushworkError(f"{out} already holds a different data set ({manifest_path}); choose another --out")
    else:
        write_text_atomic(manifest_path, json.dumps(manifest, indent=2) + "\n")

    todo = [
        j for j in range(spec.num_shards) if j % num_shards == shard_index and not (out / spec.shard_name(j)).exists()
    ]
    tasks = [
        (spec, j, lo, min(lo + CHUNK, spec.shard_count(j))) for j in todo for lo in range(0, spec.shard_count(j), CHUNK)
    ]
    total = sum(hi - lo for _, _, lo, hi in tasks)
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks) or 1))

    pending: dict[int, dict[int, tuple]] = {j: {} for j in todo}
    written: list[Path] = []
    bar = tqdm(total=total, unit="stroke", desc=f"painting {info.name}", disable=not progress, smoothing=0.05)

    def collect(result: tuple) -> None:
        j, lo, strokes, alphas, canvases = result
        pending[j][lo] = (strokes, alphas, canvases)
        bar.update(len(strokes))
        if sum(len(part[0]) for part in pending[j].values()) == spec.shard_count(j):
            parts = [part for _, part in sorted(pending.pop(j).items())]  # chunks in stroke order
            strokes_j, alphas_j = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            canvases_j = np.concatenate([p[2] for p in parts]) if spec.wet else None
            path = out / spec.shard_name(j)
            write_shard(path, strokes_j, spec.shard_actions(j), alphas_j, canvases_j)
            written.append(path)

    try:
        if workers == 1:
            for task in tasks:
                collect(_render_chunk(task))
        else:
            # fork keeps start-up cheap; each worker loads libmypaint once
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(workers, initializer=_worker_signals) as pool:
                for result in pool.imap_unordered(_render_chunk, tasks):
                    collect(result)
    finally:
        bar.close()
    if pending:
        raise BrushworkError("generation stopped before every shard was complete")
    return sorted(written)
