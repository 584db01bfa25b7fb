"""The brush registry: MyPaint brushes by name (`classic/dry_brush`) or a user's `.myb` by path.

A brush can be learned and painted with if one colour and an alpha describe its stroke (a dry
brush), or if it smudges (a wet brush: it picks up the colour already on the canvas and drags it
along; its painter sees the canvas, `brushwork.models.wet_painter`). Brushes that erase, lock
alpha, colorize or shift the colour along the stroke are listed but refused for training and
painting.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from brushwork.errors import BrushworkError

DEFAULT_BRUSH = "classic/dry_brush"
BRUSH_DIRS_ENV = "BRUSHWORK_BRUSH_DIRS"  # extra folders of .myb files, os.pathsep separated
_SYSTEM_DIRS = (
    "/usr/share/mypaint-data/2.0/brushes",
    "/usr/share/mypaint-data/1.0/brushes",
    "/usr/local/share/mypaint-data/2.0/brushes",
    "/opt/homebrew/share/mypaint-data/2.0/brushes",
)
# setting -> why a brush that uses it cannot be modelled as one colour plus an alpha
_UNLEARNABLE = {
    "eraser": "erases",
    "lock_alpha": "locks alpha",
    "colorize": "colorizes",
    "change_color_h": "shifts colour",
    "change_color_l": "shifts colour",
    "change_color_hsl_s": "shifts colour",
    "change_color_hsv_s": "shifts colour",
    "change_color_v": "shifts colour",
}


@dataclass(frozen=True)
class BrushInfo:
    """A brush found on disk."""

    name: str  # registry name such as "classic/dry_brush", or the path for a user's file
    path: Path
    problem: str | None  # why it cannot be learned ("erases", ...), None if it can
    wet: bool = False  # it smudges: a stroke depends on the canvas under it

    @property
    def learnable(self) -> bool:
        return self.problem is None

    @property
    def myb(self) -> bytes:
        return _read_myb(str(self.path))


def brush_dirs() -> list[Path]:
    """Folders searched for named brushes, user folders first."""
    extra = [Path(p) for p in os.environ.get(BRUSH_DIRS_ENV, "").split(os.pathsep) if p]
    return [d for d in [*extra, *map(Path, _SYSTEM_DIRS)] if d.is_dir()]


@cache
def _read_myb(path: str) -> bytes:
    return Path(path).read_bytes()


# settings that set the engine's work per stroke, and the most (base value plus what its inputs can
# add) we let a brush ask for: the brushes mypaint-brushes installs reach 6, 69, 80 and 8.6; a
# .myb asking for 1e9 dabs a radius made `render` run on for ever
WORK_LIMITS = {"dabs_per_basic_radius": 100.0, "dabs_per_actual_radius": 100.0, "dabs_per_second": 1000.0,
               "radius_logarithmic": 10.0}  # fmt: skip


def _settings(path: Path) -> dict:
    """A .myb's settings, checked: a mapping of settings each with a numeric base value and inputs."""
    try:
        settings = json.loads(_read_myb(str(path)))["settings"]
        if not isinstance(settings, dict):
            raise TypeError("'settings' is not a mapping")
        for name, s in settings.items():
            if not isinstance(s, dict) or not isinstance(s.get("base_value", 0.0), int | float):
                raise TypeError(f"setting {name!r} is not a mapping with a numeric base_value")
            inputs = s.get("inputs", {})
            if not isinstance(inputs, dict) or not all(
                isinstance(pts, list) and all(isinstance(p, list) and len(p) == 2 for p in pts)
                for pts in inputs.values()
            ):
                raise TypeError(f"setting {name!r} has inputs that are not lists of [x, y] points")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BrushworkError(f"{path} is not a MyPaint brush file (.myb): {e}") from None
    for name, limit in WORK_LIMITS.items():
        s = settings.get(name) or {}
        try:
            most = float(s.get("base_value", 0.0)) + sum(max((abs(float(y)) for _, y in pts), default=0.0)
                                                         for pts in s.get("inputs", {}).values())  # fmt: skip
        except (TypeError, ValueError):
            why = f"{name} has points that are not numbers"
            raise BrushworkError(f"{path} is not a MyPaint brush file (.myb): {why}") from None
        if not most <= limit:  # also NaN
            raise BrushworkError(f"{path} asks for {name} up to {most:g}; brushwork paints brushes up to {limit:g}")
    return settings


def _uses(settings: dict, key: str) -> bool:
    s = settings.get(key)
    return s is not None and (s.get("base_value", 0) != 0 or any(s.get("inputs", {}).values()))


def _info(name: str, path: Path) -> BrushInfo:
    settings = _settings(path)
    return BrushInfo(name, path, _problem(settings), wet=_uses(settings, "smudge"))


def _problem(settings: dict) -> str | None:
    reasons = []
    for key, why in _UNLEARNABLE.items():
        if _uses(settings, key) and why not in reasons:
            reasons.append(why)
    return ", ".join(reasons) or None


def list_brushes() -> list[BrushInfo]:
    """Every named brush in the brush folders, sorted by name (first folder wins on a clash)."""
    found: dict[str, Path] = {}
    for root in brush_dirs():
        for path in sorted(root.glob("*/*.myb")) + sorted(root.glob("*.myb")):
            name = path.relative_to(root).with_suffix("").as_posix()
            found.setdefault(name, path)
    return [_info(name, path) for name, path in sorted(found.items())]


def resolve_brush(brush: str | os.PathLike) -> BrushInfo:
    """Find a brush by registry name (`classic/dry_brush`, `.myb` optional) or by file path.

    Raises BrushworkError with close matches when the name is unknown.
    """
    text = str(brush)
    path = Path(text).expanduser()
    if text.endswith(".myb") and path.is_file():
        return _info(str(path), path)
    name = text.removesuffix(".myb")
    for root in brush_dirs():
        candidate = root / f"{name}.myb"
        if candidate.is_file():
            return _info(name, candidate)
    dirs = brush_dirs()
    if not dirs:
        raise BrushworkError(
            "no MyPaint brushes found: install them with 'sudo apt-get install mypaint-brushes' "
            f"or point {BRUSH_DIRS_ENV} to a folder of .myb files"
        )
    names = [b.name for b in list_brushes()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if not close:  # "charcoal" -> "classic/charcoal"
        close = [n for n in names if n.split("/")[-1] == name.split("/")[-1]][:3]
    hint = f"; did you mean {', '.join(close)}?" if close else "; 'brushwork brushes' lists them"
    raise BrushworkError(f"unknown brush {text!r}{hint}")


def require_learnable(info: BrushInfo) -> BrushInfo:
    """Raise if a brush can be modelled neither as one colour plus an alpha nor as a smudge."""
    if not info.learnable:
        raise BrushworkError(
            f"brush {info.name!r} {info.problem}, which brushwork cannot model; "
            "pick a brush marked 'yes' in 'brushwork brushes'"
        )
    return info
