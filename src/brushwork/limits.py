"""Limits on what brushwork accepts, checked before any work so that no input can exhaust the machine.

Each limit says why it is where it is. Errors name the value, the limit and what to do.
"""

from __future__ import annotations

MAX_CANVAS = 8192  # px, long side of a canvas or render: beyond this one RGBA float canvas is > 1 GB
MIN_WINDOW = 8  # px: below this a stroke is a smudge of a few pixels
MAX_STROKES = 200_000  # strokes in a painting or strokes file: ~10 min of engine time, ~100 MB of arrays
# and at most one stroke per canvas px (or 10,000): 200,000 strokes on a 64 px canvas are minutes of
# engine time for 4,096 px; paintings use ~1 per 130 px (2,000 at 512 px), posters ~1 per 260
MAX_STROKES_PER_PX = 1.0
MIN_STROKES_LIMIT = 10_000
# A stroke's window may be at most this many times the canvas's long side, and must overlap the
# canvas: libmypaint's work grows with the window's area, and strokes far off the canvas paint nothing.
MAX_WINDOW_PER_CANVAS = 2.0
MAX_LEVEL = 1000  # a stroke's level: plans have a dozen; --init continues at the next one
MAX_VIDEO_SECONDS = 600.0  # a time-lapse longer than 10 minutes is a mistake, and holds every frame
MAX_VIDEO_SIZE = 4096  # px, long side of a time-lapse frame
MAX_FPS = 60
MAX_VIDEO_BYTES = 2 << 30  # all frames of a time-lapse are held in memory (uint8 RGB) while encoding
# Frames of a clip painted in one run: 20,000 frames is 11 minutes at 30 fps and, at ~5 s a frame,
# a day on one machine; longer work is cut up with --frames (or spread over machines).
MAX_CLIP_FRAMES = 20_000
# Counts given on the command line, checked on entry: each is far above any sensible use and far below
# what would run for days or fail in the allocator.
MAX_STEPS = 10_000  # optimiser steps a level (15 by default; 10,000 is hours at 512 px)
MAX_THREADS = 256  # torch threads or worker processes: libgomp fails near 1,000
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit
MAX_DATASET_STROKES = 50_000_000  # strokes in a generated data set (a shipped painter trains on 60,000)
MAX_SHARD_STROKES = 100_000  # strokes in one shard (~1 GB of 64 px alphas)
MAX_SHARDS = 100_000  # machines sharing a data set's generation
# bytes a stroke shard may unpack to, read from its arrays' headers before any is decompressed: a
# Kaggle shard unpacks to 1.2 GB; an .npz of zeros compresses ~1000x, so a small file could ask for 100s
MAX_SHARD_BYTES = 4 << 30




def available_memory() -> int:
    """Bytes this process can still allocate: the system's MemAvailable (free memory plus what the page
    cache would give back), and under an address-space limit (`ulimit -v`) what is left of it."""
    import resource

    free = 1 << 62
    try:
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, ValueError, StopIteration):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/status") as f:
                used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        except (OSError, ValueError, StopIteration):
            used = 0
        free = min(free, max(0, soft - used))
    return free


__all__ = [
    "available_memory",
    "MAX_CLIP_FRAMES",
    "MAX_DATASET_STROKES",
    "MAX_SEED",
    "MAX_SHARDS",
    "MAX_SHARD_BYTES",
    "MAX_SHARD_STROKES",
    "MAX_STEPS",
    "MAX_THREADS",
    "MAX_CANVAS",
    "MAX_FPS",
    "MAX_LEVEL",
    "MAX_STROKES",
    "MAX_STROKES_PER_PX",
    "MIN_STROKES_LIMIT",
    "MAX_VIDEO_BYTES",
    "MAX_VIDEO_SECONDS",
    "MAX_VIDEO_SIZE",
    "MAX_WINDOW_PER_CANVAS",
    "MIN_WINDOW",
]
