"""Reading a clip with PyAV (FFmpeg's libraries, bundled in its wheel): what it holds, and its frames.

    info = probe("clip.mp4")                 # ClipInfo: frames, fps, size (upright), audio, rotation
    picks = info.select(frames=(0, 120), fps=12)          # which source frames to paint
    for index, rgb in read_frames(info, picks, size=256): # (h, w, 3) float32 in [0, 1], upright
        ...

Anything FFmpeg reads is a clip: mp4, mov, webm, mkv, avi, mpg, animated GIF. Phone videos store
their frames sideways with a display matrix; frames come out the way the phone showed them.

A frame that FFmpeg cannot decode in the middle of a clip is not fatal: brushwork paints on, holding
the last good frame in its place, and says which frame it was (`ClipFrames.corrupt`). A clip whose
frames cannot be decoded at all is an error.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.images import fit_to_canvas
from brushwork.limits import MAX_CANVAS, MAX_CLIP_FRAMES

# Suffixes `brushwork paint` treats as clips (a .gif only when it has more than one frame).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv", ".gif")


def is_clip(path: str | os.PathLike) -> bool:
    """True if `path` names a clip by its suffix (an animated GIF counts; a still GIF is a photo)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return False
    if suffix == ".gif":
        try:
            from PIL import Image

            with Image.open(p) as im:
                return getattr(im, "n_frames", 1) > 1
        except OSError:
            return False
    return True


def _av():
    try:
        import av
    except ImportError:  # a main dependency: only a broken install gets here
        raise BrushworkError("painting a clip needs PyAV: pip install av") from None
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own chatter would bury brushwork's one-line errors
    return av


@dataclass(frozen=True)
class ClipInfo:
    """What a clip holds. Sizes are of the upright picture (rotation applied)."""

    path: str
    frames: int  # decodable video frames (counted by demuxing when the container does not say)
    fps: float  # the stream's average frame rate
    width: int
    height: int
    rotation: int  # degrees counter-clockwise the stored frames are turned for display (0, 90, 180, 270)
    audio: bool  # has an audio stream
    codec: str
    times: tuple[float, ...] = field(repr=False, default=())  # each frame's presentation time, s, from 0

    def select(self, frames: tuple[int, int] | None = None, fps: float | None = None) -> list[int]:
        """Source frame indices to paint: `frames` (A, B) is the half-open range [A, B) of source frames;
        `fps` resamples it (each output frame takes the latest source frame at its time)."""
        a, b = frames if frames is not None else (0, self.frames)
        if not (0 <= a < b <= self.frames):
            raise BrushworkError(
                f"--frames {a}:{b} is outside {self.path}'s {self.frames} frames; "
                f"give A:B with 0 <= A < B <= {self.frames}"
            )
        picks = list(range(a, b))
        if fps is not None and fps < self.fps - 1e-6:
            t0, t1 = self.times[a], self.times[b - 1] + 1.0 / self.fps
            n = max(1, math.floor((t1 - t0) * fps + 1e-6))
            times = np.asarray(self.times[a:b])
            picks = [a + int(np.searchsorted(times, t0 + k / fps + 1e-6, side="right") - 1) for k in range(n)]
        elif fps is not None and fps > self.fps + 1e-6:
            raise BrushworkError(f"--fps {fps:g} is above {self.path}'s {self.fps:g} fps; give at most {self.fps:g}")
        if len(picks) > MAX_CLIP_FRAMES:
            raise BrushworkError(
                f"{len(picks)} frames to paint is more than the limit of {MAX_CLIP_FRAMES}; "
                "paint part of the clip with --frames A:B or fewer with --fps"
            )
        return picks


def probe(path: str | os.PathLike) -> ClipInfo:
    """Open a clip and say what it holds, without decoding its pictures. One BrushworkError if it is
    not a readable clip, has no video stream or no frames, or its frames are too large."""
    av = _av()
    p = Path(path)
    if not p.is_file():
        raise BrushworkError(f"{p}: no such file")
    try:
        container = av.open(str(p))
    except av.error.FFmpegError as e:
        raise BrushworkError(f"{p} is not a video FFmpeg can read ({_reason(e)})") from None
    with container:
        if not container.streams.video:
            raise BrushworkError(f"{p} has no video stream")
        stream = container.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
        if max(w, h) > MAX_CANVAS:
            raise BrushworkError(f"{p}'s frames are {w}x{h} px, larger than the limit of {MAX_CANVAS} px")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        times = _frame_times(container, stream, p)
        if not times:
            raise BrushworkError(f"{p} has no video frames")
        fps = float(rate) if rate else (len(times) - 1) / max(1e-6, times[-1] - times[0]) if len(times) > 1 else 25.0
        rotation = _rotation(p)
        if rotation in (90, 270):
            w, h = h, w
        return ClipInfo(str(p), len(times), fps, w, h, rotation, bool(container.streams.audio),
                        stream.codec_context.name, tuple(times))  # fmt: skip


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


def _frame_times(container, stream, path: Path) -> list[float]:
    """Presentation times of the video packets, sorted, from the first (seconds). Demuxing reads no pixels."""
    av = _av()
    tb = stream.time_base
    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None:
                pts.append(packet.pts)
            elif packet.size:  # no timestamps (some raw streams): number them
                pts.append(len(pts))
            if len(pts) > 4 * MAX_CLIP_FRAMES:  # far beyond anything we paint: stop counting
                break
    except av.error.FFmpegError as e:
        if not pts:
            raise BrushworkError(f"{path} is not a video FFmpeg can read ({_reason(e)})") from None
    if not pts:
        return []
    pts.sort()
    t0 = pts[0]
    scale = float(tb) if tb else 1.0 / 25
    return [float((q - t0) * scale) for q in pts]


def _rotation(path: Path) -> int:
    """Degrees counter-clockwise the display matrix turns the stored frames (0, 90, 180, 270), read
    from the first decodable frame (PyAV's VideoFrame.rotation)."""
    av = _av()
    with av.open(str(path)) as container:
        try:
            for frame in _decode_packets(av, container, container.streams.video[0]):
                if frame is not None:
                    return _snap(frame.rotation)
        except av.error.FFmpegError:
            return 0
    return 0


@dataclass
class ClipFrames:
    """What `read_frames` met on the way: frames it could not decode (painted as the last good one)."""

    corrupt: list[int] = field(default_factory=list)


def read_frames(
    info: ClipInfo,
    picks: list[int],
    size: int | None = None,
    report: ClipFrames | None = None,
    notify: Callable[[str], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the source frames `picks` (increasing) -> (source index, (h, w, 3) float32 in [0, 1]),
    upright, fitted to long side `size` (None: as stored).

    A frame FFmpeg cannot decode is replaced by the last good one, named in `report.corrupt` and `notify`.
    """
    av = _av()
    report = report if report is not None else ClipFrames()
    wanted = iter(picks)
    nxt = next(wanted, None)
    last_good: np.ndarray | None = None
    last_frame = None  # the last decoded frame, converted only when it is needed

    def convert(frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        k = _snap(frame.rotation) // 90
        if k:
            rgb = np.rot90(rgb, k=k)  # counter-clockwise, as the display matrix says
        img = np.ascontiguousarray(rgb).astype(np.float32) / 255.0
        return fit_to_canvas(img, size, name=info.path) if size is not None else img

    index = -1
    with av.open(info.path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in _decode_packets(av, container, stream):
            index += 1
            if frame is not None:
                last_frame, last_good = frame, None
            if index != nxt:
                continue
            if frame is None:
                report.corrupt.append(index)
                if notify is not None:
                    notify(f"{info.path}: frame {index} could not be decoded; painted as the frame before it")
            if last_good is None:
                if last_frame is None:
                    raise BrushworkError(f"{info.path}: frame {index} could not be decoded, nor any frame before it")
                last_good = convert(last_frame)
            yield index, last_good
            nxt = next(wanted, None)
            if nxt is None:
                return
    raise BrushworkError(f"{info.path}: frame {nxt} could not be read (the clip ends after {index + 1} frames)")


def _decode_packets(av, container, stream) -> Iterator:
    """Decoded frames in order; None in place of a frame whose packet FFmpeg could not decode."""
    for packet in container.demux(stream):
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            if packet.size:
                yield None
            continue
        yield from frames
    # (the flush packet at the end comes through demux as an empty packet and drains the decoder)


def _snap(angle: float | int | None) -> int:
    return int(round((angle or 0) / 90.0)) % 4 * 90


def stream_rate(info: ClipInfo, picks: list[int]) -> Fraction:
    """The frame rate of the painted film: the clip's, or the rate `picks` were resampled at."""
    if len(picks) < 2:
        return Fraction(info.fps).limit_denominator(1001)
    span = info.times[picks[-1]] - info.times[picks[0]]
    rate = (len(picks) - 1) / span if span > 0 else info.fps
    if abs(rate - info.fps) < 1e-3 * info.fps:
        rate = info.fps
    return Fraction(rate).limit_denominator(1001)


__all__ = ["VIDEO_SUFFIXES", "ClipFrames", "ClipInfo", "is_clip", "probe", "read_frames", "stream_rate"]
