"""A contact sheet of strokes from a data set folder."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from brushwork.data.shards import load_shard, shard_files
from brushwork.io import atomic_path


def stroke_grid(strokes: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, H, W, 3) uint8 -> one (rows*(H+pad)+pad, cols*(W+pad)+pad, 3) uint8 grid on grey."""
    n, h, w, _ = strokes.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 160, dtype=np.uint8)
    for i, s in enumerate(strokes):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = s
    return grid


def preview_dataset(folder: str | os.PathLike, out: str | os.PathLike, count: int = 64, scale: int = 2) -> Path:
    """Save a grid of the first `count` strokes of the first shard as a PNG, `scale` x enlarged.

    A wet brush's strokes come in pairs: the canvas, then the window after the stroke over it.
    """
    shard = load_shard(shard_files(folder)[0])
    strokes = shard["strokes"][:count]
    if "canvases" in shard:
        pairs = np.stack([shard["canvases"][: len(strokes)], strokes], axis=1)  # (n, 2, 64, 64, 3)
        grid = stroke_grid(pairs.reshape(-1, *strokes.shape[1:]), columns=2 * math.ceil(math.sqrt(len(strokes))))
    else:
        grid = stroke_grid(strokes)
    img = Image.fromarray(grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        img.save(tmp, format="PNG")
    return out
