"""Many photos: images a minute, sequential CLI against `--ray` (local, and a two-node cluster).

Sixteen photos at 256 px (the four seed photos, four crops each), one run, each variant the whole
command as a user runs it (start-up included):

    (a) sequential: brushwork paint 16 photos --threads 2
    (b) ray-local:  brushwork paint 16 photos --ray --threads 1      (2 one-thread workers)
    (c) ray-2-node: ray start --head --num-cpus 1 + ray start --address --num-cpus 1, then --ray ADDRESS

Ray runs inside a network namespace with only loopback (unshare -n), so it stays on 127.0.0.1.
Rows (JSON) go to benchmarks/results/batch.jsonl; the files of (b) and (c) are compared with (a)'s.

    python benchmarks/batch.py [--strokes 2000] [--size 256]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "images" / "seed"
BIN = Path(sys.executable).parent


def make_photos(folder: Path) -> list[Path]:
    """Four crops (the quarters' centres) of each seed photo."""
    paths = []
    for src in sorted(SEED.iterdir()):
        im = np.asarray(Image.open(src).convert("RGB"))
        h, w = im.shape[:2]
        for k, (y, x) in enumerate(((0, 0), (0, w // 2), (h // 2, 0), (h // 2, w // 2))):
            path = folder / f"{src.stem}-{k}.png"
            Image.fromarray(im[y : y + h // 2, x : x + w // 2]).save(path)
            paths.append(path)
    return paths


def timed(script: str, namespace: bool) -> float:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token"}  # fmt: skip
    cmd = ["unshare", "-n", "bash", "-c", "ip link set lo up\n" + script] if namespace else ["bash", "-c", script]
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if "0 failed" not in r.stdout:
        raise SystemExit(f"a run failed:\n{r.stdout}\n{r.stderr}")
    return seconds


def same_as(a: Path, b: Path, names: list[str]) -> bool:
    for stem in names:
        files = sorted(p.name for p in (a / stem).iterdir())
        _, mismatch, errors = filecmp.cmpfiles(a / stem, b / stem, files, shallow=False)
        if mismatch or errors:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--strokes", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brushwork-batch-bench-"))
    photos = make_photos(work)
    stems = [p.stem for p in photos]
    paint = f"brushwork paint {' '.join(map(str, photos))} --size {args.size} --strokes {args.strokes} --quiet"
    port = 26380
    variants = {
        "sequential": (f"{paint} --threads 2 -o {work}/a", False),
        "ray-local": (f"{paint} --threads 1 --ray -o {work}/b", True),
        "ray-2-node": (
            f"trap 'ray stop --force >/dev/null 2>&1' EXIT\n"
            f"ray start --head --port {port} --num-cpus 1 --include-dashboard false >/dev/null 2>&1\n"
            f"ray start --address 127.0.0.1:{port} --num-cpus 1 >/dev/null 2>&1\n"
            f"{paint} --threads 1 --ray 127.0.0.1:{port} -o {work}/c",
            True,
        ),
    }
    rows = []
    for name, (script, namespace) in variants.items():
        seconds = timed(script, namespace)
        rows.append({"variant": name, "photos": len(photos), "size": args.size, "strokes": args.strokes,
                     "seconds": round(seconds, 1), "images_a_minute": round(60 * len(photos) / seconds, 2),
                     "date": time.strftime("%Y-%m-%d")})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["images_a_minute"]
    for row, out in zip(rows[1:], ("b", "c"), strict=True):
        row["speedup"] = round(row["images_a_minute"] / base, 3)
        # same bytes as one process needs the same threads per painting: (a) ran with 2, so compare the
        # Ray variants with each other (both one thread a worker)
        row["same_bytes_as_ray_local"] = same_as(work / "b", work / out, stems)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    with open(ROOT / "benchmarks" / "results" / "batch.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(json.dumps({"summary": rows}))


if __name__ == "__main__":
    main()
