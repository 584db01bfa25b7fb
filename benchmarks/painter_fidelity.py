"""Speed against fidelity for painter architectures: each variant trains the same number of steps.

Usage: python benchmarks/painter_fidelity.py --data data/classic__dry_brush/train \
           --heldout data/classic__dry_brush/heldout [--steps 3000] [--threads 1]
Each variant trains with stage 1's coverage loss alone (BCE on the alpha logits: the cheap part
of stage 1; the perceptual term is left out so the comparison is of architectures, not of loss
weights), then reports held-out PSNR / alpha L1 on 1,000 strokes, its training time, and its
painting speed (forward + backward to the actions at batch 1024, weights frozen, --speed-threads).
Prints one JSON object per variant.
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from painter_speed import measure  # this folder's speed benchmark: one way to time a painter

from brushwork.data.dataset import StrokeShards
from brushwork.models.painter import Painter, PainterConfig
from brushwork.train.common import lr_at, set_lr
from brushwork.train.evaluate import load_heldout, stroke_metrics

VARIANTS = {
    "(128,63,31,7,3) + sketch [default]": PainterConfig(channels=(128, 63, 31, 7, 3)),
    "(128,64,32,8,4) + sketch": PainterConfig(channels=(128, 64, 32, 8, 4)),
    "(128,64,32,8,4), no sketch": PainterConfig(channels=(128, 64, 32, 8, 4), geometry_prior=False),
    "(128,64,32,16,8), no sketch": PainterConfig(channels=(128, 64, 32, 16, 8), geometry_prior=False),
}


def endless(folder: str, batch_size: int = 64):
    ds = StrokeShards(folder, batch_size=batch_size, seed=0)
    epoch = 0
    while True:
        ds.set_epoch(epoch)
        yield from ds
        epoch += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1, help="training threads")
    ap.add_argument("--speed-threads", type=int, default=2)
    ap.add_argument("--variant", action="append", help="run only these variants (substring match)")
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    held = load_heldout(args.heldout, 1000)
    for name, cfg in VARIANTS.items():
        if args.variant and not any(v in name for v in args.variant):
            continue
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        painter = Painter(cfg).to(memory_format=torch.channels_last).train()
        opt = torch.optim.Adam(painter.parameters(), lr=1e-3, betas=(0.9, 0.99))
        data = endless(args.data)
        t0 = time.perf_counter()
        for step in range(args.steps):
            set_lr(opt, lr_at(step, args.steps, 1e-3))
            b = next(data)
            loss = F.binary_cross_entropy_with_logits(painter.alpha_logits(b["actions"]), b["alphas"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        train_s = time.perf_counter() - t0
        m = stroke_metrics(painter, held)
        torch.set_num_threads(args.speed_threads)
        ms = measure(Painter(cfg), 1024, channels_last=True)
        row = {"variant": name, "params": sum(t.numel() for t in painter.parameters()), "train_steps": args.steps,
               "train_seconds": round(train_s, 1), "train_threads": args.threads, "heldout_psnr": m["psnr"],
               "heldout_alpha_l1": m["alpha_l1"], "ms_per_stroke_fwd_bwd_b1024": round(ms, 3),
               "speed_threads": args.speed_threads}  # fmt: skip
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
