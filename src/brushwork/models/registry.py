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


def shipped_provenance(brush: str) -> dict:
    """What the json beside a shipped painter records (commands, seeds, held-out metrics); {} if none."""
    import json

    path = _file_for(brush).with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def painter_path(brush: str | Path) -> Path:
    """The painter file for a shipped brush name, or the given file (.safetensors or any existing path)."""
    text = str(brush)
    if text.endswith(".safetensors") or Path(text).expanduser().is_file():
        return Path(text).expanduser()
    path = _file_for(text)
    if not path.is_file():
        have = ", ".join(shipped_brushes()) or "none"
        raise BrushworkError(
            f"no painter for brush {text!r} (shipped: {have}); train one with 'brushwork train all --brush {text}'"
        )
    return path


# ----------------------------------------------------------------------------- architectures
# A painter file says which network it holds in its metadata ("architecture"); loading picks the
# class registered under that name, so a new architecture is one class with a decorator, and no
# loader learns about it. Files written before the key existed hold today's Painter.

ARCHITECTURES: dict[str, type] = {}
LEGACY_ARCHITECTURE = "mlp_pixelshuffle"  # what a painter file without an "architecture" key holds
# the package's own architectures outside models.painter, imported when a file names them
BUILTIN_MODULES = {"wet_unet": "brushwork.models.wet_painter"}


def register_architecture(name: str):
    """Class decorator: painter files with `architecture: name` in their metadata load as this class.

    The class needs a `config_class` (the dataclass its file's "config" JSON fills) and the painter
    interface (`alpha_logits`, `alpha`, `color`, `forward`); the decorator sets `cls.architecture`,
    which `save_pretrained` writes. Registering another class under a taken name is an error.
    """

    def add(cls: type) -> type:
        old = ARCHITECTURES.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:  # same class re-imported is fine
            raise ValueError(f"painter architecture {name!r} is already registered by {old.__qualname__}")
        cls.architecture = name
        ARCHITECTURES[name] = cls
        return cls

    return add


def architecture_class(name: str) -> type:
    """The class registered under `name`; BrushworkError naming the known ones otherwise.

    Classes register when their module is imported; the built-in one lives in `models.painter`,
    whose `Painter.from_pretrained` is the caller, so it is always registered by then.
    """
    if name not in ARCHITECTURES and name in BUILTIN_MODULES:
        import importlib

        importlib.import_module(BUILTIN_MODULES[name])
    if name not in ARCHITECTURES:
        raise BrushworkError(
            f"unknown painter architecture {name!r} (known: {', '.join(sorted(ARCHITECTURES))}); "
            "import the module that registers it, or update brushwork"
        )
    return ARCHITECTURES[name]
