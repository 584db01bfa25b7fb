"""A film in chunks (what Ray's workers share): does a chunk boundary flicker more than the frames inside?

On Megamind.avi from Debian's opencv-doc (fetched as benchmarks/video.py does), frames 1:101 at
256 px with 1000 strokes a frame and the default brush, three variants in one run, one process with
one thread each, all at once:

    (a) through:  one coherent run through the clip (what `brushwork paint clip.mp4` does)
    (b) dissolve: chunks of 24 frames, neighbours dissolving stroke by stroke over 4 frames
    (c) hard:     chunks of 24 frames, each starting afresh with no overlap (a hard cut)

Per variant one JSON row: seconds a frame, mean PSNR, and the warping error over the clip's own
(Lai et al. 2018) for the frames at chunk boundaries (the dissolved ones and the first after them)
and for the frames inside chunks. Rows go to benchmarks/results/video_chunks.jsonl and per-frame
rows to video_chunks_frames.jsonl.

    python benchmarks/video_chunks.py [--frames 1:101] [--chunk 24] [--overlap 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np
from video import fetch_clip

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def paint(clip: str, a: int, b: int, size: int, strokes: int, chunk: int | None, overlap: int, out: str) -> None:
    import torch

    from brushwork.video.chunks import ChunkConfig
    from brushwork.video.pipeline import VideoPipeline

    torch.set_num_threads(1)
    chunks = ChunkConfig(chunk, overlap) if chunk else None
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        film = VideoPipeline.from_pretrained("classic/dry_brush", size=size)(
            clip, d, strokes=strokes, frames=(a, b), progress=False, chunks=chunks
        )
    Path(out).write_text(json.dumps({"rows": film.rows, "seconds": time.perf_counter() - t}))


def summary(name: str, rows: list[dict], seconds: float, near: set[int]) -> dict:
    """`near`: the frames at or next to a chunk boundary (any variant's), compared across variants."""
    def ratio(rs: list[dict]) -> float | None:
        rs = [r for r in rs if r.get("input_warping_error") and not r["cut"]]
        if not rs:
            return None
        mean = {key: float(np.mean([r[key] for r in rs])) for key in ("warping_error", "input_warping_error")}
        return round(mean["warping_error"] / mean["input_warping_error"], 3)

    later = rows[1:]
    boundary = [r for r in later if r["frame"] in near]
    inside = [r for r in later if r["frame"] not in near]
    worst = max((r["warping_error"] / r["input_warping_error"] for r in boundary), default=None)
    return {"variant": name, "frames": len(rows), "seconds": round(seconds, 1),
            "seconds_a_frame": round(seconds / len(rows), 2),
            "mean_psnr": round(float(np.mean([r["psnr"] for r in rows])), 3),
            "chunks": len({r.get("chunk", 0) for r in rows}),
            "warping_ratio_all": ratio(later), "warping_ratio_boundary": ratio(boundary),
            "warping_ratio_inside": ratio(inside),
            "worst_boundary_frame_ratio": round(worst, 3) if worst is not None else None,
            "date": time.strftime("%Y-%m-%d")}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", default="Megamind.avi")
    ap.add_argument("--frames", default="1:101")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--strokes", type=int, default=1000)
    ap.add_argument("--chunk", type=int, default=24)
    ap.add_argument("--overlap", type=int, default=4)
    args = ap.parse_args()
    clip = str(fetch_clip(args.clip))
    a, b = map(int, args.frames.split(":"))
    variants = {"through": (None, 0), "dissolve": (args.chunk, args.overlap), "hard": (args.chunk, 0)}
    work = Path(tempfile.mkdtemp(prefix="brushwork-chunks-"))
    ctx = mp.get_context("spawn")
    procs = {}
    for name, (chunk, overlap) in variants.items():
        p = ctx.Process(target=paint, args=(clip, a, b, args.size, args.strokes, chunk, overlap, str(work / name)))
        p.start()
        procs[name] = p
    got = {}
    for name, p in procs.items():
        p.join()
        if p.exitcode:
            raise SystemExit(f"{name} failed ({p.exitcode})")
        got[name] = json.loads((work / name).read_text())
    near = {r["frame"] for g in got.values() for r in g["rows"] if r.get("boundary")}
    rows = []
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "video_chunks_frames.jsonl", "a") as f:
        for name, g in got.items():
            rows.append(summary(name, g["rows"], g["seconds"], near))
            for r in g["rows"]:
                f.write(json.dumps({"variant": name, "clip": args.clip, **r}) + "\n")
            print(json.dumps(rows[-1]), flush=True)
    with open(RESULTS / "video_chunks.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps({"clip": args.clip, "frames_range": args.frames, "size": args.size,
                                "strokes": args.strokes, "chunk": args.chunk, "overlap": args.overlap,
                                **row}) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
