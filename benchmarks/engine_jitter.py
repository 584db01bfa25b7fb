"""How well the real brush agrees with itself: a ceiling for a painter that cannot predict its noise.

Usage: python benchmarks/engine_jitter.py [--brush classic/dry_brush] [--count 500]
Each random action is painted alone by libmypaint twice: in a 64 px window at the canvas origin
(as the data set paints it) and in the same window moved by whole pixels. Same stroke, same pixels
expected; brushes with jitter (dabs placed with random offsets) differ. Prints one JSON object:
the PSNR between the two renderings (strokes on white, all pixels), i.e. how far two samples of
the brush's noise are apart. If the two renderings are independent draws, a painter that
predicts their mean is 3 dB better than that. (At one place the engine is exactly repeatable, so
the noise is a function of the action, but not one a smooth network can learn.)
"""

import argparse
import json

import numpy as np

from brushwork.actions import sample_actions
from brushwork.engine.draw import render_canvas
from brushwork.metrics import mse_to_psnr

SHIFTS = ((64, 0), (0, 64), (64, 64))  # whole-pixel moves: the tile grid is 64 px


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brush", default="classic/dry_brush")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    actions = sample_actions(np.random.default_rng(args.seed), args.count)
    errors = []
    for dx, dy in SHIFTS:
        for a in actions:
            here = render_canvas(a[None], np.array([[0.0, 0.0, 64.0]]), 128, 128, brush=args.brush)[:64, :64]
            moved = render_canvas(a[None], np.array([[dx, dy, 64.0]]), 128, 128, brush=args.brush)
            errors.append(np.mean((here - moved[dy : dy + 64, dx : dx + 64]) ** 2))
    mse = float(np.mean(errors))
    print(json.dumps({"brush": args.brush, "strokes": args.count, "shifts_px": SHIFTS,
                      "psnr_same_action_moved": round(mse_to_psnr(mse), 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
