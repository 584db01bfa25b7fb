"""Exports of a painting: PNG, layered OpenRaster, SVG strokes, and time-lapse GIF / MP4.

Every writer is atomic (see `brushwork.io`): on error no file, not even a partial one, appears.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image

from brushwork.actions import PRESSURE_SCALE
from brushwork.errors import BrushworkError
from brushwork.io import atomic_path, atomic_write, write_bytes_atomic
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


def _check_image(image: np.ndarray, channels: tuple[int, ...], name: str = "image") -> np.ndarray:
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
    write_bytes_atomic(path, _png_bytes(_check_image(image, (3, 4))))


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
    pngs = [_check_image(layer, (4,), f"layers[{i}]") for i, layer in enumerate(layers)]
    h, w = pngs[0].shape[:2]
    for i, layer in enumerate(pngs):
        if layer.shape[:2] != (h, w):
            raise ValueError(f"layers[{i}] is {layer.shape[1]}x{layer.shape[0]}, layers[0] is {w}x{h}")
    flat = _check_image(composite(bg, layers) if merged is None else merged, (3,), "merged")
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

    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w") as z:
        # mimetype: first, uncompressed, no extra field -- the spec's requirement for sniffing.
        z.writestr(
            zipfile.ZipInfo("mimetype", date_time=(1980, 1, 1, 0, 0, 0)),
            b"image/openraster",
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("stack.xml", stack_xml, compress_type=zipfile.ZIP_DEFLATED)
        for src, _, pixels in entries:
            z.writestr(src, _png_bytes(pixels), compress_type=zipfile.ZIP_STORED)  # PNG is compressed already
        buf = io.BytesIO()
        thumb.save(buf, format="PNG")
        z.writestr("Thumbnails/thumbnail.png", buf.getvalue(), compress_type=zipfile.ZIP_STORED)
        z.writestr("mergedimage.png", _png_bytes(flat), compress_type=zipfile.ZIP_STORED)


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
    grouped in ``<g class="level-K">`` runs of consecutive strokes of the same level.
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
        f"<desc>brushwork painting, brush {escape(strokes.brush)}, {len(strokes)} strokes</desc>",
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{_hex(strokes.background)}"/>',
    ]
    level = None
    for i in range(len(strokes)):
        if strokes.levels[i] != level:
            if level is not None:
                out.append("</g>")
            level = int(strokes.levels[i])
            out.append(f"<g class={quoteattr(f'level-{level}')}>")
        (sx, sy), (qx, qy), (ex, ey) = g.start[i], g.control[i], g.end[i]
        d = " ".join(_num(v) for v in (sx, sy)) + " Q " + " ".join(_num(v) for v in (qx, qy, ex, ey))
        out.append(
            f'<path d="M {d}" fill="none" stroke="{_hex(g.color[i])}" stroke-width="{_num(widths[i])}" '
            f'stroke-opacity="{opacities[i]:.3f}" stroke-linecap="round" stroke-linejoin="round"/>'
        )
    if level is not None:
        out.append("</g>")
    out.append("</svg>\n")
    with atomic_write(path, "w") as f:
        f.write("\n".join(out))


# -- time-lapse videos ---------------------------------------------------------------------------------


def frame_schedule(n_strokes: int, seconds: float = 6.0, fps: float = 10.0, include_start: bool = True) -> list[int]:
    """Stroke counts after which to take time-lapse frames, so a video lasts about `seconds`.

    Returns a strictly increasing list ending at `n_strokes` (and starting at 0, the bare canvas, if
    `include_start`) with at most round(seconds * fps) (+1) entries. Frames are denser early, where
    the coarse strokes change the picture most: count_k = n * t_k ** 2 for evenly spaced t_k.
    """
    if n_strokes < 0:
        raise ValueError(f"n_strokes must be >= 0, got {n_strokes}")
    n_frames = max(1, round(seconds * fps))
    t = np.linspace(0.0, 1.0, n_frames + 1)[1:]
    counts = np.unique(np.ceil(n_strokes * t**2).astype(np.int64))
    out = [int(c) for c in counts if c > 0]
    if include_start:
        out.insert(0, 0)
    return out if out else [0]


def _fit(size: tuple[int, int], max_size: int | None) -> tuple[int, int]:
    """(w, h) scaled down to fit a max_size box, keeping the aspect ratio."""
    w, h = size
    if max_size is None or max(w, h) <= max_size:
        return w, h
    s = max_size / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def _frames(frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    """Validate frames as (H, W, 3) uint8 of one size."""
    shape = None
    for i, frame in enumerate(frames):
        a = _check_image(frame, (3,), f"frames[{i}]")
        if shape is None:
            shape = a.shape
        elif a.shape != shape:
            raise ValueError(f"frames[{i}] has shape {a.shape} but frames[0] has {shape}; use one size")
        yield a
    if shape is None:
        raise ValueError("no frames to write")


def save_gif(
    path: PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 10.0,
    max_size: int | None = 512,
    hold_last: float = 1.5,
) -> None:
    """Write an animated GIF that loops forever.

    frames: (H, W, 3) uint8 (or float in [0, 1]) of one size, downscaled to fit max_size px.
    fps: at most 50 (browsers slow down faster GIFs). The last frame is shown `hold_last` s longer.
    One shared palette, from the first, middle and last frames, without dithering: frames don't
    flicker and unchanged areas stay identical, which keeps the file small. Note that Pillow merges
    identical consecutive frames into one (adding their durations).
    """
    if not 0 < fps <= 50:
        raise ValueError(f"GIF fps must be in (0, 50], got {fps!r}")
    images = []
    for a in _frames(frames):
        im = Image.fromarray(a)
        size = _fit(im.size, max_size)
        images.append(im if size == im.size else im.resize(size, Image.Resampling.LANCZOS))
    picks = sorted({0, len(images) // 2, len(images) - 1})
    palette = Image.fromarray(np.concatenate([np.asarray(images[i]) for i in picks], axis=0)).quantize(
        256, method=Image.Quantize.MEDIANCUT
    )
    paletted = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    step = 1000.0 / fps
    durations = [round(step)] * len(paletted)
    durations[-1] = round(step + hold_last * 1000.0)
    with atomic_write(path, "wb") as f:
        paletted[0].save(
            f, format="GIF", save_all=True, append_images=paletted[1:], duration=durations, loop=0, disposal=1
        )


def ffmpeg_path() -> str:
    """The ffmpeg executable, or BrushworkError if it is not installed (callers then skip MP4)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise BrushworkError("ffmpeg not found on PATH; install it (e.g. apt-get install ffmpeg) to write MP4")
    return exe


def save_mp4(
    path: PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 30.0,
    max_size: int | None = 1080,
    hold_last: float = 1.5,
    crf: int = 20,
) -> None:
    """Write an H.264 MP4 (yuv420p, +faststart) that browsers and phones play, through ffmpeg.

    frames: (H, W, 3) uint8 (or float in [0, 1]) of one size, streamed to ffmpeg's stdin (not kept in
    memory); downscaled to fit max_size px and to even dimensions (yuv420p needs them). The last frame
    is repeated for `hold_last` s. Raises BrushworkError (one line) if ffmpeg is missing or fails.
    """
    exe = ffmpeg_path()
    it = iter(_frames(frames))
    first = next(it)  # the size of the raw stream, before starting ffmpeg
    h, w = first.shape[:2]
    fw, fh = _fit((w, h), max_size)
    ow, oh = max(2, fw - fw % 2), max(2, fh - fh % 2)
    if (ow, oh) == (w, h):
        vf = []
    elif (fw, fh) == (w, h) and ow <= w and oh <= h:  # only an odd pixel to trim: crop, don't resample
        vf = ["-vf", f"crop={ow}:{oh}:0:0"]
    else:
        vf = ["-vf", f"scale={ow}:{oh}:flags=lanczos"]

    with atomic_path(path) as tmp, tempfile.TemporaryFile() as log:
        cmd = [
            exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", f"{fps:g}", "-i", "pipe:0",
            *vf, "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", str(tmp),
        ]  # fmt: skip
        # stderr to a file, not a pipe: a chatty ffmpeg can't then block on a full pipe while we write.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        assert proc.stdin is not None
        finished = False
        try:
            last = first
            proc.stdin.write(first.tobytes())
            for frame in it:
                proc.stdin.write(frame.tobytes())
                last = frame
            tail = last.tobytes()
            for _ in range(math.ceil(hold_last * fps)):
                proc.stdin.write(tail)
            proc.stdin.close()
            finished = True
        except BrokenPipeError:
            finished = True  # ffmpeg died early: its exit status and log say why
        finally:
            if not finished:  # an exception while producing frames: stop ffmpeg, the file is dropped
                proc.kill()
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            code = proc.wait()
        if code != 0:
            log.seek(0)
            lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
            why = lines[-1].strip() if lines else f"exit status {code}"
            raise BrushworkError(f"ffmpeg failed to write {path}: {why}")
