"""Brushwork against fogleman/primitive (shapes, not brushstrokes): PSNR / SSIM against wall-clock seconds.

Usage:
    python benchmarks/vs_primitive.py --primitive /work/tools/primitive [--photos castle.png ...]
        [--budgets 10 20 40] [--stroke-counts 1000 4000] [--out /tmp/vs_primitive] [--threads 2] [--seed 3]
        [--brushwork-args "--loss pixel"] [--skip-primitive --primitive-rows benchmarks/results/vs_primitive.jsonl]

Per photo (default: the four seed photos in ../shared/images/seed), in one run:
  - a 256 x 256 centre crop (short side scaled to 256 with Lanczos, then cropped), saved as crop.png;
  - primitive (built outside the project; see `primitive` below): 1000 rotated ellipses at 256 px,
    2 workers, a PNG every 10 shapes; per PNG: shapes, seconds = PNG mtime - process start (wall
    clock), PSNR / SSIM of the PNG against the crop. Primitive's own printed score is not used: it is
    measured on an unantialiased raster and reads 1-3 dB better than its saved PNGs;
  - `brushwork paint crop.png --size 256 --no-video --seed S --threads T` as a user runs it, each a
    subprocess timed with the wall clock: the default command, `--time-budget B` per budget, and
    `--strokes N` per stroke count. Per run: PSNR / SSIM of the real-brush painting and of the
    painter's canvas against the crop, the strokes in strokes.json, the subprocess's wall time
    (imports and file writing included) and the painting time the CLI prints.

Prints one JSON object per line and appends the same rows to benchmarks/results/vs_primitive.jsonl:
    {"tool": "primitive", "run": "snapshot", "shapes": N, "seconds": ..., "psnr": ..., "ssim": ...}
    {"tool": "brushwork", "run": "default" | "budget" | "strokes", "strokes": N, "seconds": ...,
     "painting_seconds": ..., "psnr": ..., "ssim": ..., "psnr_neural": ..., "ssim_neural": ...}
    {"tool": "summary", ...}   per photo: primitive at 1000 shapes; the first brushwork run (by seconds)
                               whose real-brush PSNR reaches it and its time ratio; the real-vs-painter
                               gap of the largest brushwork run
and draws docs/benchmarks/vs_primitive_<photo>.png (PSNR against seconds, both tools).

`--skip-primitive` re-measures brushwork only and takes primitive's rows (the latest run per photo)
from `--primitive-rows`; primitive's rows of a fresh run are also appended to
benchmarks/results/vs_primitive_primitive_rows.jsonl (--primitive-rows-copy) for that purpose.

Timings are wall clock, so they are noisy when another job shares the CPU (each row records the
1-minute load average). Brushwork's children get OMP_WAIT_POLICY=PASSIVE unless it is set, as in
paint_speed.py (two spinning OpenMP threads crawl when a core is shared); `--omp-wait-policy ""`
leaves the environment alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent  # the project
SEED = ROOT.parent / "shared" / "images" / "seed"
PHOTOS = ("castle.png", "louvre.png", "vanc.jpg", "eiffel.jpeg")
RESULTS = ROOT / "benchmarks" / "results" / "vs_primitive.jsonl"
PRIMITIVE_ROWS = ROOT / "benchmarks" / "results" / "vs_primitive_primitive_rows.jsonl"
FIGURES = ROOT / "docs" / "benchmarks"
CROP = 256
PAINTING_SECONDS = re.compile(r"painting ([0-9.]+) s")

Metric = Callable[[np.ndarray, np.ndarray], float]


def metrics() -> tuple[Metric, Metric]:
    """The project's PSNR and SSIM (the one place that knows where they live)."""
    from brushwork.metrics import psnr, ssim

    return psnr, ssim


def load_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as (H, W, 3) float32 in [0, 1]; resized (Lanczos) to `size` = (w, h) if it differs."""
    im = Image.open(path).convert("RGB")
    if size is not None and im.size != size:
        im = im.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(im, np.float32) / 255.0


def centre_crop(photo: Path, out: Path, size: int = CROP) -> Path:
    """Scale the short side to `size` (Lanczos), crop the centre square, save as PNG."""
    im = Image.open(photo).convert("RGB")
    w, h = im.size
    s = size / min(w, h)
    w, h = max(size, round(w * s)), max(size, round(h * s))
    im = im.resize((w, h), Image.Resampling.LANCZOS)
    left, top = (w - size) // 2, (h - size) // 2
    im.crop((left, top, left + size, top + size)).save(out)
    return out


def score(path: Path, target: np.ndarray) -> tuple[float, float]:
    psnr, ssim = metrics()
    img = load_rgb(path, (target.shape[1], target.shape[0]))
    return round(psnr(img, target), 3), round(ssim(img, target), 4)


def primitive(binary: str, crop: Path, work: Path, target: np.ndarray, shapes: int, nth: int) -> list[dict]:
    """Run primitive once; one row per saved PNG."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    cmd = [binary, "-i", str(crop), "-o", str(work / "prim_%d.png"), "-m", "7", "-n", str(shapes),
           "-r", str(CROP), "-s", str(CROP), "-j", "2", "-nth", str(nth)]  # fmt: skip
    start = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    total = time.time() - start
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    rows = []
    for png in sorted(work.glob("prim_*.png"), key=lambda p: int(p.stem.split("_")[1])):
        p, s = score(png, target)
        rows.append({"tool": "primitive", "run": "snapshot", "shapes": int(png.stem.split("_")[1]),
                     "seconds": round(png.stat().st_mtime - start, 2), "psnr": p, "ssim": s,
                     "process_seconds": round(total, 2), "command": " ".join(cmd)})  # fmt: skip
    return rows


def brushwork_cmd() -> list[str]:
    """The `brushwork` console script of this interpreter's environment (else the one on PATH)."""
    exe = Path(sys.executable).parent / "brushwork"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("brushwork")
    return [found] if found else [sys.executable, "-m", "brushwork.cli"]


def outputs(folder: Path) -> tuple[Path, Path]:
    """(the real brush's painting, the painter's canvas) that `brushwork paint` wrote."""
    return folder / "painting.png", folder / "painting_neural.png"


def count_strokes(path: Path) -> int:
    return len(json.loads(path.read_text())["strokes"])  # schema brushwork.strokes v1


def brushwork(crop: Path, work: Path, target: np.ndarray, extra: list[str], args: argparse.Namespace) -> dict:
    """One `brushwork paint` subprocess; its row."""
    if work.exists():
        shutil.rmtree(work)
    cmd = [*brushwork_cmd(), "paint", str(crop), "--size", str(CROP), "--no-video", "--seed", str(args.seed),
           "--threads", str(args.threads), "-o", str(work), *extra, *shlex.split(args.brushwork_args)]  # fmt: skip
    env = dict(os.environ)
    if args.omp_wait_policy:
        env.setdefault("OMP_WAIT_POLICY", args.omp_wait_policy)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    row: dict = {"tool": "brushwork", "seconds": round(seconds, 2), "command": " ".join(cmd[len(brushwork_cmd()) :])}
    if r.returncode != 0:
        return {**row, "error": (r.stderr or r.stdout).strip().splitlines()[-5:]}
    m = PAINTING_SECONDS.search(r.stdout)
    real, neural = outputs(work)
    p, s = score(real, target)
    pn, sn = score(neural, target)
    return {**row, "strokes": count_strokes(work / "strokes.json"),
            "painting_seconds": float(m.group(1)) if m else None,
            "psnr": p, "ssim": s, "psnr_neural": pn, "ssim_neural": sn,
            "summary": r.stdout.strip().splitlines()[-1] if r.stdout.strip() else None}  # fmt: skip


def reused_primitive_rows(path: Path, photo: str) -> list[dict]:
    """Primitive's rows for `photo` from an earlier results file: those of its latest run."""
    if not path.is_file():
        sys.exit(f"--skip-primitive: no rows file {path}")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("tool") == "primitive" and r.get("photo") == photo and "psnr" in r]
    if not rows:
        sys.exit(f"--skip-primitive: no primitive rows for {photo} in {path}")
    latest = max(r.get("run_id", "") for r in rows)
    return sorted((r for r in rows if r.get("run_id", "") == latest), key=lambda r: r["shapes"])


def summary(photo: str, prim: list[dict], bw: list[dict]) -> dict:
    """Primitive at its last snapshot vs brushwork's runs on one photo."""
    out: dict = {"tool": "summary", "photo": photo}
    ok = sorted((r for r in bw if "psnr" in r), key=lambda r: r["seconds"])
    if prim:
        last = max(prim, key=lambda r: r["shapes"])
        out.update(primitive_shapes=last["shapes"], primitive_psnr=last["psnr"], primitive_ssim=last["ssim"],
                   primitive_seconds=last["seconds"])  # fmt: skip
        hit = next((r for r in ok if r["psnr"] >= last["psnr"]), None)
        out["first_brushwork_reaching_it"] = None if hit is None else {
            "run": hit["run"], "strokes": hit["strokes"], "budget": hit.get("budget"), "seconds": hit["seconds"],
            "psnr": hit["psnr"], "seconds_ratio_to_primitive": round(hit["seconds"] / last["seconds"], 3)}  # fmt: skip
        default = next((r for r in ok if r["run"] == "default"), None)
        if default is not None:  # the other way round: when primitive reaches brushwork's default painting
            match = next((r for r in prim if r["psnr"] >= default["psnr"]), None)
            out["primitive_reaching_brushwork_default"] = None if match is None else {
                "shapes": match["shapes"], "seconds": match["seconds"], "psnr": match["psnr"],
                "brushwork_default_psnr": default["psnr"], "brushwork_default_seconds": default["seconds"]}  # fmt: skip
    if ok:
        big = max(ok, key=lambda r: (r["strokes"], r["seconds"]))
        gap = round(big["psnr_neural"] - big["psnr"], 2)
        out["largest_brushwork_run"] = {
            "run": big["run"], "strokes": big["strokes"], "seconds": big["seconds"], "psnr": big["psnr"],
            "psnr_neural": big["psnr_neural"], "gap_neural_minus_real_db": gap}  # fmt: skip
    return out


def figure(photo: str, prim: list[dict], bw: list[dict], path: Path) -> None:
    """PSNR against seconds for both tools, ~600 x 400 px."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if prim:
        ax.plot([r["seconds"] for r in prim], [r["psnr"] for r in prim], "-", color="tab:gray",
                label="primitive (rotated ellipses, every 10)")  # fmt: skip
        last = prim[-1]
        ax.annotate(f"{last['shapes']}", (last["seconds"], last["psnr"]), fontsize=7, color="tab:gray",
                    xytext=(3, -9), textcoords="offset points")  # fmt: skip
    ok = sorted((r for r in bw if "psnr" in r), key=lambda r: r["seconds"])
    if ok:
        xs = [r["seconds"] for r in ok]
        ax.plot(xs, [r["psnr"] for r in ok], "o-", color="tab:blue", label="brushwork, real brush")
        ax.plot(xs, [r["psnr_neural"] for r in ok], "s--", color="tab:orange", markersize=4, alpha=0.8,
                label="brushwork, painter canvas")  # fmt: skip
        span = max(xs + [r["seconds"] for r in prim]) + 1e-9  # the x axis
        groups: list[list[dict]] = []  # runs drawn on top of each other share one label
        for r in ok:
            near = groups and r["seconds"] - groups[-1][0]["seconds"] < 0.05 * span
            if near and abs(r["psnr"] - groups[-1][0]["psnr"]) < 0.3:
                groups[-1].append(r)
            else:
                groups.append([r])
        for g in groups:
            tags = [{"budget": f"{r.get('budget') or 0:g} s", "strokes": f"{r['strokes']} st"}.get(r["run"], r["run"])
                    for r in g]  # fmt: skip
            ax.annotate(" / ".join(tags), (g[0]["seconds"], g[0]["psnr"]), fontsize=7, xytext=(4, -10),
                        textcoords="offset points")  # fmt: skip
    ax.set_xlabel("wall-clock seconds, 2 CPU cores (brushwork: whole command)")
    ax.set_ylabel("PSNR vs 256 px crop (dB)")
    ax.set_title(f"{photo}: brushwork vs primitive", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def emit(row: dict, files: list[Path]) -> None:
    line = json.dumps(row)
    print(line, flush=True)
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        with f.open("a") as fh:
            fh.write(line + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--primitive", default=None, help="the primitive binary (required unless --skip-primitive)")
    ap.add_argument("--photos", nargs="*", default=[str(SEED / p) for p in PHOTOS])
    ap.add_argument("--out", default="/tmp/vs_primitive", help="work folder")
    ap.add_argument("--budgets", nargs="*", type=float, default=[10, 20, 40], help="brushwork --time-budget runs")
    ap.add_argument("--stroke-counts", nargs="*", type=int, default=[1000, 4000], help="brushwork --strokes runs")
    ap.add_argument("--brushwork-args", default="", help="extra arguments for every `brushwork paint`")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--shapes", type=int, default=1000, help="primitive's shapes")
    ap.add_argument("--nth", type=int, default=10, help="primitive saves a PNG every NTH shapes")
    ap.add_argument("--skip-primitive", action="store_true")
    ap.add_argument("--primitive-rows", default=str(RESULTS), help="rows to reuse with --skip-primitive")
    ap.add_argument("--results", default=str(RESULTS), help="append rows here ('' = print only)")
    ap.add_argument("--primitive-rows-copy", default=str(PRIMITIVE_ROWS),
                    help="also append fresh primitive rows here ('' = no copy)")  # fmt: skip
    ap.add_argument("--figures", default=str(FIGURES), help="figure folder ('' = none)")
    ap.add_argument("--omp-wait-policy", default="PASSIVE", help="for brushwork, unless set ('' = leave)")
    args = ap.parse_args()
    if not args.skip_primitive and not args.primitive:
        ap.error("--primitive PATH is required unless --skip-primitive")

    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    results = [Path(args.results)] if args.results else []
    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    for name in args.photos:
        photo = Path(name) if Path(name).is_file() else SEED / name
        stem = photo.stem
        work = root / stem
        work.mkdir(parents=True, exist_ok=True)
        crop = centre_crop(photo, work / "crop.png")
        target = load_rgb(crop)
        base = {"photo": photo.name, "size": CROP, "run_id": run_id}

        def stamp(row: dict, base: dict = base) -> dict:
            return {**base, **row, "threads": args.threads, "loadavg_1min": round(os.getloadavg()[0], 2)}

        if args.skip_primitive:
            prim = reused_primitive_rows(Path(args.primitive_rows), photo.name)
        else:
            shots = primitive(args.primitive, crop, work / "primitive", target, args.shapes, args.nth)
            prim = [stamp(r) for r in shots]
            for r in prim:
                emit(r, [*results, *([Path(args.primitive_rows_copy)] if args.primitive_rows_copy else [])])

        runs: list[tuple[str, dict, list[str]]] = [("default", {}, [])]
        runs += [("budget", {"budget": b}, ["--time-budget", f"{b:g}"]) for b in args.budgets]
        runs += [("strokes", {"requested_strokes": n}, ["--strokes", str(n)]) for n in args.stroke_counts]
        bw = []
        for kind, info, extra in runs:
            folder = "bw_" + "_".join([kind, *(f"{v:g}" for v in info.values())])  # bw_default, bw_budget_10, ...
            row = brushwork(crop, work / folder, target, extra, args)
            row = stamp({"run": kind, **info, **row, "seed": args.seed})
            emit(row, results)
            bw.append(row)

        emit({**base, **summary(photo.name, prim, bw)}, results)
        if args.figures:
            figure(photo.name, prim, bw, Path(args.figures) / f"vs_primitive_{stem}.png")


if __name__ == "__main__":
    main()
