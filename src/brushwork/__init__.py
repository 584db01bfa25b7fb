"""brushwork: paint photos with real brushstrokes.

The public surface is small and loads nothing heavy at import time::

    import brushwork
    result = brushwork.paint("photo.jpg")          # a Painting: .image, .strokes
    painter = brushwork.load_painter("classic/dry_brush")
    pixels = brushwork.render(actions, brush="classic/dry_brush", size=64)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "paint", "load_painter", "render", "BrushworkError"]

from brushwork.errors import BrushworkError


def render(actions, brush: str = "classic/dry_brush", size: int = 64):
    """Render actions (N, 12) in [0, 1] with the real MyPaint engine: see `brushwork.engine.render`."""
    from brushwork.engine import render as _render

    return _render(actions, brush=brush, size=size)


def load_painter(brush: str = "classic/dry_brush", device: str = "cpu"):
    """Load a shipped (or user) neural painter: see `brushwork.models.painter.load_painter`."""
    from brushwork.models.painter import load_painter as _load

    return _load(brush, device=device)


def paint(image, **kwargs):
    """Paint an image with brushstrokes: see `brushwork.painting.pipeline.paint`."""
    from brushwork.painting.pipeline import paint as _paint

    return _paint(image, **kwargs)
