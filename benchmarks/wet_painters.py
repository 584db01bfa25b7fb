"""Wet (smudging) painters: held-out fidelity against the engine, beside two baselines, and their speed.

Usage: python benchmarks/wet_painters.py [--strokes 2000] [--threads 2] [--brush B ...]

Fidelity: strokes no data set used (actions and canvases from seed 5000, training used 0 and held-out
1000) are painted by the real brush over their canvases; each shipped wet painter predicts the window
after the stroke. Reported beside its PSNR:
- canvas_unchanged: predict the canvas as it was;
- dry_composite: the painter's coverage laying the brush's own colour, as a dry painter would;
- engine_dry_composite: the engine's own coverage laying the brush's colour (the best any painter
  without the canvas can do: what smudging adds over it is the point).
Target: PSNR >= 26 dB and >= 3 dB over both baselines.

Speed: forward + backward to the actions at batch 1024 (weights frozen), as painting runs it, of
`paint_over` (coverage and colour composited over a canvas) for the wet painter and for the shipped
dry painter, measured alternately in the same run. Target: wet <= 2x dry.

Prints one JSON object per brush and appends them to benchmarks/results/wet_painters.jsonl.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from brushwork.data.canvases import sample_canvases, window_of
from brushwork.data.shards import to_uint8
from brushwork.engine import render, render_over, resolve_brush
from brushwork.metrics import mse_to_psnr
from brushwork.models.painter import Painter, load_painter
from brushwork.models.registry import shipped_brushes, shipped_provenance
from brushwork.train.evaluate import stroke_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "wet_painters.jsonl"
SEED = 5000


def heldout(brush: str, n: int) -> dict[str, np.ndarray]:
    acts = np.random.default_rng(SEED).random((n, 12)).astype(np.float32)
    canvases = sample_canvases(np.random.default_rng([SEED, 0, 0]), n)
    rgba = render(acts, brush)
    return {"actions": acts, "strokes": to_uint8(render_over(acts, canvases, brush)),
            "alphas": to_uint8(rgba[..., 3]), "canvases": window_of(canvases)}  # fmt: skip


def speed(painters: list[Painter], batch: int = 1024, repeats: int = 5) -> list[float]:
    """ms per stroke of forward + backward of each painter's paint_over, timed alternately."""
    x = torch.rand(batch, 12, generator=torch.Generator().manual_seed(0))
    canvas = torch.rand(batch, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    best = [float("inf")] * len(painters)
    for _ in range(repeats + 1):  # the first round warms up oneDNN
        for i, p in enumerate(painters):
            a = x.clone().requires_grad_(True)
            t = time.perf_counter()
            p.paint_over(a, canvas).sum().backward()
            best[i] = min(best[i], time.perf_counter() - t)
    return [b / batch * 1e3 for b in best]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strokes", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--brush", action="append", help="default: every shipped wet painter")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    brushes = args.brush or [b for b in shipped_brushes() if resolve_brush(b).wet]
    dry = load_painter("classic/dry_brush").to(memory_format=torch.channels_last)
    for brush in brushes:
        painter = load_painter(brush).to(memory_format=torch.channels_last)
        t = time.perf_counter()
        data = heldout(brush, args.strokes)
        engine_seconds = time.perf_counter() - t
        m = stroke_metrics(painter, data)
        canv = data["canvases"].astype(np.float32) / 255
        alpha = data["alphas"][..., None].astype(np.float32) / 255
        engine_dry = canv * (1 - alpha) + alpha * data["actions"][:, None, None, 6:9]
        real = data["strokes"].astype(np.float32) / 255
        m["psnr_engine_dry_composite"] = round(mse_to_psnr(float(np.mean((engine_dry - real) ** 2))), 4)
        wet_ms, dry_ms = speed([painter, dry])
        best_baseline = max(m["psnr_canvas_unchanged"], m["psnr_dry_composite"])
        row = {"brush": brush, "strokes": args.strokes, "seed": SEED, **m,
               "gain_over_baselines_db": round(m["psnr"] - best_baseline, 2),
               "target_psnr_26": m["psnr"] >= 26, "target_gain_3db": m["psnr"] - best_baseline >= 3,
               "wet_ms_per_stroke": round(wet_ms, 4), "dry_ms_per_stroke": round(dry_ms, 4),
               "speed_ratio": round(wet_ms / dry_ms, 2), "target_speed_2x": wet_ms <= 2 * dry_ms,
               "engine_seconds": round(engine_seconds, 1), "threads": args.threads,
               "trained": shipped_provenance(brush).get("commands", []),
               "date": time.strftime("%Y-%m-%d")}  # fmt: skip
        print(json.dumps(row), flush=True)
        with open(RESULTS, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
