"""Shipped painter weights, by brush name: `src/brushwork/weights/<group>__<name>.safetensors`."""

from __future__ import annotations

from pathlib import Path

from brushwork.errors import BrushworkError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def _file_for(brush: str) -> Path:
    return WEIGHTS_DIR / f"{brush.removesuffix('.myb').replace('/', '__')}.safetensors"


def shipped_brushes() -> list[str]:
    """Brush names with a painter inside the package."""
    return sorted(p.stem.replace("__", "/") for p in WEIGHTS_DIR.glob("*.safetensors"))


def painter_path(brush: str | Path) -> Path:
    """The painter file for a brush name, or the given .safetensors path."""
    text = str(brush)
    if text.endswith(".safetensors"):
        return Path(text).expanduser()
    path = _file_for(text)
    if not path.is_file():
        have = ", ".join(shipped_brushes()) or "none"
        raise BrushworkError(
            f"no painter for brush {text!r} (shipped: {have}); train one with 'brushwork train all --brush {text}'"
        )
    return path
