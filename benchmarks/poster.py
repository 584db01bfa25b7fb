"""Print-size paintings: time, memory and quality from today's 512 px default up to a 4096 px poster.

Usage: python benchmarks/poster.py [--photos P ...] [--rows 512,1024,2048,4096] [--threads 2]

Each row is one `brushwork paint PHOTO --size S --strokes N --no-video` run in a fresh process, as a
user runs it (the 4096 row is `--poster`: 64,000 strokes down to 16 px windows, 30 steps a level): wall seconds,
seconds per stroke-step (painting seconds / (strokes x steps per level)), peak resident memory of
the process (ru_maxrss), seconds writing files (the CLI's own split), and the real painting's PSNR /
SSIM against the photo at the canvas size. For the 4096 row also: the same 64,000 strokes painted at
1024 px with the same steps (windows down to the engine's smallest, 8 px: 32 px on the poster)
and rendered at 4096 with `brushwork render`, compared at 4096, so a reader sees what painting at print
size buys.

Photos: Debian's plasma-workspace-wallpapers (fetched with `apt-get download` + `dpkg -x` into
out/wallpapers/ when not given); its largest photographs there are 2560 px, so the 4096 row paints
a photo upscaled 1.6x (the PSNR is against that upscaled photo).

Rows are appended to benchmarks/results/poster.jsonl; the JSON summary is printed. The 4096 row also
draws docs/poster_crop.jpg: the most detailed crop of the photo at full resolution beside the poster
and the rendered-up 1024 painting (`--crop-only` draws it again from the files of an earlier run).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from brushwork.cli import POSTER
from brushwork.limits import MIN_WINDOW
from brushwork.painting.config import PaintConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "poster.jsonl"
OUT = ROOT / "out" / "poster"
WALLPAPERS = ROOT / "out" / "wallpapers"
PHOTOS = ("Path", "ColorfulCups")
ROWS = {512: 2000, 1024: 4000, 2048: 16000, POSTER["size"]: POSTER["strokes"]}  # the last is `--poster`
BRUSHWORK = str(Path(sys.executable).with_name("brushwork"))  # the CLI of this environment


def wallpaper(name: str) -> Path:
    """The largest image of a Debian wallpaper, fetched once."""
    root = WALLPAPERS / "x" / "usr" / "share" / "wallpapers" / name / "contents" / "images"
    if not root.exists():
        WALLPAPERS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "plasma-workspace-wallpapers"], cwd=WALLPAPERS, check=True)
        deb = next(WALLPAPERS.glob("plasma-workspace-wallpapers_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(WALLPAPERS / "x")], check=True)
    return max(root.glob("*.jpg"), key=lambda p: int(p.stem.split("x")[0]) * int(p.stem.split("x")[1]))


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak resident bytes, output) of one CLI run in a fresh process (os.wait4's rusage)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {text[-2000:]}")
    return wall, usage.ru_maxrss * 1024, text


def label(photo: Path) -> str:
    """A wallpaper's name (its folder), else the file's stem."""
    return photo.parents[2].name if photo.parent.name == "images" else photo.stem


def parse(text: str) -> dict:
    """The CLI's summary line: painting and file seconds, PSNR, SSIM."""
    m = re.search(r"painting ([\d.]+) s, files ([\d.]+) s\); (\d+) strokes.*?PSNR ([\d.]+) dB, SSIM ([\d.]+)", text)
    if not m:
        raise SystemExit(f"no summary line in: {text[-1500:]}")
    return {"paint_s": float(m[1]), "files_s": float(m[2]), "strokes": int(m[3]), "psnr": float(m[4]),
            "ssim": float(m[5])}  # fmt: skip


def rendered_up(photo: Path, folder: Path, size: int, threads: int) -> dict:
    """The 1024 px painting of the poster's strokes rendered at `size` and compared there."""
    from PIL import Image

    from brushwork.images import fit_to_canvas, load_image
    from brushwork.metrics import psnr, ssim

    out = folder / f"render_{size}.png"
    wall, peak, _ = timed([BRUSHWORK, "render", str(folder / "strokes.json"), "-o", str(out),
                           "--size", str(size)])  # fmt: skip
    image = np.asarray(Image.open(out).convert("RGB"), np.float32) / 255
    target = fit_to_canvas(load_image(photo), size)
    return {"render_s": round(wall, 1), "render_peak_gb": round(peak / 1e9, 2),
            "psnr_at_size": round(psnr(image, target), 2), "ssim_at_size": round(ssim(image, target), 4)}  # fmt: skip


def crop_figure(photo: Path, name: str, size: int = 4096, side: int = 640) -> Path:
    """docs/poster_crop.jpg: one full-resolution crop of the photo, the poster painted at `size` and the
    1024 px painting of the same strokes rendered at `size`, side by side; the crop is the window
    with the most fine detail in the photo (mean gradient magnitude)."""
    from PIL import Image, ImageDraw

    from brushwork.images import fit_to_canvas, load_image

    target = fit_to_canvas(load_image(photo), size)
    lum = target @ np.array([0.299, 0.587, 0.114], np.float32)
    grad = np.abs(np.diff(lum, axis=0))[:, :-1] + np.abs(np.diff(lum, axis=1))[:-1, :]
    step = side // 4  # candidate windows on a grid of a quarter crop
    best, at = -1.0, (0, 0)
    for y in range(0, grad.shape[0] - side, step):
        for x in range(0, grad.shape[1] - side, step):
            score = float(grad[y : y + side, x : x + side].mean())
            if score > best:
                best, at = score, (x, y)
    x, y = at
    panels = [Image.fromarray((target[y : y + side, x : x + side] * 255 + 0.5).astype(np.uint8))]
    for path in (OUT / f"{name}_{size}" / "painting.png", OUT / f"{name}_{size}_from_1024" / f"render_{size}.png"):
        panels.append(Image.open(path).convert("RGB").crop((x, y, x + side, y + side)))
    labels = ("photo", f"painted at {size} px", f"painted at 1024 px, rendered at {size}")
    fig = Image.new("RGB", (3 * side + 2 * 8, side + 28), "white")
    draw = ImageDraw.Draw(fig)
    for i, (panel, text) in enumerate(zip(panels, labels, strict=True)):
        fig.paste(panel, (i * (side + 8), 28))
        draw.text((i * (side + 8) + 4, 8), text, fill="black")
    out = ROOT / "docs" / "poster_crop.jpg"
    fig.save(out, quality=90)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", nargs="*", type=Path, default=None)
    ap.add_argument("--rows", default="512,1024,2048,4096")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--crop-only", action="store_true", help="only docs/poster_crop.jpg, from an earlier run's files")
    ap.add_argument("--no-from-1024", action="store_true",
                    help="the 4096 row without the 1024 px painting of its strokes rendered up (20 min less)")
    args = ap.parse_args()
    photos = args.photos or [wallpaper(n) for n in PHOTOS]
    if args.crop_only:
        print(crop_figure(photos[0], label(photos[0])))
        return
    sizes = [int(s) for s in args.rows.split(",")]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    summary = []
    for photo in photos:
        for size in sizes:
            strokes = ROWS[size]
            folder = OUT / f"{label(photo)}_{size}"
            cmd = [BRUSHWORK, "paint", str(photo), "-o", str(folder), "--no-video",
                   "--threads", str(args.threads)]  # fmt: skip
            cmd += ["--poster"] if size == 4096 else ["--size", str(size), "--strokes", str(strokes)]
            wall, peak, text = timed(cmd)
            row = {"time": stamp, "photo": label(photo), "source_px": photo.stem, "size": size,
                   "command": " ".join(["brushwork", *cmd[1:]]), **parse(text), "wall_s": round(wall, 1),
                   "peak_gb": round(peak / 1e9, 2)}  # fmt: skip
            row["steps"] = POSTER["steps"] if size == 4096 else PaintConfig.level_steps
            row["s_per_stroke_step"] = row["paint_s"] / (row["strokes"] * row["steps"])
            row["files_share"] = round(row["files_s"] / row["paint_s"], 3)
            if size == 4096 and not args.no_from_1024:  # the same strokes painted at 1024 and rendered up
                small = OUT / f"{row['photo']}_4096_from_1024"
                cmd = [BRUSHWORK, "paint", str(photo), "-o", str(small), "--no-video",
                       "--threads", str(args.threads), "--size", "1024", "--strokes", str(strokes),
                       "--min-stroke", f"{MIN_WINDOW}px", "--steps", str(POSTER["steps"])]  # fmt: skip
                w1, p1, t1 = timed(cmd)
                row["from_1024"] = {**parse(t1), "wall_s": round(w1, 1), "peak_gb": round(p1 / 1e9, 2),
                                    **rendered_up(photo, small, 4096, args.threads)}  # fmt: skip
                crop_figure(photo, row["photo"], size)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            with RESULTS.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
            summary.append(row)
    base = {r["photo"]: r for r in summary if r["size"] == 512}
    for r in summary:
        if r["photo"] in base:
            r["step_ratio_vs_512"] = round(r["s_per_stroke_step"] / base[r["photo"]]["s_per_stroke_step"], 2)
    print(json.dumps({"rows": [{k: r.get(k) for k in ("photo", "size", "wall_s", "peak_gb", "files_share", "psnr",
                                                       "ssim", "step_ratio_vs_512")} for r in summary]}, indent=1))


if __name__ == "__main__":
    main()
