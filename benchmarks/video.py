"""Painted film against flicker: every frame painted on its own vs brushwork's coherent painting.

On a real clip from Debian's opencv-doc (fetched with apt-get download + dpkg -x, never committed),
at 256 px long side with the default brush and the same strokes a frame, in one run:

    (a) independent: each frame painted as a photo is (`PaintPipeline`, seed + frame);
    (b) coherent: `VideoPipeline`, strokes carried from frame to frame by the input's flow.

Both run at once, one process each with one thread, so their seconds are measured under the same
load. Per variant one JSON row: frames, seconds a frame (after the first), mean PSNR of the real
painting, the warping error (Lai et al. 2018) and its ratio to the input clip's own. Per-frame rows
go to benchmarks/results/video_frames.jsonl; docs/video_flicker.png plots them, docs/video_frames.jpg
shows a few frames side by side.

    python benchmarks/video.py                      # Megamind.avi frames 1:101, 1000 strokes
    python benchmarks/video.py --clip vtest.avi --frames 0:100 --tag vtest
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(tempfile.gettempdir()) / "brushwork-clips"


def fetch_clip(name: str) -> Path:
    """A sample clip from Debian's opencv-doc package (downloaded once into a temporary folder)."""
    path = CACHE / "usr/share/doc/opencv-doc/examples/data" / name
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=CACHE, check=True, capture_output=True)
        deb = next(CACHE.glob("opencv-doc_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(CACHE)], check=True)
    return path


def _frames(clip: Path, a: int, b: int, size: int) -> list[np.ndarray]:
    from brushwork.video.clip import probe, read_frames

    info = probe(clip)
    return [f for _, f in read_frames(info, list(range(a, b)), size=size)]


def run_independent(clip: str, a: int, b: int, size: int, strokes: int, seed: int, out: str) -> None:
    import torch

    from brushwork.painting.exports import as_uint8
    from brushwork.painting.pipeline import PaintPipeline

    torch.set_num_threads(1)
    pipe = PaintPipeline.from_pretrained("classic/dry_brush", size=size)
    rows, images = [], []
    for k, frame in enumerate(_frames(Path(clip), a, b, size)):
        t = time.perf_counter()
        p = pipe(frame, strokes=strokes, seed=seed + k, progress=False)
        rows.append({"frame": k, "seconds": time.perf_counter() - t, "psnr": p.psnr})
        images.append(as_uint8(p.image))
    np.save(out + ".npy", np.stack(images))
    Path(out + ".json").write_text(json.dumps(rows))


def run_coherent(clip: str, a: int, b: int, size: int, strokes: int, seed: int, out: str) -> None:
    import torch

    from brushwork.video.pipeline import VideoPipeline

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        film = VideoPipeline.from_pretrained("classic/dry_brush", size=size)(
            clip, d, strokes=strokes, frames=(a, b), seed=seed, progress=False
        )
        images = np.stack(list(film.folder and _pngs(Path(d), len(film.rows))))
    np.save(out + ".npy", images)
    Path(out + ".json").write_text(json.dumps(film.rows))


def _pngs(folder: Path, n: int):
    from PIL import Image

    for k in range(n):
        yield np.asarray(Image.open(folder / "frames" / f"{k:06d}.png").convert("RGB"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="Megamind.avi", help="a clip in opencv-doc's examples/data, or a path")
    ap.add_argument("--frames", default="1:101", help="source frames A:B (Megamind's frame 0 is black)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--strokes", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="megamind")
    args = ap.parse_args()
    clip = Path(args.clip) if Path(args.clip).is_file() else fetch_clip(args.clip)
    a, b = (int(v) for v in args.frames.split(":"))

    work = Path(tempfile.mkdtemp(prefix="brushwork-video-bench-"))
    jobs = {"independent": run_independent, "coherent": run_coherent}
    procs = {}
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    for name, fn in jobs.items():
        procs[name] = ctx.Process(target=fn, args=(str(clip), a, b, args.size, args.strokes, args.seed,
                                                   str(work / name)))  # fmt: skip
        procs[name].start()
    for name, p in procs.items():
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"variant {name} failed (exit {p.exitcode})")
    wall = time.perf_counter() - t0

    from brushwork.video.flow import frame_flow, warping_error

    inputs = _frames(clip, a, b, args.size)
    pairs = [frame_flow(inputs[k - 1], inputs[k]) for k in range(1, len(inputs))]
    own = [warping_error(inputs[k - 1], inputs[k], pairs[k - 1]) for k in range(1, len(inputs))]
    coherent_rows = json.loads((work / "coherent.json").read_text())
    cuts = {r["frame"] for r in coherent_rows if r.get("cut")}
    summary, per_frame = [], []
    for name in jobs:
        rows = json.loads((work / f"{name}.json").read_text())
        images = np.load(work / f"{name}.npy").astype(np.float32) / 255.0
        we = [warping_error(images[k - 1], images[k], pairs[k - 1]) for k in range(1, len(images))]
        for k, r in enumerate(rows):
            per_frame.append({"variant": name, "frame": k, "seconds": r["seconds"], "psnr": r["psnr"],
                              "warping_error": we[k - 1] if k else None,
                              "input_warping_error": own[k - 1] if k else None, "cut": k in cuts})  # fmt: skip
        # a scene cut is no flicker: pairs across a cut are left out of the warping errors
        keep = [k for k in range(1, len(images)) if k not in cuts]
        mean_we = float(np.mean([we[k - 1] for k in keep]))
        mean_own = float(np.mean([own[k - 1] for k in keep]))
        later = [r["seconds"] for r in rows[1:] if not r.get("cut")] if name == "coherent" else \
            [r["seconds"] for r in rows[1:]]  # fmt: skip
        summary.append({
            "variant": name, "clip": clip.name, "frames": len(rows), "size": args.size, "strokes": args.strokes,
            "seconds_first": round(rows[0]["seconds"], 3), "seconds_a_frame": round(float(np.mean(later)), 3),
            "psnr": round(float(np.mean([r["psnr"] for r in rows])), 3),
            "warping_error": round(mean_we, 7), "input_warping_error": round(mean_own, 7),
            "warping_ratio": round(mean_we / mean_own, 3), "cuts": sorted(cuts), "wall_seconds": round(wall, 1),
            "threads": 1, "date": time.strftime("%Y-%m-%d"),
        })  # fmt: skip
    ind, coh = summary
    coh["speed_vs_independent"] = round(coh["seconds_a_frame"] / ind["seconds_a_frame"], 3)
    coh["psnr_gap_db"] = round(ind["psnr"] - coh["psnr"], 3)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"video_{args.tag}.jsonl", "a") as f:
        for row in summary:
            f.write(json.dumps(row) + "\n")
            print(json.dumps(row))
    with open(RESULTS / f"video_{args.tag}_frames.jsonl", "w") as f:
        for row in per_frame:
            f.write(json.dumps(row) + "\n")
    plot(per_frame, ROOT / "docs" / f"video_{args.tag}.png", clip.name)
    strip(inputs, {n: np.load(work / f"{n}.npy") for n in jobs}, ROOT / "docs" / f"video_{args.tag}_frames.jpg")


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Warping error and PSNR per frame, both variants (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for name, style in (("independent", "tab:red"), ("coherent", "tab:blue")):
        r = [x for x in rows if x["variant"] == name]
        ks = [x["frame"] for x in r if x["warping_error"] is not None and not x["cut"]]
        ax1.plot(ks, [x["warping_error"] for x in r if x["frame"] in ks], color=style, label=name)
        ax2.plot([x["frame"] for x in r], [x["psnr"] for x in r], color=style, label=name)
    inp = [x for x in rows if x["variant"] == "coherent" and x["input_warping_error"] is not None and not x["cut"]]
    ax1.plot([x["frame"] for x in inp], [x["input_warping_error"] for x in inp], color="gray", ls="--",
             label="input clip")  # fmt: skip
    for x in rows:
        if x["cut"] and x["variant"] == "coherent":
            ax1.axvline(x["frame"], color="k", lw=0.5, ls=":")
            ax2.axvline(x["frame"], color="k", lw=0.5, ls=":")
    ax1.set_yscale("log")
    ax1.set_ylabel("warping error (MSE)")
    ax1.legend()
    ax2.set_ylabel("PSNR of the real painting (dB)")
    ax2.set_xlabel("frame")
    ax1.set_title(f"{title}: flicker and fidelity per frame (dotted: scene cut)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def strip(inputs: list[np.ndarray], images: dict[str, np.ndarray], path: Path, picks: int = 4) -> None:
    """Rows clip / independent / coherent, a few consecutive-ish frames across."""
    from PIL import Image

    n = len(inputs)
    ks = [int(k) for k in np.linspace(1, min(n - 1, 40), picks)]
    rows = [np.concatenate([(inputs[k] * 255).astype(np.uint8) for k in ks], 1)]
    rows += [np.concatenate([images[name][k] for k in ks], 1) for name in ("independent", "coherent")]
    Image.fromarray(np.concatenate(rows, 0)).save(path, quality=88)


if __name__ == "__main__":
    main()
