"""Writing a painted film with PyAV: H.264 in MP4, with the clip's own sound.

    write_mp4("painting.mp4", frames, rate=Fraction(25), audio=AudioSource("clip.mp4", 1.0, 5.0))

`frames` is any iterable of (h, w, 3) uint8 RGB arrays of one size; odd sizes are padded by one
edge pixel (H.264 in 4:2:0 needs even sides). The sound of the source clip between `start` and
`end` seconds is re-encoded as AAC so the film and its sound stay in step whatever part was painted.
The encoder runs single-threaded without lookahead: the same frames give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import atomic_path

CRF = "18"  # visually lossless for paintings: brush texture survives, files stay small


@dataclass(frozen=True)
class AudioSource:
    """The sound to put under the film: the audio of `path` from `start` to `end` seconds."""

    path: str
    start: float
    end: float


def _even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return image


def write_mp4(
    path: str | os.PathLike, frames: Iterable[np.ndarray], rate: Fraction, audio: AudioSource | None = None
) -> int:
    """Encode `frames` at `rate` fps into `path` (atomically), with `audio` if given. Returns the frame count."""
    import av

    count = 0
    with atomic_path(Path(path)) as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            video = None
            for image in frames:
                image = _even(np.ascontiguousarray(image, dtype=np.uint8))
                if video is None:
                    video = out.add_stream("libx264", rate=rate)
                    video.width, video.height = image.shape[1], image.shape[0]
                    video.pix_fmt = "yuv420p"
                    # x264's lookahead (frame-type decisions, macroblock tree) gave different bytes for the
                    # same frames from run to run, even on one thread (measured); without it the same
                    # frames encode to the same bytes, which --resume promises
                    video.codec_context.options = {"crf": CRF, "preset": "medium", "threads": "1",
                                                   "x264-params": "threads=1:rc-lookahead=0:mbtree=0"}
                    video.codec_context.thread_count = 1
                    sound = _add_audio(out, audio) if audio is not None else None
                # converted here, not inside encode(): measured, the encoder's own conversion made the same
                # frames encode to different bytes from run to run
                yuv = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p").to_ndarray()
                frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                frame.pts = count
                frame.time_base = Fraction(1) / rate
                out.mux(video.encode(frame))
                count += 1
            if video is None:
                raise BrushworkError(f"no frames to write into {path}")
            out.mux(video.encode(None))
            if sound is not None:
                _copy_audio(out, sound, audio, count / float(rate))
    return count


def _add_audio(out, audio: AudioSource):
    """An AAC stream like the source's (rate, layout), or None when the source has no sound."""
    import av

    with av.open(audio.path) as src:
        if not src.streams.audio:
            return None
        a = src.streams.audio[0].codec_context
        rate = a.sample_rate or 48000
        layout = a.layout.name if a.layout is not None and a.layout.nb_channels <= 2 else "stereo"
    stream = out.add_stream("aac", rate=rate)
    stream.layout = layout
    stream.codec_context.options = {"threads": "1"}
    return stream


def _copy_audio(out, stream, audio: AudioSource, seconds: float) -> None:
    """Decode the source's sound in [start, start + seconds), resample it for AAC and encode it."""
    import av

    rate = stream.codec_context.sample_rate
    resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
    end = min(audio.end, audio.start + seconds)
    parts: list[np.ndarray] = []
    origin: float | None = None  # the time of the first decoded sample, s
    with av.open(audio.path) as src:
        s = src.streams.audio[0]
        video = src.streams.video[0] if src.streams.video else None
        # times in the film count from the first video frame, as ClipInfo.times do
        zero = float(video.start_time * video.time_base) if video is not None and video.start_time is not None else 0.0
        for packet in src.demux(s):
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:  # a damaged packet (often the first of an AC-3 track): skip it
                continue
            for frame in decoded:
                if origin is None:
                    origin = (frame.time if frame.time is not None else zero) - zero
                parts += [p.to_ndarray() for p in resampler.resample(frame)]
            if packet.pts is not None and packet.time_base and float(packet.pts * packet.time_base) - zero > end + 1:
                break
        parts += [p.to_ndarray() for p in resampler.resample(None)]
    if not parts or origin is None:
        out.mux(stream.encode(None))
        return
    samples = np.concatenate(parts, axis=1)  # (channels, n) float32 planar
    first, last = round((audio.start - origin) * rate), round((end - origin) * rate)
    if first < 0:  # the sound starts after the picture: silence until it does
        samples = np.concatenate([np.zeros((samples.shape[0], -first), samples.dtype), samples], axis=1)
        last, first = last - first, 0
    samples = samples[:, first:last]
    chunk = stream.codec_context.frame_size or 1024
    for k in range(0, samples.shape[1], chunk):
        part = np.ascontiguousarray(samples[:, k : k + chunk])
        frame = av.AudioFrame.from_ndarray(part, format="fltp", layout=stream.layout.name)
        frame.sample_rate = rate
        frame.pts = k
        frame.time_base = Fraction(1, rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


__all__ = ["AudioSource", "write_mp4"]
