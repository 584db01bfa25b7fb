"""brushwork: paint photos with real brushstrokes.

The public surface is small and loads nothing heavy at import time::

    import brushwork
    result = brushwork.paint("photo.jpg")          # a Painting: .image (the real brush's), .strokes
    pipe = brushwork.PaintPipeline.from_pretrained("classic/dry_brush")   # built once, then pipe(image)
    painter = brushwork.load_painter("classic/dry_brush")
    pixels = brushwork.render(actions, brush="classic/dry_brush", size=64)
    film = brushwork.VideoPipeline.from_pretrained("classic/dry_brush", size=256)("clip.mp4", "out/clip")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "paint", "PaintPipeline", "load_painter", "render", "BrushworkError", "VideoPipeline"]

from brushwork.errors import BrushworkError


def render(actions, brush: str = "classic/dry_brush", size: int = 64):
    """Render actions (N, 12) in [0, 1] with the real MyPaint engine: see `brushwork.engine.render`."""
    from brushwork.engine import render as _render

    return _render(actions, brush=brush, size=size)


def load_painter(brush: str = "classic/dry_brush", device: str = "cpu"):
    """Load a shipped (or user) neural painter: see `brushwork.models.painter.load_painter`."""
    from brushwork.models.painter import load_painter as _load

    return _load(brush, device=device)


def paint(image, config=None, **kwargs):
    """Paint an image with brushstrokes: see `brushwork.painting.pipeline.paint`."""
    from brushwork.painting.pipeline import paint as _paint

    return _paint(image, config, **kwargs)


def __getattr__(name: str):
    if name == "PaintPipeline":  # imported on first use: `import brushwork` stays light
        from brushwork.painting.pipeline import PaintPipeline

        return PaintPipeline
    if name == "VideoPipeline":
        from brushwork.video.pipeline import VideoPipeline

        return VideoPipeline
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")
