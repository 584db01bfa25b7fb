"""Time-lapse videos of a painting: which frames, an animated GIF (Pillow) and an MP4 (ffmpeg).

Every writer is atomic (see `brushwork.io`): on error no file, not even a partial one, appears.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterable

import numpy as np
from PIL import Image

from brushwork.errors import BrushworkError
from brushwork.io import atomic_path, atomic_write
from brushwork.painting.exports import PathLike, check_image

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
        a = check_image(frame, (3,), f"frames[{i}]")
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


__all__ = ["ffmpeg_path", "frame_schedule", "save_gif", "save_mp4"]
