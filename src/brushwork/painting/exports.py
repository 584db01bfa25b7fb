"""Exports of a painting: PNG, layered OpenRaster, SVG strokes, and time-lapse GIF / MP4.

Every writer is atomic (see `brushwork.io`): on error no file, not even a partial one, appears.
"""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image

from brushwork.actions import PRESSURE_SCALE
from brushwork.io import atomic_write, write_bytes_atomic
from brushwork.painting.strokes import StrokeList

PathLike = str | os.PathLike[str]


def as_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; floats in [0, 1] are clipped, scaled by 255 and rounded. Raises ValueError on NaN."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind != "f":
        raise ValueError(f"image must be a float or uint8 array, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError("image contains NaN or infinite values")
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def check_image(image: np.ndarray, channels: tuple[int, ...], name: str = "image") -> np.ndarray:
    a = as_uint8(image)
    if a.ndim != 3 or a.shape[2] not in channels or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (H, W, {' or '.join(map(str, channels))}), got {a.shape}")
    return np.ascontiguousarray(a)


def _png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


# -- PNG -----------------------------------------------------------------------------------------------


def save_png(path: PathLike, image: np.ndarray) -> None:
    """Write an (H, W, 3) RGB or (H, W, 4) RGBA image, float in [0, 1] or uint8, as PNG."""
    write_bytes_atomic(path, _png_bytes(check_image(image, (3, 4))))


# -- OpenRaster ----------------------------------------------------------------------------------------


def composite(background_rgb: Sequence[float], layers: Sequence[np.ndarray]) -> np.ndarray:
    """Layers (H, W, 4) straight-alpha RGBA in [0, 1], bottom first, over a plain background.

    Returns (H, W, 3) float32 in [0, 1]: what `svg:src-over` compositing shows.
    """
    h, w = np.asarray(layers[0]).shape[:2]
    out = np.empty((h, w, 3), np.float32)
    out[:] = np.asarray(background_rgb, np.float32)
    for layer in layers:
        layer = np.asarray(layer, np.float32)
        alpha = layer[..., 3:4]
        out = layer[..., :3] * alpha + out * (1.0 - alpha)
    return out


def save_ora(
    path: PathLike,
    background_rgb: Sequence[float],
    layers: Sequence[np.ndarray],
    names: Sequence[str],
    merged: np.ndarray | None = None,
) -> None:
    """Write a layered OpenRaster (.ora) file that MyPaint, Krita and GIMP open.

    background_rgb: 3 floats in [0, 1], becomes an opaque bottom layer named "background".
    layers: one (H, W, 4) straight-alpha RGBA array (float in [0, 1] or uint8) per coarse-to-fine
        level, bottom (first painted) first.
    names: one layer name per layer.
    merged: (H, W, 3) the flattened painting, float in [0, 1] or uint8; composited from the layers
        if None.

    Zip layout (OpenRaster 0.0.6): ``mimetype`` first and stored uncompressed (so that ``file`` and
    apps can sniff it at offset 38), ``stack.xml`` listing layers top of stack first, ``data/*.png``,
    ``Thumbnails/thumbnail.png`` (at most 256 px) and ``mergedimage.png``.
    """
    if len(layers) == 0 or len(layers) != len(names):
        raise ValueError(f"need at least one layer and one name per layer, got {len(layers)} and {len(names)}")
    bg = np.asarray(background_rgb, np.float64)
    if bg.shape != (3,) or not np.all((bg >= 0) & (bg <= 1)):
        raise ValueError(f"background_rgb must be 3 numbers in [0, 1], got {background_rgb!r}")
    pngs = [check_image(layer, (4,), f"layers[{i}]") for i, layer in enumerate(layers)]
    h, w = pngs[0].shape[:2]
    for i, layer in enumerate(pngs):
        if layer.shape[:2] != (h, w):
            raise ValueError(f"layers[{i}] is {layer.shape[1]}x{layer.shape[0]}, layers[0] is {w}x{h}")
    flat = check_image(composite(bg, layers) if merged is None else merged, (3,), "merged")
    if flat.shape[:2] != (h, w):
        raise ValueError(f"merged is {flat.shape[1]}x{flat.shape[0]}, layers are {w}x{h}")

    background = np.empty((h, w, 4), np.uint8)
    background[..., :3] = as_uint8(bg.astype(np.float32))
    background[..., 3] = 255

    # stack.xml: the first child is the top of the stack, so the finest level first, background last.
    image = ET.Element("image", {"version": "0.0.6", "w": str(w), "h": str(h), "xres": "72", "yres": "72"})
    stack = ET.SubElement(image, "stack")
    entries = [(f"data/layer{i:03d}.png", str(names[i]), pngs[i]) for i in range(len(pngs))][::-1]
    entries.append(("data/background.png", "background", background))
    for src, name, _ in entries:
        ET.SubElement(stack, "layer", {
            "name": name, "src": src, "x": "0", "y": "0", "opacity": "1.0",
            "visibility": "visible", "composite-op": "svg:src-over",
        })  # fmt: skip
    ET.indent(image)
    stack_xml = ET.tostring(image, encoding="UTF-8", xml_declaration=True)

    thumb = Image.fromarray(flat)
    thumb.thumbnail((256, 256), Image.Resampling.LANCZOS)

    def entry(name: str, compress: int) -> zipfile.ZipInfo:
        # A fixed timestamp: the same painting gives the same bytes (the default is the current time).
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = compress
        return info

    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w") as z:
        # mimetype: first, uncompressed, no extra field -- the spec's requirement for sniffing.
        z.writestr(entry("mimetype", zipfile.ZIP_STORED), b"image/openraster")
        z.writestr(entry("stack.xml", zipfile.ZIP_DEFLATED), stack_xml)
        for src, _, pixels in entries:
            z.writestr(entry(src, zipfile.ZIP_STORED), _png_bytes(pixels))  # PNG is compressed already
        buf = io.BytesIO()
        thumb.save(buf, format="PNG")
        z.writestr(entry("Thumbnails/thumbnail.png", zipfile.ZIP_STORED), buf.getvalue())
        z.writestr(entry("mergedimage.png", zipfile.ZIP_STORED), _png_bytes(flat))


# -- SVG -----------------------------------------------------------------------------------------------

# The SVG is a vector approximation of the raster painting: each stroke becomes one round-capped
# quadratic curve of constant width and opacity. MyPaint's dab radius is exp(size * 2) * w / 64 px;
# pressure (mean along the stroke, p in [0, 0.8]) usually scales both dab opacity and, a little, the
# radius. We map pn = p / 0.8 in [0, 1] to
#     stroke-width   = 2 * radius * (SVG_MIN_WIDTH + (1 - SVG_MIN_WIDTH) * pn)
#     stroke-opacity = SVG_MIN_OPACITY + (1 - SVG_MIN_OPACITY) * pn
# (many overlapping dabs make a real stroke more opaque than one dab, hence the generous floor).
SVG_MIN_WIDTH = 0.6
SVG_MIN_OPACITY = 0.4


def _num(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _hex(rgb: Sequence[float]) -> str:
    r, g, b = (int(np.clip(c, 0.0, 1.0) * 255.0 + 0.5) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def save_svg(path: PathLike, strokes: StrokeList, scale: float = 1.0) -> None:
    """Write the strokes as an SVG of (width * scale) x (height * scale) px (see the approximation above).

    A background rect, then one ``<path d="M sx sy Q qx qy ex ey">`` per stroke in painting order,
    grouped in ``<g class="level-K" data-brush="NAME">`` runs of consecutive strokes of the same
    level and brush.
    """
    strokes.validate()
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    g = strokes.geometry(scale)
    pn = np.clip(g.mean_pressure / PRESSURE_SCALE, 0.0, 1.0)
    widths = 2 * g.radius * (SVG_MIN_WIDTH + (1 - SVG_MIN_WIDTH) * pn)
    opacities = SVG_MIN_OPACITY + (1 - SVG_MIN_OPACITY) * pn
    w, h = _num(strokes.width * scale), _num(strokes.height * scale)

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        f"<desc>brushwork painting, {'brushes' if len(strokes.brushes) > 1 else 'brush'} "
        f"{escape(', '.join(strokes.brushes))}, {len(strokes)} strokes</desc>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{_hex(strokes.background)}"/>',
    ]
    group = None
    for i in range(len(strokes)):
        if (strokes.levels[i], strokes.brush_ids[i]) != group:
            if group is not None:
                out.append("</g>")
            group = (int(strokes.levels[i]), int(strokes.brush_ids[i]))
            brush = strokes.brushes[group[1]]
            out.append(f"<g class={quoteattr(f'level-{group[0]}')} data-brush={quoteattr(brush)}>")
        (sx, sy), (qx, qy), (ex, ey) = g.start[i], g.control[i], g.end[i]
        d = " ".join(_num(v) for v in (sx, sy)) + " Q " + " ".join(_num(v) for v in (qx, qy, ex, ey))
        out.append(
            f'<path d="M {d}" fill="none" stroke="{_hex(g.color[i])}" stroke-width="{_num(widths[i])}" '
            f'stroke-opacity="{opacities[i]:.3f}" stroke-linecap="round" stroke-linejoin="round"/>'
        )
    if group is not None:
        out.append("</g>")
    out.append("</svg>\n")
    with atomic_write(path, "w") as f:
        f.write("\n".join(out))
