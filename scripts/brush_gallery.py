"""The same photo painted with every shipped brush (the real brush's paintings), as one README figure.

Usage: python scripts/brush_gallery.py [--photo examples/louvre.png] [--size 384] [--mix a,b ...]
Writes out/brush_gallery/<brush>/ (every output of `brushwork paint`) and docs/brushes.jpg: one
panel per brush, titled with the brush and the painting's PSNR; each `--mix` list adds a panel
painted with several brushes, coarse levels with the first.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from brushwork.models.registry import shipped_brushes  # noqa: E402
from brushwork.painting.pipeline import PaintPipeline  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", default=str(ROOT / "examples" / "louvre.png"))
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--mix", action="append", default=[], help="a comma-separated brush list to add")
    ap.add_argument("--out", default=str(ROOT / "out" / "brush_gallery"))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "brushes.jpg"))
    args = ap.parse_args()

    panels, rows = [], []
    for brush in [*shipped_brushes(), *args.mix]:
        painting = PaintPipeline.from_pretrained(brush, size=args.size)(args.photo, progress=False)
        folder = Path(args.out) / brush.replace("/", "__").replace(",", "+")
        painting.save(folder, video=False)
        panels.append((brush, painting.image, painting.psnr))
        rows.append({"brush": brush, "psnr": round(painting.psnr, 2), "ssim": round(painting.ssim, 3),
                     "strokes": len(painting.strokes), "seconds": round(painting.timings["total"], 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)

    photo = np.asarray(Image.open(args.photo).convert("RGB"))
    cols = 3
    n = len(panels) + 1
    h, w = panels[0][1].shape[:2]
    rows_n = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(cols * 4, rows_n * 4 * h / w + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(photo)
    axes.flat[0].set_title("photo", fontsize=10)
    for ax, (brush, image, psnr) in zip(axes.flat[1:], panels, strict=False):
        ax.imshow(np.clip(image, 0, 1))
        ax.set_title(f"{brush.replace(',', ' + ')}  ({psnr:.1f} dB)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.figure, dpi=90, pil_kwargs={"quality": 85})
    (Path(args.out) / "gallery.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
