"""Which strokes of the later chunk, in which shares, make a chunk boundary flicker least?

Twelve frames of Megamind.avi from source frame START at 256 px, 1000 strokes: chunk A paints all
twelve from frame 0, chunk B frames 6-11 from frame 6 (what `video.chunks` does at a boundary with
an overlap of 4). Frames 6-9 are dissolved from A and B with each rule below, frame 10 is B alone;
printed: the warping error of frames 6-10 over the clip's own (each against the frame before), and
for reference A's own frames and a hard cut from A to B at frame 10. The rule `video.chunks` uses
came from these runs (START 15 and 41, 2026-12-03).

    python benchmarks/dissolve_orders.py [START]
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch
from video import fetch_clip

from brushwork.engine import render_canvas
from brushwork.painting.exports import as_uint8
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.strokes import StrokeList
from brushwork.video.carry import CarryConfig
from brushwork.video.chunks import Chunk, RawFrame, paint_chunk
from brushwork.video.clip import probe, read_frames
from brushwork.video.flow import frame_flow, warping_error
from brushwork.video.stepper import FrameStepper

W = 4  # the overlap


def as_float(u8: np.ndarray) -> np.ndarray:
    return u8.astype(np.float32) / 255


def composite(a: RawFrame, b: RawFrame, chosen: np.ndarray) -> np.ndarray:
    s = a.strokes.concat(b.strokes[np.flatnonzero(chosen)])
    return as_uint8(render_canvas(s.actions, s.windows, s.width, s.height, s.stroke_brushes(), s.background))


def cell_wipe(cells: int) -> Callable[[StrokeList], np.ndarray]:
    """Keys by the cell (cells x cells, in a random order) of each stroke's centre: a regional wipe."""

    def keys(s: StrokeList) -> np.ndarray:
        cx, cy = s.windows[:, 0] + s.windows[:, 2] / 2, s.windows[:, 1] + s.windows[:, 2] / 2
        ix = np.clip((cx / s.width * cells).astype(int), 0, cells - 1)
        iy = np.clip((cy / s.height * cells).astype(int), 0, cells - 1)
        order = np.random.default_rng(2).permutation(cells * cells)
        return (order[iy * cells + ix] + np.arange(len(s)) / len(s)) / (cells * cells)

    return keys


def main() -> None:
    start = int(sys.argv[1]) if len(sys.argv) > 1 else 41
    torch.set_num_threads(2)
    info = probe(fetch_clip("Megamind.avi"))
    frames = [as_uint8(f) for _, f in read_frames(info, list(range(start, start + 12)), size=256)]
    pipe = PaintPipeline.from_pretrained("classic/dry_brush", size=256)
    stepper = FrameStepper(pipe, strokes=1000, carry=CarryConfig(), seed=0, size=256)
    a = list(paint_chunk(stepper, Chunk(0, 0, 0, 12, W, True), frames))
    b = list(paint_chunk(stepper, Chunk(1, 6, 6, 12, 0, False), frames[6:]))
    clip = [as_float(f) for f in frames]
    pairs = {k: frame_flow(clip[k - 1], clip[k]) for k in range(1, 12)}

    def ratio(prev: np.ndarray, cur: np.ndarray, k: int) -> float:
        return warping_error(as_float(prev), as_float(cur), pairs[k]) / warping_error(clip[k - 1], clip[k], pairs[k])

    def run(name: str, keys: Callable[[StrokeList], np.ndarray], shares: list[float]) -> None:
        out = {5: a[5].image, 10: b[4].image}
        for i in range(W):
            out[6 + i] = composite(a[6 + i], b[i], keys(b[i].strokes) >= 1 - shares[i])
        r = [ratio(out[k - 1], out[k], k) for k in range(6, 11)]
        print(f"{name:28s} {[round(x, 2) for x in r]}  mean {np.mean(r):.2f}  worst {max(r):.2f}", flush=True)

    order = lambda s: np.arange(len(s)) / len(s)  # noqa: E731 - key = place in painting order
    linear = [(i + 1) / W for i in range(W)]
    run("last strokes first, equal", order, linear)
    for p in (1.5, 2, 3):
        run(f"last strokes first, ^{p}", order, [x**p for x in linear])
    run("first strokes first, equal", lambda s: 1 - order(s) - 1 / len(s), linear)
    run("random, equal", lambda s: np.random.default_rng(1).random(len(s)), linear)
    run("2x2 regions, equal", cell_wipe(2), linear)
    run("4x4 regions, equal", cell_wipe(4), linear)
    inside = [ratio(a[k - 1].image, a[k].image, k) for k in range(6, 10)]
    hard = ratio(a[9].image, b[4].image, 10)
    print(f"{'inside chunk A':28s} {[round(x, 2) for x in inside]}  hard cut at 10: {hard:.2f}")


if __name__ == "__main__":
    main()
