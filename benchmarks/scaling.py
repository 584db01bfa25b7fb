"""Where a Ray run's time goes, measured on this machine: the figures behind docs/scaling.md.

With a local Ray (2 one-thread `PainterActor`s, inside a network namespace with only loopback) and
the same code `brushwork paint --ray` runs, one run measures:

- start-up: `ray.init`, and each actor's start (its process and its `PaintPipeline`), as the time to
  its first result less that result's own painting time;
- per photo (the four seed photos at --size, --strokes): the worker's painting and file seconds, the
  bytes sent to the worker and back through the object store, and the driver's seconds writing the
  files (`install_outputs`);
- per frame of a clip (Megamind.avi frames 1:17 at 256 px, 1000 strokes, chunks of 8 dissolving
  over 4): the worker's seconds, the bytes of the frames sent and of the painted frames returned,
  the workers' seconds a dissolved frame, and the driver's seconds a frame writing them and
  finishing the film (rows at boundaries, painting.mp4 and comparison.mp4).

One JSON row goes to benchmarks/results/scaling.jsonl.

    python benchmarks/scaling.py [--size 256] [--strokes 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "images" / "seed"
RESULTS = ROOT / "benchmarks" / "results"


def measure(size: int, strokes: int, clip: str) -> dict:
    import ray

    from brushwork.batch.ray_run import PainterActor
    from brushwork.painting.config import PaintConfig
    from brushwork.painting.outputs import SaveOptions, install_outputs
    from brushwork.video.chunks import ChunkConfig
    from brushwork.video.pipeline import VideoPipeline

    row: dict = {"size": size, "strokes": strokes, "workers": 2, "date": time.strftime("%Y-%m-%d")}
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    row["ray_init_s"] = round(time.perf_counter() - t, 2)
    config = PaintConfig(size=size, strokes=strokes)
    options = SaveOptions()
    actor_cls = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=3)(PainterActor)
    t_actors = time.perf_counter()
    actors = [actor_cls.remote(config, 1) for _ in range(2)]

    photos = sorted(SEED.iterdir())
    sent = {}
    refs = {}
    for k, photo in enumerate(photos):
        data = photo.read_bytes()
        ref = actors[k % 2].paint.remote(photo.name, data, options, None)
        refs[ref], sent[ref] = (k % 2, photo), len(data)
    first: dict[int, float] = {}
    per_photo = []
    with tempfile.TemporaryDirectory() as d:
        pending = list(refs)
        while pending:
            [ref], pending = ray.wait(pending, num_returns=1)
            result = ray.get(ref)
            worker, photo = refs[ref]
            got = time.perf_counter() - t_actors
            report = result["report"]
            work = report.seconds_painting + report.seconds_files
            first.setdefault(worker, got - work)
            t = time.perf_counter()
            install_outputs(Path(d) / photo.stem, result["files"])
            per_photo.append({"painting_s": report.seconds_painting, "files_s": report.seconds_files,
                              "driver_write_s": time.perf_counter() - t, "sent_bytes": sent[ref],
                              "returned_bytes": len(pickle.dumps(result, protocol=5))})  # fmt: skip
    row["actor_start_s"] = round(max(first.values()), 2)
    for key in ("painting_s", "files_s", "driver_write_s", "sent_bytes", "returned_bytes"):
        row[f"photo_{key}"] = round(sum(p[key] for p in per_photo) / len(per_photo), 4)

    # a clip in two chunks, painted by the two actors; the driver's side timed as paint_on_ray does it
    import torch

    from brushwork.painting.pipeline import PaintPipeline

    torch.set_num_threads(1)
    vpipe = VideoPipeline(PaintPipeline(PaintConfig(size=256, strokes=1000)))
    with tempfile.TemporaryDirectory() as d:
        film = vpipe.start(clip, Path(d) / "film", frames=(1, 17), progress=False, chunks=ChunkConfig(8, 4))
        t = time.perf_counter()
        chunks = list(film.chunks())
        decode = time.perf_counter() - t
        film.assembler.defer_dissolves = True  # as paint_on_ray: the workers render the dissolves
        refs = {actors[k % 2].paint_chunk.remote(film.stepping, c, f): (c, f) for k, (c, f) in enumerate(chunks)}
        sent_bytes = sum(len(pickle.dumps(f, protocol=5)) for _, f in chunks)
        returned_bytes, add_s, work_s, painted = 0, 0.0, 0.0, 0
        for ref in refs:
            result = ray.get(ref)
            chunk, _ = refs[ref]
            returned_bytes += len(pickle.dumps(result, protocol=5))
            t = time.perf_counter()
            for raw in result["frames"]:
                painted += 1
                work_s += raw.row["seconds"]
                film.add(chunk, raw)
            film.assembler.write_rows()
            add_s += time.perf_counter() - t
        jobs = list(film.assembler.ready)
        film.assembler.ready.clear()
        t = time.perf_counter()
        done = ray.get([actors[k % 2].dissolve.remote(job) for k, job in enumerate(jobs)])
        dissolve_s = (time.perf_counter() - t) / max(1, len(jobs))  # two at once: a worker's time, roughly
        sent_bytes += sum(len(pickle.dumps(job, protocol=5)) for job in jobs)
        returned_bytes += sum(len(pickle.dumps(d, protocol=5)) for d in done)
        t = time.perf_counter()
        for job, result in zip(jobs, done, strict=True):
            film.assembler.put_dissolved(job, result)
        add_s += time.perf_counter() - t
        t = time.perf_counter()
        film.finish()
        finish_s = time.perf_counter() - t
    n = film.total
    row.update(clip_frames=n, clip_chunks=len(chunks), clip_painted_frames=painted,
               frame_worker_s=round(work_s / painted, 3), frame_sent_bytes=sent_bytes // painted,
               frame_returned_bytes=returned_bytes // painted, frame_driver_decode_s=round(decode / n, 4),
               frame_driver_write_s=round(add_s / n, 4), frame_driver_finish_s=round(finish_s / n, 4),
               dissolves=len(jobs), dissolve_worker_s=round(2 * dissolve_s, 3))  # fmt: skip
    ray.shutdown()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--strokes", type=int, default=2000)
    ap.add_argument("--inside", metavar="CLIP", help=argparse.SUPPRESS)  # already in the namespace
    args = ap.parse_args()
    if not args.inside:  # Ray binds the machine's address: keep it on loopback (the clip is fetched first)
        from video import fetch_clip

        clip = fetch_clip("Megamind.avi")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
        cmd = (f"ip link set lo up && {sys.executable} {__file__} --inside {clip} --size {args.size} "
               f"--strokes {args.strokes}")  # fmt: skip
        sys.exit(subprocess.run(["unshare", "-n", "bash", "-c", cmd], env=env).returncode)
    row = measure(args.size, args.strokes, args.inside)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "scaling.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
