"""What wet paint adds to a painting: the seed photos painted dry, and dry then wet, side by side.

Usage: python benchmarks/wet_painting.py [--photos DIR] [--size 512] [--threads 2] [--wet B ...] [--figure-only]

For each photo, one painting with `classic/dry_brush` alone and one per shipped wet painter with the
list `classic/dry_brush,<wet brush>` (coarse levels dry, fine levels wet: block in, then blend), every
other setting the default, as `brushwork paint photo --brush ...` runs it. Reports the real brush's
painting's PSNR / SSIM against the photo and the wall seconds of painting; appends JSON rows to
benchmarks/results/wet_painting.jsonl, keeps the paintings in out/wet_painting/, and draws
docs/wet_brushes.jpg from the newest painting of each photo and list (photo, dry, each wet list;
the real brush's paintings). `--wet` paints only those wet brushes (each run paints its own dry
baseline, so the seconds of a row compare with the dry row of the same run).
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
from PIL import Image  # noqa: E402

from brushwork.engine import resolve_brush  # noqa: E402
from brushwork.models.registry import shipped_brushes  # noqa: E402
from brushwork.painting.pipeline import PaintPipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "wet_painting.jsonl"
DRY = "classic/dry_brush"
PAINTINGS = ROOT / "out" / "wet_painting"


def slug(spec: str) -> str:
    return spec.replace("/", "__").replace(",", "+")


def figure(path: str, photos: list[Path], specs: list[str]) -> None:
    """The newest painting of each (photo, list) beside the photo, titled with its row's figures (the
    lists painted for all of `photos`)."""
    rows = {}
    for line in RESULTS.read_text().splitlines():
        r = json.loads(line)
        rows[(r["photo"], r["brush"])] = r
    # the lists painted for every one of these photos
    specs = [sp for sp in specs if all((ph.name, sp) in rows and (PAINTINGS / ph.stem / f"{slug(sp)}.png").exists()
                                       for ph in photos)]  # fmt: skip
    cols = len(specs) + 1
    fig, axes = plt.subplots(len(photos), cols, figsize=(2.6 * cols, 2.5 * len(photos)), squeeze=False)
    for ax_row, photo in zip(axes, photos, strict=True):
        ax_row[0].imshow(Image.open(photo).convert("RGB"))
        ax_row[0].set_title("photo", fontsize=7)
        for ax, spec in zip(ax_row[1:], specs, strict=True):
            r = rows.get((photo.name, spec))
            file = PAINTINGS / photo.stem / f"{slug(spec)}.png"
            if r and file.exists():
                ax.imshow(Image.open(file))
                label = "dry brush alone" if spec == DRY else f"then {spec.split(',')[1]}"
                ax.set_title(f"{label}\n{r['psnr']:.2f} dB, SSIM {r['ssim']:.3f}", fontsize=7)
        for ax in ax_row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110, pil_kwargs={"quality": 85})
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default=str(ROOT.parent / "shared" / "images" / "seed"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--figure", default=str(ROOT / "docs" / "wet_brushes.jpg"))
    ap.add_argument("--wet", action="append", help="wet brushes to paint with (default: every shipped one)")
    ap.add_argument("--figure-only", action="store_true", help="draw the figure from earlier runs")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shipped_wet = [b for b in shipped_brushes() if resolve_brush(b).wet]
    photos = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if args.figure_only:
        figure(args.figure, photos, [DRY] + [f"{DRY},{b}" for b in shipped_wet])
        return
    specs = [DRY] + [f"{DRY},{b}" for b in (args.wet or shipped_wet)]
    pipes = {s: PaintPipeline.from_pretrained(brush=s, size=args.size) for s in specs}
    for photo in photos:
        for spec in specs:
            t = time.perf_counter()
            painting = pipes[spec](str(photo), progress=False)
            seconds = time.perf_counter() - t
            row = {"photo": photo.name, "brush": spec, "size": args.size, "strokes": len(painting.strokes),
                   "psnr": round(painting.psnr, 3), "ssim": round(painting.ssim, 4), "seconds": round(seconds, 1),
                   "real": painting.real, "threads": args.threads, "date": time.strftime("%Y-%m-%d %H:%M")}  # fmt: skip
            print(json.dumps(row), flush=True)
            with open(RESULTS, "a") as f:
                f.write(json.dumps(row) + "\n")
            (PAINTINGS / photo.stem).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.rint(np.clip(painting.image, 0, 1) * 255).astype(np.uint8)).save(
                PAINTINGS / photo.stem / f"{slug(spec)}.png")
    figure(args.figure, photos, [DRY] + [f"{DRY},{b}" for b in shipped_wet])


if __name__ == "__main__":
    main()
