"""What wet paint adds to a painting: the seed photos painted dry, and dry then wet, side by side.

Usage: python benchmarks/wet_painting.py [--photos DIR] [--size 512] [--threads 2]

For each photo, one painting with `classic/dry_brush` alone and one per shipped wet painter with the
list `classic/dry_brush,<wet brush>` (coarse levels dry, fine levels wet: block in, then blend), every
other setting the default, as `brushwork paint photo --brush ...` runs it. Reports the real brush's
painting's PSNR / SSIM against the photo and the wall seconds of painting; appends JSON rows to
benchmarks/results/wet_painting.jsonl and draws docs/wet_brushes.jpg (photo, dry, each wet list;
the real brush's paintings).
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from brushwork.engine import resolve_brush  # noqa: E402
from brushwork.models.registry import shipped_brushes  # noqa: E402
from brushwork.painting.pipeline import PaintPipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "wet_painting.jsonl"
DRY = "classic/dry_brush"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default=str(ROOT.parent / "shared" / "images" / "seed"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--figure", default=str(ROOT / "docs" / "wet_brushes.jpg"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wet = [b for b in shipped_brushes() if resolve_brush(b).wet]
    specs = [DRY] + [f"{DRY},{b}" for b in wet]
    photos = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    pipes = {s: PaintPipeline.from_pretrained(brush=s, size=args.size) for s in specs}
    panels: dict[str, list] = {}
    for photo in photos:
        panels[photo.stem] = []
        for spec in specs:
            t = time.perf_counter()
            painting = pipes[spec](str(photo), progress=False)
            seconds = time.perf_counter() - t
            row = {"photo": photo.name, "brush": spec, "size": args.size, "strokes": len(painting.strokes),
                   "psnr": round(painting.psnr, 3), "ssim": round(painting.ssim, 4), "seconds": round(seconds, 1),
                   "real": painting.real, "threads": args.threads, "date": time.strftime("%Y-%m-%d")}  # fmt: skip
            print(json.dumps(row), flush=True)
            with open(RESULTS, "a") as f:
                f.write(json.dumps(row) + "\n")
            if not panels[photo.stem]:
                panels[photo.stem].append(("photo", painting.target))
            label = "dry brush alone" if spec == DRY else f"then {spec.split(',')[1]}"
            panels[photo.stem].append((f"{label}\n{row['psnr']:.2f} dB, {row['seconds']:.0f} s", painting.image))

    cols = len(specs) + 1
    fig, axes = plt.subplots(len(panels), cols, figsize=(2.6 * cols, 2.3 * len(panels)), squeeze=False)
    for r, items in enumerate(panels.values()):
        for c, (title, image) in enumerate(items):
            axes[r][c].imshow(np.clip(image, 0, 1))
            axes[r][c].set_title(title, fontsize=7)
            axes[r][c].axis("off")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=110, pil_kwargs={"quality": 85})
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
