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




# A painting's peak resident memory (ru_maxrss of `brushwork paint --no-video`): the interpreter, torch,
# the painter and loss networks and a level's bounded working set (optimise.KEEP_ACTIVATIONS,
# backends.LEVEL_COVERAGE_BYTES, the chunked outputs) take about PAINT_BASE_BYTES, and the canvas-sized
# arrays (the photo, the painting, the engine's canvas, the level layers, the finest level's passes)
# about PAINT_BYTES_PER_PX a canvas pixel. An envelope of benchmarks/results/poster.jsonl (2026-12-04):
# 1.10, 1.62, 2.15 and 6.13 GB measured at 512, 1024, 2048 and 4096 px; 1.43, 1.65, 2.56, 6.17 predicted.
PAINT_BASE_BYTES = 1_350_000_000
PAINT_BYTES_PER_PX = 460


def painting_bytes(width: int, height: int) -> int:
    """About the peak bytes of painting a width x height canvas (see PAINT_BYTES_PER_PX)."""
    return int(PAINT_BASE_BYTES + PAINT_BYTES_PER_PX * width * height)


def check_painting_memory(width: int, height: int) -> None:
    """Refuse, before any work, a canvas whose painting would not fit in the memory this process can
    get, saying which canvas size (long side) would."""
    from brushwork.errors import BrushworkError

    need, free = painting_bytes(width, height), available_memory()
    if need <= free:
        return
    long, short = max(width, height), min(width, height)
    px = max(0.0, (0.9 * free - PAINT_BASE_BYTES) / PAINT_BYTES_PER_PX)  # a margin: what is free moves
    fits = int((px * long / short) ** 0.5) // 64 * 64
    what = f"a canvas of at most {fits} px (--size {fits}) fits" if fits >= MIN_WINDOW * 8 else "no canvas fits"
    raise BrushworkError(
        f"a {width}x{height} painting needs about {need / 2**30:.1f} GB and {free / 2**30:.1f} GB are free; {what}"
    )


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
    "check_painting_memory",
    "painting_bytes",
    "PAINT_BASE_BYTES",
    "PAINT_BYTES_PER_PX",
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
