"""Speed against fidelity for painter architectures: each variant trains for the same wall time.

Usage: python benchmarks/painter_fidelity.py --data data/classic__dry_brush/train \
           --heldout data/classic__dry_brush/heldout [--minutes 4] [--threads 2]
Each variant trains with the alpha L1 loss alone (the cheap part of stage 1) for --minutes, then
reports held-out PSNR / alpha L1 and its painting speed (forward + backward to the actions at
batch 1024, weights frozen). Prints one JSON object per variant.
"""

import argparse
import json
import time

import torch

from brushwork.data.dataset import StrokeShards
from brushwork.models.painter import Painter, PainterConfig
from brushwork.train.evaluate import load_heldout, stroke_metrics

VARIANTS = {
    "thin (128,64,32,8,4) [default]": (128, 64, 32, 8, 4),
    "default-wide (128,64,32,16,8)": (128, 64, 32, 16, 8),
    "mid (128,96,48,24,8)": (128, 96, 48, 24, 8),
}


def speed(cfg: PainterConfig, batch: int = 1024, repeats: int = 3) -> float:
    p = Painter(cfg).to(memory_format=torch.channels_last).requires_grad_(False)
    x = torch.rand(batch, 12, requires_grad=True)
    p.alpha(x).sum().backward()
    t = time.perf_counter()
    for _ in range(repeats):
        p.alpha(x).sum().backward()
    return (time.perf_counter() - t) / repeats / batch * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    held = load_heldout(args.heldout, 1000)
    for name, channels in VARIANTS.items():
        torch.manual_seed(0)
        cfg = PainterConfig(channels=channels)
        painter = Painter(cfg).to(memory_format=torch.channels_last).train()
        opt = torch.optim.Adam(painter.parameters(), lr=2e-3)
        steps, t0 = 0, time.perf_counter()
        data = iter(StrokeShards(args.data, batch_size=64, seed=0))
        while time.perf_counter() - t0 < args.minutes * 60:
            b = next(data)
            loss = (painter.alpha(b["actions"]) - b["alphas"]).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        m = stroke_metrics(painter, held)
        row = {"variant": name, "params": sum(t.numel() for t in painter.parameters()), "train_minutes": args.minutes,
               "train_steps": steps, "heldout_psnr": m["psnr"], "heldout_alpha_l1": m["alpha_l1"],
               "ms_per_stroke_fwd_bwd_b1024": round(speed(cfg), 3), "threads": args.threads}  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
