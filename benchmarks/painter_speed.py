"""Painter speed: forward + backward to the actions (weights frozen), per stroke, at batch 1024.

Usage: python benchmarks/painter_speed.py [--threads 2] [--batch 1024]
Prints one JSON object per architecture variant.
"""

import argparse
import json
import time

import torch

from brushwork.models.painter import Painter, PainterConfig

VARIANTS = {
    "thin (128,63,31,7,3) + sketch [default]": PainterConfig(channels=(128, 63, 31, 7, 3)),
    "thin (128,64,32,8,4) + sketch [shipped pen, charcoal]": PainterConfig(channels=(128, 64, 32, 8, 4)),
    "thin (128,64,32,8,4), no sketch": PainterConfig(channels=(128, 64, 32, 8, 4), geometry_prior=False),
    "(128,64,32,16,8) + sketch": PainterConfig(channels=(128, 64, 32, 16, 8)),
    "(128,64,32,16,8), no sketch": PainterConfig(channels=(128, 64, 32, 16, 8), geometry_prior=False),
    "wide (256,128,64,32,16), no sketch": PainterConfig(channels=(256, 128, 64, 32, 16), geometry_prior=False),
}


def measure(painter: Painter, batch: int, channels_last: bool, repeats: int = 5) -> float:
    painter.requires_grad_(False)
    if channels_last:
        painter = painter.to(memory_format=torch.channels_last)
    x = torch.rand(batch, 12, requires_grad=True)
    for _ in range(2):
        painter.alpha(x).sum().backward()
    t = time.perf_counter()
    for _ in range(repeats):
        painter.alpha(x).sum().backward()
    return (time.perf_counter() - t) / repeats / batch * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1024)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name, cfg in VARIANTS.items():
        p = Painter(cfg)
        params = sum(t.numel() for t in p.parameters())
        for cl in (False, True):
            ms = measure(p, args.batch, cl)
            print(
                json.dumps(
                    {
                        "variant": name,
                        "params": params,
                        "channels_last": cl,
                        "threads": args.threads,
                        "batch": args.batch,
                        "ms_per_stroke_fwd_bwd": round(ms, 4),
                    }
                )
            )


if __name__ == "__main__":
    main()
