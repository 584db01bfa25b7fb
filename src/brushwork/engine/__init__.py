"""The real brush: libmypaint through ctypes, loaded only when first used.

Public calls: `render`, `render_over`,
`render_canvas`, `EngineCanvas`, `stroke_alphas`, `list_brushes`, `resolve_brush`.
"""

from brushwork.engine.brushes import DEFAULT_BRUSH, BrushInfo, list_brushes, require_learnable, resolve_brush
from brushwork.engine.draw import EngineCanvas, render, render_canvas, render_over, stroke_alphas

__all__ = [
    "DEFAULT_BRUSH",
    "BrushInfo",
    "EngineCanvas",
    "list_brushes",
    "require_learnable",
    "resolve_brush",
    "render",
    "render_canvas",
    "render_over",
    "stroke_alphas",
]
