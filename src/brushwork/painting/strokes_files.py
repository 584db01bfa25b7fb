"""Reading strokes files (`.json`, `.npz`; the formats are documented in `brushwork.painting.strokes`).

Everything read is checked: schema, version, action layout, shapes, types and ranges; any problem is
one BrushworkError naming the file. NPZ files are never unpickled.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.actions import ACTION_DIM, FIELDS
from brushwork.errors import BrushworkError
from brushwork.limits import MAX_STROKES
from brushwork.painting.strokes import SCHEMA, VERSION, StrokeList


def read_json(path: str | os.PathLike[str]) -> StrokeList:
    """Read the JSON format. Raises BrushworkError naming the file and the problem."""
    doc = _read_json(path)
    _check_header(doc, path)
    strokes = doc.get("strokes")
    if not isinstance(strokes, list):
        raise BrushworkError(f"{path}: 'strokes' must be a list")
    if len(strokes) > MAX_STROKES:
        raise BrushworkError(f"{path}: {len(strokes)} strokes is more than the limit of {MAX_STROKES}")
    try:
        levels = [s["level"] for s in strokes]
        windows = [s["window"] for s in strokes]
        actions = [s["action"] for s in strokes]
        # version 2: each stroke names its brush, one of the header's "brushes"; version 1: one brush
        names = [s["brush"] for s in strokes] if doc["version"] >= 2 else None
    except (KeyError, TypeError):
        need = "'level', 'brush', 'window' and 'action'" if doc["version"] >= 2 else "'level', 'window' and 'action'"
        raise BrushworkError(f"{path}: every stroke needs {need} (see brushwork.painting.strokes)") from None
    ids = None
    if names is not None:
        table = doc.get("brushes")
        if not isinstance(table, list) or not all(isinstance(b, str) for b in table):
            raise BrushworkError(f"{path}: 'brushes' must be a list of brush names")
        index = {b: i for i, b in enumerate(table)}
        unknown = [b for b in names if not isinstance(b, str) or b not in index]
        if unknown:
            raise BrushworkError(f"{path}: a stroke's brush {unknown[0]!r} is not one of 'brushes' {table}")
        ids = np.array([index[b] for b in names], np.int64)
    if not all(isinstance(lv, int) and not isinstance(lv, bool) for lv in levels):
        raise BrushworkError(f"{path}: stroke levels must be integers")
    try:
        w = np.array(windows, dtype=np.float64).reshape(len(strokes), 3)
        a = np.array(actions, dtype=np.float64).reshape(len(strokes), ACTION_DIM)
        lv = np.array(levels, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        raise BrushworkError(
            f"{path}: each stroke needs an integer 'level', a 3-number 'window' and a {ACTION_DIM}-number 'action'"
        ) from None
    return _build(doc, a, w, lv, path, ids)


def read_npz(path: str | os.PathLike[str]) -> StrokeList:
    """Read the NPZ format. Raises BrushworkError naming the file and the problem."""
    if not Path(path).is_file():
        raise BrushworkError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"meta", "actions", "windows", "levels"} - set(z.files)
            if missing:
                raise BrushworkError(f"{path}: not a brushwork strokes file (missing {sorted(missing)})")
            # shapes from the .npy headers, before anything is decompressed
            names = ("meta", "actions", "windows", "levels", *(("brush_ids",) if "brush_ids" in z.files else ()))
            shapes = {name: _npz_shape(z, name) for name in names}
            n = shapes["actions"][0] if shapes["actions"] else 0
            if n > MAX_STROKES:
                raise BrushworkError(f"{path}: {n} strokes is more than the limit of {MAX_STROKES}")
            want = {"meta": (), "actions": (n, ACTION_DIM), "windows": (n, 3), "levels": (n,), "brush_ids": (n,)}
            bad = [k for k, shape in shapes.items() if shape != want[k]]
            if bad:
                raise BrushworkError(f"{path}: '{bad[0]}' has shape {shapes[bad[0]]}, expected {want[bad[0]]}")
            meta, actions, windows, levels = z["meta"], z["actions"], z["windows"], z["levels"]
            ids = z["brush_ids"] if "brush_ids" in z.files else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise BrushworkError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from None
    try:
        doc = json.loads(str(meta[()]))
    except (ValueError, TypeError, IndexError):
        raise BrushworkError(f"{path}: the 'meta' entry is not a JSON header") from None
    _check_header(doc, path)
    if doc["version"] >= 2 and ids is None:
        raise BrushworkError(f"{path}: a version {doc['version']} strokes file needs 'brush_ids'")
    for name, arr, kinds in (
        ("actions", actions, "f"),
        ("windows", windows, "f"),
        ("levels", levels, "iu"),
        ("brush_ids", ids if ids is not None else levels, "iu"),
    ):
        if arr.dtype.kind not in kinds:
            raise BrushworkError(f"{path}: '{name}' has dtype {arr.dtype}, expected a number array")
    return _build(doc, actions, windows, levels, path, ids if doc["version"] >= 2 else None)


def _npz_shape(z: np.lib.npyio.NpzFile, name: str) -> tuple[int, ...]:
    """The shape an .npz member declares in its .npy header, read without loading it; the 'meta'
    string must also be small (a header, not a payload)."""
    with z.zip.open(f"{name}.npy") as f:
        fmt = np.lib.format
        header = fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = header(f)
    if name == "meta" and dtype.itemsize > 1 << 20:
        raise BrushworkError(
            f"{z.zip.filename}: the 'meta' header is {dtype.itemsize} bytes; a strokes header is small"
        )
    return tuple(int(v) for v in shape)


def load(path: str | os.PathLike[str]) -> StrokeList:
    """Read a ``.json`` or ``.npz`` strokes file. Raises BrushworkError naming the file and the problem."""
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return read_json(path)
    if suffix == ".npz":
        return read_npz(path)
    raise BrushworkError(f"{path}: unknown strokes file type {suffix or '(none)'!r}; expected .json or .npz")


# -- reading helpers -----------------------------------------------------------------------------------


def _read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrushworkError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BrushworkError(f"{path}: cannot read it as a text file ({type(e).__name__})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise BrushworkError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise BrushworkError(f"{path}: nested too deeply to be a strokes file") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise BrushworkError(f"{path}: not a strokes file ({str(e).splitlines()[0][:80]})") from None
    if not isinstance(doc, dict):
        raise BrushworkError(f"{path}: not a brushwork strokes file (expected a JSON object)")
    return doc


def _check_header(doc: Any, path: str | os.PathLike[str]) -> None:
    """Check schema, version and action layout; raise BrushworkError on anything foreign."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise BrushworkError(f"{path}: not a brushwork strokes file (schema {found!r}, expected {SCHEMA!r})")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BrushworkError(f"{path}: invalid strokes schema version {version!r}")
    if version > VERSION:
        raise BrushworkError(
            f"{path}: strokes schema version {version} is newer than this brushwork reads (up to {VERSION}); "
            "upgrade brushwork"
        )
    if doc.get("action_fields") != list(FIELDS):
        raise BrushworkError(f"{path}: action_fields {doc.get('action_fields')!r} differ from {list(FIELDS)}")


def _build(
    doc: dict[str, Any],
    actions: np.ndarray,
    windows: np.ndarray,
    levels: np.ndarray,
    path: str | os.PathLike[str],
    brush_ids: np.ndarray | None = None,
) -> StrokeList:
    """Assemble and validate a StrokeList from a checked header and arrays; errors name the file.

    Version 1 headers name one brush ("brush"); version 2 headers list "brushes" and `brush_ids`
    index them."""
    try:
        width, height = doc["width"], doc["height"]
        if (
            isinstance(width, bool)
            or isinstance(height, bool)
            or not isinstance(width, int)
            or not isinstance(height, int)
        ):
            raise ValueError(f"width and height must be integers, got {width!r}, {height!r}")
        bg = doc["background"]
        if not isinstance(bg, list) or len(bg) != 3:
            raise ValueError(f"background must be 3 numbers, got {bg!r}")
        for name, arr in (("levels", levels), ("brush_ids", brush_ids)):
            if arr is not None and np.any(np.iinfo(np.int32).max < np.abs(np.asarray(arr, dtype=np.int64))):
                raise ValueError(f"{name} overflow int32")
        if doc["version"] >= 2:
            brushes = doc["brushes"]
            if not isinstance(brushes, list) or not brushes:
                raise ValueError(f"'brushes' must be a non-empty list of brush names, got {brushes!r}")
            out = StrokeList(tuple(brushes), width, height, tuple(bg), actions, windows, levels, brush_ids)
        else:
            out = StrokeList(doc["brush"], width, height, tuple(bg), actions, windows, levels)
        return out.validate()
    except KeyError as e:
        raise BrushworkError(f"{path}: header is missing {e.args[0]!r}") from None
    except (ValueError, TypeError) as e:
        raise BrushworkError(f"{path}: {e}") from None


__all__ = ["load", "read_json", "read_npz"]
