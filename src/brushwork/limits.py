"""Limits on what brushwork accepts, checked before any work so that no input can exhaust the machine.

Each limit says why it is where it is. Errors name the value, the limit and what to do.
"""

from __future__ import annotations

MAX_CANVAS = 8192  # px, long side of a canvas or render: beyond this one RGBA float canvas is > 1 GB
MIN_WINDOW = 8  # px: below this a stroke is a smudge of a few pixels
MAX_STROKES = 200_000  # strokes in a painting or strokes file: ~10 min of engine time, ~100 MB of arrays
# A stroke's window may be at most this many times the canvas's long side, and must overlap the
# canvas: libmypaint's work grows with the window's area, and strokes far off the canvas paint nothing.
MAX_WINDOW_PER_CANVAS = 2.0
MAX_VIDEO_SECONDS = 600.0  # a time-lapse longer than 10 minutes is a mistake, and holds every frame
MAX_VIDEO_SIZE = 4096  # px, long side of a time-lapse frame
MAX_FPS = 60
MAX_VIDEO_BYTES = 2 << 30  # all frames of a time-lapse are held in memory (uint8 RGB) while encoding
# Frames of a clip painted in one run: 20,000 frames is 11 minutes at 30 fps and, at ~5 s a frame,
# a day on one machine; longer work is cut up with --frames (or spread over machines).
MAX_CLIP_FRAMES = 20_000


__all__ = [
    "MAX_CLIP_FRAMES",
    "MAX_CANVAS",
    "MAX_FPS",
    "MAX_STROKES",
    "MAX_VIDEO_BYTES",
    "MAX_VIDEO_SECONDS",
    "MAX_VIDEO_SIZE",
    "MAX_WINDOW_PER_CANVAS",
    "MIN_WINDOW",
]
