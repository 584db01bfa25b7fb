"""Which poster settings buy detail: variants painted on a 1024 px crop of a 4096 px photo.

A poster (4096 px, 64,000 strokes) takes over half an hour, so its settings were chosen on a crop
with the poster's density: the middle 1024 x 1024 of Debian's `Path` wallpaper enlarged to 4096 px
(Lanczos), 6,400 strokes. Each variant is one `brushwork.paint` call (2 threads); the "at 256"
variants paint the crop at 256 px and are rendered at 1024 with the real brush (what painting
small and rendering up gives), and all are compared with the crop at 1024 px.

    python benchmarks/poster_settings.py [--variants A32,B8,C16,D16s]

Rows are appended to benchmarks/results/poster_settings.jsonl and printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from poster import wallpaper

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "poster_settings.jsonl"
CROP = ROOT / "out" / "poster_settings" / "crop.png"
STROKES = 6400  # 64,000 x (1024 x 1024) / (4096 x 2560), rounded
VARIANTS = {  # name: (canvas px, PaintConfig settings)
    "A32": (1024, {"min_stroke": 32 / 1024}),  # the earlier --poster: 32 px windows, 15 steps
    "B8": (256, {"min_stroke": 8 / 256}),  # the same strokes at 256 px (the engine's 8 px), rendered up
    "C16": (1024, {"min_stroke": 16 / 1024}),  # 16 px windows
    "D16s": (1024, {"min_stroke": 16 / 1024, "steps": 30}),  # ... and 30 steps: today's --poster
    "B8s": (256, {"min_stroke": 8 / 256, "steps": 30}),
    "C16_lr5": (1024, {"min_stroke": 16 / 1024, "lr": 0.5}),
    "F8": (1024, {"min_stroke": 8 / 1024}),
    "C16_g3": (1024, {"min_stroke": 16 / 1024, "share_growth": 3.5}),
    "G16s_lr5": (1024, {"min_stroke": 16 / 1024, "steps": 30, "lr": 0.5}),
}


def crop() -> np.ndarray:
    """The crop (1024, 1024, 3) float32, written once."""
    from PIL import Image

    if not CROP.exists():
        CROP.parent.mkdir(parents=True, exist_ok=True)
        photo = Image.open(wallpaper("Path")).convert("RGB")
        big = photo.resize((4096, 2560), Image.LANCZOS)
        big.crop((1536, 768, 2560, 1792)).save(CROP)
    return np.asarray(Image.open(CROP).convert("RGB"), np.float32) / 255


def main() -> None:
    import torch

    from brushwork.metrics import psnr, ssim
    from brushwork.painting.pipeline import paint
    from brushwork.painting.result import render_engine

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    target = crop()
    for name in args.variants.split(","):
        size, settings = VARIANTS[name]
        t = time.perf_counter()
        p = paint(str(CROP), size=size, strokes=STROKES, max_stroke=0.5, progress=False, **settings)
        seconds = time.perf_counter() - t
        image = p.image if size == 1024 else render_engine(p.strokes, size=1024)
        row = {"date": time.strftime("%Y-%m-%d"), "variant": name, "canvas": size, "strokes": STROKES, **settings,
               "seconds": round(seconds, 1), "psnr_at_1024": round(float(psnr(image, target)), 2),
               "ssim_at_1024": round(float(ssim(image, target)), 3)}  # fmt: skip
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
