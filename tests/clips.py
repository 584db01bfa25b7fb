"""Small real clips for the video and Ray tests: a pan over a textured landscape, encoded by PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

W, H = 96, 64


def scene(k: int, shift: float = 2.0, cut_at: int | None = None) -> np.ndarray:
    """Frame k of a pan over a textured landscape with a disc moving the other way; (H, W, 3) uint8."""
    x = np.arange(W)[None, :] + k * shift
    y = np.arange(H)[:, None]
    if cut_at is not None and k >= cut_at:  # another shot: other colours, other shapes
        img = np.stack([0.2 + 0.1 * np.sin(y / 5.0) + 0 * x, 0.5 + 0.3 * np.cos(x / 9.0) + 0 * y,
                        0.8 - 0.004 * y + 0 * x], -1)  # fmt: skip
    else:
        img = np.stack([0.5 + 0.35 * np.sin(x / 11.0) + 0 * y, 0.4 + 0.3 * np.cos(y / 7.0 + x / 17.0),
                        0.3 + 0.2 * np.sin((x + y) / 13.0)], -1)  # fmt: skip
        cx, cy = 70 - 3 * k, 30 + k
        disc = (np.arange(W)[None, :] - cx) ** 2 + (y - cy) ** 2 < 12**2
        img[disc] = (0.9, 0.85, 0.2)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_clip(path: Path, frames: int = 12, fps: int = 12, audio: bool = True, rotation: int = 0,
              cut_at: int | None = None) -> Path:  # fmt: skip
    """An H.264 clip (with an AAC tone) encoded by PyAV."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.options = {"crf": "12", "threads": "1"}
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(scene(k, cut_at=cut_at), format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(int(16000 * frames / fps)) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for s in range(0, tone.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, s : s + 1024]), format="fltp",
                                                layout="mono")  # fmt: skip
                af.sample_rate, af.pts, af.time_base = 16000, s, Fraction(1, 16000)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path
