"""Stroke shards on disk: the MyPaintBrushstrokes npz layout, read and written safely.

A shard is an `.npz` with the Kaggle keys

    strokes  (N, 64, 64, 3) uint8   RGB of the stroke painted on white
    actions  (N, 12)        float   the actions (float64 in Kaggle files)

and, in shards brushwork writes, also

    alphas   (N, 64, 64)    uint8   the stroke's coverage, 255 = opaque

and, in shards of wet (smudging) brushes, also

    canvases (N, 64, 64, 3) uint8   the canvas under the stroke window before the stroke; `strokes`
                                    then holds the window after the stroke, not the stroke on white

Kaggle files have no `alphas`: `derive_alpha` recovers alpha from the RGB and the action's
colour (a stroke of colour c over white is 1 - a + a * c, so 1 - rgb = a * (1 - c)).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.io import atomic_write

STROKE_SIZE = 64
REQUIRED_KEYS = ("strokes", "actions")
WHITE_EPS = 0.02  # sum over channels of (1 - c)^2 below this: the colour is too close to white to tell


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] float -> uint8 with rounding."""
    return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def rgba_to_shard_arrays(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Straight RGBA (N, H, W, 4) in [0, 1] -> (strokes on white uint8 (N, H, W, 3), alphas uint8 (N, H, W))."""
    alpha = rgba[..., 3:4]
    on_white = rgba[..., :3] * alpha + (1.0 - alpha)
    return to_uint8(on_white), to_uint8(alpha[..., 0])


def derive_alpha(strokes: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares alpha from RGB-on-white strokes and the action colours.

    Args:
        strokes: (N, H, W, 3) uint8 or float in [0, 1], the stroke on white.
        actions: (N, 12) in [0, 1].

    Returns:
        alpha (N, H, W) float32 in [0, 1], and valid (N,) bool: False where the action's colour
        is too close to white for the RGB to tell coverage apart from background.
    """
    rgb = strokes.astype(np.float32) / 255.0 if strokes.dtype == np.uint8 else strokes.astype(np.float32)
    d = 1.0 - np.asarray(actions, dtype=np.float32)[:, A.COLOR]  # (N, 3) how far the colour is from white
    denom = (d * d).sum(axis=1)  # (N,)
    valid = denom >= WHITE_EPS
    num = np.einsum("nhwc,nc->nhw", 1.0 - rgb, d)  # (N, H, W)
    alpha = num / np.maximum(denom, WHITE_EPS)[:, None, None]
    return np.clip(alpha, 0.0, 1.0).astype(np.float32), valid


def load_shard(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check one shard (ours or Kaggle's).

    Returns a dict with `strokes` (N, 64, 64, 3) uint8, `actions` (N, 12) float32 and `alphas`
    (N, 64, 64) uint8 (derived for Kaggle files), plus `alpha_valid` (N,) bool, and for a wet
    brush's shard `canvases` (N, 64, 64, 3) uint8.
    Raises BrushworkError naming the file and what is wrong.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in REQUIRED_KEYS if k not in z.files]
            if missing:
                raise BrushworkError(f"{path}: not a stroke shard, missing key {missing[0]!r} (has {z.files})")
            _check_unpacked_size(path, z)
            data = {k: z[k] for k in z.files if k in ("strokes", "actions", "alphas", "canvases")}
    except BrushworkError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise BrushworkError(f"{path}: cannot read stroke shard ({type(e).__name__}: {e})") from None

    strokes, acts = data["strokes"], data["actions"]
    n = len(acts)
    if strokes.shape != (n, STROKE_SIZE, STROKE_SIZE, 3) or strokes.dtype != np.uint8:
        raise BrushworkError(f"{path}: 'strokes' must be uint8 ({n}, 64, 64, 3), got {strokes.dtype} {strokes.shape}")
    try:
        acts = A.check_actions(acts, name=f"{path.name} 'actions'").astype(np.float32)
    except ValueError as e:
        raise BrushworkError(f"{path}: {e}") from None
    if "alphas" in data:
        alphas = data["alphas"]
        if alphas.shape != (n, STROKE_SIZE, STROKE_SIZE) or alphas.dtype != np.uint8:
            raise BrushworkError(f"{path}: 'alphas' must be uint8 ({n}, 64, 64), got {alphas.dtype} {alphas.shape}")
        valid = np.ones(n, dtype=bool)
    else:
        alpha, valid = derive_alpha(strokes, acts)
        alphas = to_uint8(alpha)
    out = {"strokes": strokes, "actions": acts, "alphas": alphas, "alpha_valid": valid}
    if "canvases" in data:
        canvases = data["canvases"]
        if canvases.shape != strokes.shape or canvases.dtype != np.uint8:
            why = f"got {canvases.dtype} {canvases.shape}"
            raise BrushworkError(f"{path}: 'canvases' must be uint8 {strokes.shape}, {why}")
        out["canvases"] = canvases
    return out


def _check_unpacked_size(path: Path, z: np.lib.npyio.NpzFile) -> None:
    """Refuse a shard whose arrays would unpack to more than MAX_SHARD_BYTES or the free memory,
    from their .npy headers alone, before anything is decompressed (a zip bomb stays a small file)."""
    from brushwork.limits import MAX_SHARD_BYTES, available_memory

    total = 0
    for key in z.files:
        if key not in ("strokes", "actions", "alphas", "canvases"):
            continue
        with z.zip.open(f"{key}.npy") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
        total += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    limit = min(MAX_SHARD_BYTES, available_memory())
    if total > limit:
        raise BrushworkError(f"{path}: its arrays unpack to {total / 2**30:.1f} GB; brushwork reads shards of up "
                             f"to {limit / 2**30:.1f} GB here (split it into smaller shards)")  # fmt: skip


def write_shard(path: str | os.PathLike, strokes: np.ndarray, actions: np.ndarray, alphas: np.ndarray,
                canvases: np.ndarray | None = None) -> None:  # fmt: skip
    """Write a compressed shard atomically (with `canvases` for a wet brush): a temporary name, then rename.

    A full disk or an interruption never leaves a half-written file under the final name.
    """
    path = Path(path)
    try:
        with atomic_write(path, "wb") as f:
            extra = {} if canvases is None else {"canvases": canvases}
            np.savez_compressed(f, strokes=strokes, actions=np.asarray(actions, dtype=np.float64), alphas=alphas,
                                **extra)  # fmt: skip
    except OSError as e:
        raise BrushworkError(f"cannot write {path}: {e.strerror or e}") from None


def shard_files(folder: str | os.PathLike) -> list[Path]:
    """The shard files of a data set folder, sorted: our `shard_*.npz` or Kaggle's `episodes_*.npz`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BrushworkError(f"{folder}: no such data set folder")
    files = sorted(p for p in folder.glob("*.npz") if not p.name.startswith("."))
    if not files:
        raise BrushworkError(f"{folder}: no .npz stroke shards in this folder")
    return files
