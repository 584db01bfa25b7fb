"""Loading the user's image robustly: any file Pillow reads, a PIL image or an array -> (H, W, 3) float RGB.

Every odd input gets a correct RGB result or one clear BrushworkError line:

=====================  ====================================================================
input                  result
=====================  ====================================================================
missing / folder       error naming the path
a pipe, <(cat a.png)   read to its end (a named pipe nobody writes to is empty: not an image)
device, socket         error: not a regular file
text, truncated file   error: not an image Pillow can read
> 2 x MAX_IMAGE_PIXELS Pillow's decompression-bomb guard stays on: one line, not a traceback
EXIF orientation       rotated upright (``ImageOps.exif_transpose``), as photo viewers show it
grayscale, 1-bit       grey RGB
palette (P)            its colours; a transparent palette entry is composited on white
RGBA, LA, PA           composited on white (a transparent photo shows white where it is clear)
16-bit (I;16, I)       scaled from 0..65535, not clipped at 255
32-bit float (F)       taken as [0, 1] if it lies there, else scaled by its maximum
CMYK, YCbCr            Pillow's conversion to RGB (ICC profiles are not applied)
animated GIF / APNG    the first frame
smaller than 8 px      error: too small to paint (MIN_SIDE)
long side > max_side   reduced with a note (JPEGs decode at reduced size directly: fast, small)
=====================  ====================================================================

Notes (things the user may want to know, but not errors) go to the `notify` callback.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from brushwork.errors import BrushworkError

ImageSource = str | os.PathLike | Image.Image | np.ndarray
Notify = Callable[[str], None]

MIN_SIDE = 8  # px: below this there is nothing to paint (and 8 px is the smallest window we use)
SMALL_SIDE = 32  # px: images with a long side below this are upscaled a lot: say so
MAX_SIDE = 4096  # px: larger images are reduced on load; the canvas is at most a few thousand px anyway
MAX_PIPE_BYTES = 512 << 20  # what a photo read from a pipe may hold


def _quiet(_: str) -> None:
    pass


def load_image(source: ImageSource, max_side: int = MAX_SIDE, notify: Notify | None = None) -> np.ndarray:
    """Read an image as float32 RGB.

    Args:
        source: a path, a ``PIL.Image.Image``, or an array (H, W), (H, W, 1|3|4) of uint8, uint16,
            bool or float in [0, 1].
        max_side: images with a longer side are reduced to it (keeping the aspect ratio).
        notify: receives one-line notes (downscaled, upscaled, transparency flattened); default: none.

    Returns:
        (H, W, 3) float32 in [0, 1].

    Raises:
        BrushworkError: one line naming the input and the problem (see the module docstring).

    Example:
        >>> load_image(np.zeros((10, 20), np.uint8)).shape
        (10, 20, 3)
    """
    notify = notify or _quiet
    if isinstance(source, np.ndarray):
        name = "image array"
        rgb = _array_to_rgb(source)
        h, w = rgb.shape[:2]
    elif isinstance(source, Image.Image | str | os.PathLike):
        name = str(source) if isinstance(source, str | os.PathLike) else "image"
        im, (w, h) = _open(Path(source), max_side) if isinstance(source, str | os.PathLike) else (source, source.size)
        im, (w, h) = _upright(im, (w, h))
        if min(w, h) >= MIN_SIDE:
            im = _shrink(im, max_side)
        rgb = _pil_to_rgb(im, name, notify)
    else:
        raise BrushworkError(f"image must be a file path, a PIL image or an array, got {type(source).__name__}")
    if min(h, w) < MIN_SIDE:
        raise BrushworkError(f"{name} is {w}x{h} px; an image needs at least {MIN_SIDE} px on each side to paint")
    if max(rgb.shape[:2]) > max_side:
        rgb = resize(rgb, *fit_size(*rgb.shape[:2], max_side))
    if max(h, w) > max_side:
        notify(f"{name} is {w}x{h} px; reduced to {rgb.shape[1]}x{rgb.shape[0]}")
    return rgb


def fit_size(h: int, w: int, long_side: int) -> tuple[int, int]:
    """(height, width) of an h x w image whose long side becomes `long_side` px (aspect kept)."""
    s = long_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _open(path: Path, max_side: int) -> tuple[Image.Image, tuple[int, int]]:
    """Open and decode a file -> (image, its stored (width, height)); every failure is one BrushworkError line."""
    if not path.exists():
        raise BrushworkError(f"{path}: no such file")
    if path.is_dir():
        raise BrushworkError(f"{path} is a folder, not an image file")
    source: Path | io.BytesIO = path
    if not path.is_file():
        source = io.BytesIO(read_pipe(path))
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x Image.MAX_IMAGE_PIXELS Pillow only warns; we reduce such images anyway.
            # Above 2x it raises DecompressionBombError: that guard stays on.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source)
            size = im.size
            # JPEG can decode at 1/2, 1/4, 1/8 size directly: a 50 Mpx photo then costs a fraction of
            # the memory and time. draft() keeps the result at least as large as asked.
            if im.format == "JPEG" and max(im.size) > max_side:
                im.draft("RGB", (max_side, max_side))
            im.load()
    except Image.DecompressionBombError:
        raise BrushworkError(
            f"{path}: image is larger than Pillow's decompression-bomb limit ({2 * Image.MAX_IMAGE_PIXELS} px); "
            "reduce it first"
        ) from None
    except UnidentifiedImageError:
        raise BrushworkError(f"{path}: not an image file Pillow can read (PNG, JPEG, WebP, TIFF, BMP...)") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or corrupt data
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BrushworkError(f"{path}: cannot decode the image ({why})") from None
    return im, size


def read_pipe(path: str | os.PathLike) -> bytes:
    """All the bytes of a pipe (`<(cat photo.png)`, a named pipe): one BrushworkError for anything else.

    Opened without blocking, so a named pipe nobody writes to reads as empty instead of waiting for ever.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISFIFO(mode):
        raise BrushworkError(f"{path} is not a regular file (a device or socket), not an image file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise BrushworkError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        os.set_blocking(fd, True)  # a writer that is there is waited for; with none, reads end at once
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_PIPE_BYTES:
                raise BrushworkError(f"{path}: more than {MAX_PIPE_BYTES >> 20} MB from a pipe; save it to a file")
    finally:
        os.close(fd)
    return b"".join(chunks)


def _upright(im: Image.Image, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """Apply the EXIF orientation; `size` (as stored) is swapped along when the image turns 90 degrees."""
    before = im.size
    try:
        # exif_transpose copies the whole image even when there is nothing to turn: ask first.
        if im.getexif().get(ExifTags.Base.Orientation, 1) in (0, 1):
            return im, size
        im = ImageOps.exif_transpose(im) or im
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        pass  # a broken EXIF block: keep the pixels as stored rather than refuse the photo
    turned = im.size != before and im.size == before[::-1]
    return im, (size[::-1] if turned else size)


def _shrink(im: Image.Image, max_side: int) -> Image.Image:
    """Box-reduce by an integer factor while the image stays above max_side: cheap, before going to float."""
    factor = max(im.size) // max_side
    if factor < 2:
        return im
    try:
        if im.mode in ("I;16", "I;16L", "I;16B", "I;16N"):  # reduce() takes 32-bit "I", not 16-bit modes
            return _reduce_16_bit(im, factor)
        return im.reduce(factor)
    except (ValueError, OSError):  # a mode reduce() does not support: the float resize does it all
        return im


def _reduce_16_bit(im: Image.Image, factor: int, band_rows: int = 1024) -> Image.Image:
    """A 16-bit image box-reduced by `factor`, through 32-bit "I" one band of rows at a time.

    Converting the whole image to "I" first held a copy twice its size (13000 px square: 676 MB more);
    bands a multiple of `factor` rows tall reduce to exactly the rows the whole image would.
    """
    w, h = im.size
    rows = factor * max(1, band_rows // factor)
    out = Image.new("I", (-(-w // factor), -(-h // factor)))
    for top in range(0, h, rows):
        out.paste(im.crop((0, top, w, min(h, top + rows))).convert("I").reduce(factor), (0, top // factor))
    return out.convert("I;16")


def _pil_to_rgb(im: Image.Image, name: str, notify: Notify) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) float32 in [0, 1], transparency on white."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _gray(np.asarray(im, dtype=np.float32) / 65535.0)
    if mode == "I":
        a = np.asarray(im)  # int32: float32 holds every 16-bit value exactly, at half float64's memory
        # Some Pillow versions read 16-bit PNG/TIFF greyscale as "I"; 8-bit data in "I" never exceeds 255.
        scale = 255.0 if a.max(initial=0) <= 255 else 65535.0
        g = a.astype(np.float32)
        del a
        g *= np.float32(1.0 / scale)
        return _gray(np.clip(g, 0.0, 1.0, out=g))
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32))
        top = float(a.max(initial=0.0))
        return _gray(np.clip(a / top if top > 1.0 else a, 0.0, 1.0).astype(np.float32))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB") and "transparency" in im.info)
    try:
        if has_alpha:
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
            alpha = rgba[..., 3:4]
            if float(alpha.min(initial=1.0)) < 1.0:
                notify(f"{name} has transparent pixels; they are painted as white")
            return (rgba[..., :3] * alpha + (1.0 - alpha)).astype(np.float32)
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (ValueError, OSError) as e:
        raise BrushworkError(f"{name}: cannot convert image mode {mode} to RGB ({e})") from None


def _gray(a: np.ndarray) -> np.ndarray:
    """(H, W) float -> (H, W, 3)."""
    return np.repeat(a[..., None], 3, axis=2)


def _array_to_rgb(a: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 1|3|4) uint8 / uint16 / bool / float in [0, 1] -> (H, W, 3) float32."""
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise BrushworkError(f"image array must have shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif a.dtype == np.bool_:
        f = a.astype(np.float32)
    elif a.dtype.kind == "f":
        f = a.astype(np.float32)
        if not np.all(np.isfinite(f)):
            raise BrushworkError("image array contains NaN or infinite values")
        lo, hi = float(f.min(initial=0.0)), float(f.max(initial=1.0))
        if lo < 0.0 or hi > 1.0:
            raise BrushworkError(f"float image arrays must lie in [0, 1], got values from {lo:.4g} to {hi:.4g}")
    else:
        raise BrushworkError(f"image array dtype must be uint8, uint16, bool or float, got {a.dtype}")
    if f.ndim == 2:
        return _gray(f)
    if f.shape[2] == 4:
        alpha = f[..., 3:4]
        return (f[..., :3] * alpha + (1.0 - alpha)).astype(np.float32)
    return np.ascontiguousarray(f)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) float32 -> (height, width, C): antialiased when reducing, bicubic when enlarging.

    Float throughout (no 8-bit round trip); bicubic overshoot is clipped back to [0, 1].
    """
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]  # (1, C, H, W)
    mode = "bicubic" if height * width > h * w else "bilinear"
    y = F.interpolate(x, size=(height, width), mode=mode, align_corners=False, antialias=True)
    return y[0].permute(1, 2, 0).clamp_(0.0, 1.0).contiguous().numpy()


def fit_to_canvas(image: np.ndarray, size: int, name: str = "image", notify: Notify | None = None) -> np.ndarray:
    """Resize (H, W, 3) so that its long side is `size` px, keeping the aspect ratio.

    Raises BrushworkError if the short side would fall below MIN_SIDE px (a very thin panorama).
    """
    notify = notify or _quiet
    h, w = image.shape[:2]
    ch, cw = fit_size(h, w, size)
    if min(ch, cw) < MIN_SIDE:
        raise BrushworkError(
            f"{name} is {w}x{h} px: at --size {size} its short side would be {min(ch, cw)} px "
            f"(< {MIN_SIDE}); use a larger --size or crop it"
        )
    if max(h, w) < SMALL_SIDE:
        notify(f"{name} is only {w}x{h} px; upscaled to {cw}x{ch}, so the painting follows a blurry target")
    return resize(image, ch, cw)


__all__ = ["MIN_SIDE", "MAX_SIDE", "fit_size", "ImageSource", "fit_to_canvas", "load_image", "resize"]
