"""The folder a painted clip goes into, frame by frame, so that an interrupted run can continue.

    OUT/
      painting.mp4      the painted film at the clip's frame rate (or --fps), with the clip's sound
      comparison.mp4    clip | painting, side by side
      frames.jsonl      one JSON row per frame: source frame, time, seconds, strokes added / moved /
                        removed, PSNR, warping error against the frame before (painting and input)
      strokes/000000.npz ...   each frame's strokes: a `brushwork.strokes` NPZ (`brushwork render`
                        and `--init` load it), plus `ids` (N,) int64, each stroke's lasting id (a
                        stroke keeps it from the frame it was painted in until it is removed), and
                        `frame`, that frame's row of frames.jsonl (less its seconds) as a JSON string
      frames/000000.png ...    each frame's painting by the real brush, what `render` of its strokes
                        paints at the canvas size
      video.json        the clip and the settings the frames were painted with (for --resume)

Every file is written atomically. A frame's strokes file is written after its PNG, so a frame
counts as painted when its strokes file is there; the films are encoded once every frame is.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import atomic_write, write_text_atomic
from brushwork.painting.exports import as_uint8, save_png
from brushwork.painting.strokes import StrokeList
from brushwork.painting.strokes_files import load as load_strokes

MANIFEST = "video.json"
FILES = ("painting.mp4", "comparison.mp4", "frames.jsonl", MANIFEST)
FOLDERS = ("strokes", "frames")


class VideoFolder:
    """Where a clip's frames and films are written (see module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def strokes_path(self, k: int) -> Path:
        return self.path / "strokes" / f"{k:06d}.npz"

    def frame_path(self, k: int) -> Path:
        return self.path / "frames" / f"{k:06d}.png"

    def start(self, manifest: dict[str, Any], resume: bool) -> int:
        """Make the folder ready; returns how many frames are already painted (0 unless resuming).

        Resuming needs the same clip and settings as the run that began it, else one BrushworkError.
        Without --resume an earlier run's frames and films are removed first.
        """
        old = self.manifest()
        if resume:
            if old is None:
                raise BrushworkError(f"nothing to resume in {self.path}: no {MANIFEST} from an earlier run")
            diff = [k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k)]
            if diff:
                k = sorted(diff)[0]
                raise BrushworkError(
                    f"cannot resume {self.path}: it was painted with {k}={old.get(k)!r}, not {manifest.get(k)!r}; "
                    "run the same command again, or without --resume to start afresh"
                )
            done = 0
            while self.strokes_path(done).is_file() and self.frame_path(done).is_file():
                done += 1
            return done
        for name in FILES:
            (self.path / name).unlink(missing_ok=True)
        for name in FOLDERS:
            shutil.rmtree(self.path / name, ignore_errors=True)
        for name in FOLDERS:
            (self.path / name).mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return 0

    def manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except (OSError, ValueError):
            return None

    def write_frame(self, k: int, strokes: StrokeList, ids: np.ndarray, image: np.ndarray, row: dict) -> None:
        """A painted frame: its PNG, then its strokes (the frame counts as painted once both are there)."""
        for name in FOLDERS:
            (self.path / name).mkdir(exist_ok=True)
        save_png(self.frame_path(k), image)
        strokes.validate()
        with atomic_write(self.strokes_path(k), "wb") as f:
            np.savez_compressed(
                f, meta=np.array(json.dumps(strokes.header())), actions=strokes.actions, windows=strokes.windows,
                levels=strokes.levels, brush_ids=strokes.brush_ids, ids=np.asarray(ids, np.int64),
                # the row without its timing, so that a resumed run writes the same bytes
                frame=np.array(json.dumps({k: v for k, v in row.items() if k != "seconds"}, sort_keys=True)),
            )  # fmt: skip

    def read_frame(self, k: int) -> tuple[StrokeList, np.ndarray, np.ndarray, dict]:
        """Frame k's strokes, stroke ids, painting (H, W, 3) float32 and row."""
        path = self.strokes_path(k)
        strokes = load_strokes(path)
        with np.load(path, allow_pickle=False) as z:
            ids, row = z["ids"].astype(np.int64), json.loads(str(z["frame"][()]))
        from brushwork.images import load_image

        return strokes, ids, load_image(self.frame_path(k)), row

    def read_rows(self, done: int) -> list[dict]:
        """The rows of the first `done` frames: frames.jsonl's (with their seconds), else the strokes files'."""
        try:
            rows = [json.loads(line) for line in (self.path / "frames.jsonl").read_text().splitlines()]
        except (OSError, ValueError):
            rows = []
        rows = rows[:done]
        return rows + [{**self.read_frame(k)[3], "seconds": None} for k in range(len(rows), done)]

    def painted(self, total: int) -> set[int]:
        """The frames among 0 .. total-1 already painted (a chunked film's are in any order)."""
        return {k for k in range(total) if self.strokes_path(k).is_file() and self.frame_path(k).is_file()}

    def rows_of(self, frames: set[int]) -> dict[int, dict]:
        """The rows of these frames: frames.jsonl's (with their seconds), else their strokes files'."""
        try:
            lines = (self.path / "frames.jsonl").read_text().splitlines()
            rows = {int(r["frame"]): r for r in map(json.loads, lines)}
        except (OSError, ValueError, KeyError, TypeError):
            rows = {}
        return {k: rows[k] if k in rows else {**self.read_frame(k)[3], "seconds": None} for k in frames}

    def write_rows(self, rows: list[dict]) -> None:
        write_text_atomic(self.path / "frames.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))

    def frames_uint8(self, count: int):
        """The painted frames 0 .. count-1 as (H, W, 3) uint8, one at a time."""
        from PIL import Image

        for k in range(count):
            with Image.open(self.frame_path(k)) as im:
                yield np.asarray(im.convert("RGB"))


def side_by_side(left: np.ndarray, right: np.ndarray, gutter: int = 8) -> np.ndarray:
    """(H, W, 3) | white gutter | (H, W, 3) -> (H, 2W + gutter, 3) uint8."""
    a, b = as_uint8(left) if left.dtype != np.uint8 else left, as_uint8(right) if right.dtype != np.uint8 else right
    gap = np.full((a.shape[0], gutter, 3), 255, np.uint8)
    return np.concatenate([a, gap, b], axis=1)


__all__ = ["FILES", "FOLDERS", "MANIFEST", "VideoFolder", "side_by_side"]
