"""What the real brush in the loop buys: ablations of the painting pipeline on the seed photos.

For each photo (256 x 256 centre crops, as benchmarks/vs_primitive.py) and each variant, paints in
process with one pipeline per loss and prints a JSON row: the real brush's painting (libmypaint
render of the strokes) and the painter's canvas, PSNR / SSIM against the photo, and seconds.

Variants (`--variants`, names below): the painter alone, then the engine in the loop step by step.

    python benchmarks/engine_loop.py --strokes 1000 --threads 2 > benchmarks/results/engine_loop.jsonl
    python benchmarks/engine_loop.py --variants engine+refit --strokes 500 1000 2000 --steps 10 20 40
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from brushwork.metrics import psnr, ssim
from brushwork.painting.config import PaintConfig
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.result import render_engine

SEED_DIR = Path(__file__).resolve().parents[2] / "shared" / "images" / "seed"

VARIANTS: dict[str, dict] = {
    "painter_only": {"engine": False},  # the painter's canvas under every level; real = re-render
    "engine": {"refit_colors": False},  # real painting under each level
    "engine+refit": {},  # + colours solved against the real composite (the default)
    "engine+refit+st": {"real_forward_every": 10},  # + straight-through real coverage every 10 steps
    "engine+refit,no_detail": {"detail_weight": 0.0},
}


def centre_crop(path: Path, side: int) -> np.ndarray:
    """The photo's short side scaled to `side` (Lanczos), then the centre square: (side, side, 3) float32."""
    im = Image.open(path).convert("RGB")
    s = side / min(im.size)
    im = im.resize((max(side, round(im.width * s)), max(side, round(im.height * s))), Image.Resampling.LANCZOS)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    return np.asarray(im.crop((left, top, left + side, top + side)), np.float32) / 255.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", nargs="*", default=None, help="default: the four seed photos")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--strokes", type=int, nargs="*", default=[1000])
    ap.add_argument("--steps", type=int, nargs="*", default=[40], help="Adam steps per level")
    ap.add_argument("--losses", nargs="*", default=["mixed"])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    photos = [Path(p) for p in args.photos] if args.photos else sorted(SEED_DIR.iterdir())
    for loss in args.losses:
        pipe = PaintPipeline(PaintConfig(loss=loss, size=args.size, seed=args.seed))
        runs = [(n, st, v) for n in args.strokes for st in args.steps for v in args.variants]
        for photo in photos:
            crop = centre_crop(photo, args.size)
            for strokes, steps, name in runs:
                t = time.perf_counter()
                p = pipe(crop, progress=False, strokes=strokes, level_steps=steps, **VARIANTS[name])
                seconds = time.perf_counter() - t
                real = p.image if p.real else render_engine(p.strokes)
                neural = p.neural_image()
                row = {
                    "photo": photo.stem, "variant": name, "loss": loss, "strokes": len(p.strokes), "steps": steps,
                    "size": args.size, "seconds": round(seconds, 2),
                    "psnr_real": round(psnr(real, crop), 3), "ssim_real": round(ssim(real, crop), 4),
                    "psnr_neural": round(psnr(neural, crop), 3), "ssim_neural": round(ssim(neural, crop), 4),
                    "threads": args.threads, "levels": p.levels,
                }  # fmt: skip
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
