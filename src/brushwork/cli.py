"""The `brushwork` command line: thin commands over the library.

`--help` and `--version` answer without importing torch; every command imports what it needs.
Library errors (BrushworkError, bad values) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from brushwork import __version__
from brushwork.allocator import return_large_blocks
from brushwork.errors import BrushworkError
from brushwork.io import TolerantStream, line_to_stderr, note_to_stderr
from brushwork.limits import (
    MAX_CLIP_FRAMES,
    MAX_DATASET_STROKES,
    MAX_SEED,
    MAX_SHARD_STROKES,
    MAX_SHARDS,
    MAX_STEPS,
    MAX_STROKES,
    MAX_THREADS,
)

DEFAULT_BRUSH = "classic/dry_brush"


# ----------------------------------------------------------------------------- commands


def cmd_brushes(args: argparse.Namespace) -> None:
    from brushwork.engine import list_brushes

    brushes = list_brushes()
    if not brushes:
        raise BrushworkError("no MyPaint brushes found: install them with 'sudo apt-get install mypaint-brushes'")
    from brushwork.models.registry import shipped_provenance

    shipped = _shipped_painters()
    rows = [b for b in brushes if b.learnable or args.all]
    width = max(len(b.name) for b in rows)
    _say(f"{'brush':<{width}}  learnable   painter")
    for b in rows:
        learn = ("yes (wet)" if b.wet else "yes") if b.learnable else f"no ({b.problem})"
        painter = ""
        if b.name in shipped:  # with its held-out PSNR against the real brush, as recorded beside it
            info = shipped_provenance(b.name)
            psnr = info.get("metrics", {}).get(info.get("chosen"), {}).get("psnr")
            painter = "shipped" + (f" (held-out {psnr:.1f} dB)" if psnr else "")
        _say(f"{b.name:<{width}}  {learn:<10}  {painter}".rstrip())
    hidden = len(brushes) - len(rows)
    if hidden:
        _say(f"({hidden} brushes that erase, lock alpha or shift colour are hidden; --all lists them; "
             "'wet' brushes smudge the paint under them)")


def _shipped_painters() -> set[str]:
    from brushwork.models.registry import shipped_brushes

    return set(shipped_brushes())


def cmd_dataset_generate(args: argparse.Namespace) -> None:
    from brushwork.data.generate import generate_dataset

    written = generate_dataset(
        args.out, brush=args.brush, count=args.count, seed=args.seed, shard_size=args.shard_size,
        workers=args.workers, shard_index=args.shard_index, num_shards=args.num_shards,
        progress=not args.quiet,
    )  # fmt: skip
    _say(f"wrote {len(written)} shard(s) to {args.out}")


def cmd_dataset_preview(args: argparse.Namespace) -> None:
    from brushwork.data.preview import preview_dataset

    _say(preview_dataset(args.folder, args.output, count=args.count))


def cmd_train(args: argparse.Namespace) -> None:
    from brushwork.train.run import run_training

    run_training(args)


def cmd_eval(args: argparse.Namespace) -> None:
    import json

    from brushwork.train.evaluate import evaluate

    _say(
        json.dumps(evaluate(args.painter, args.data, strokes=args.strokes, discriminator=args.discriminator), indent=2)
    )


def cmd_paint(args: argparse.Namespace) -> None:
    """Paint each image (or clip) with one pipeline (painter and loss network built once), write its files.

    Everything is checked first (settings, every image and clip, the init strokes, brush and painter):
    a bad input fails at once with one line, not after minutes of painting.
    """
    import numpy as np
    import torch

    from brushwork.batch.photos import describe, paint_photo
    from brushwork.batch.sources import expand, output_folders
    from brushwork.images import fit_to_canvas, load_image
    from brushwork.limits import check_painting_memory
    from brushwork.painting.config import PaintConfig
    from brushwork.painting.outputs import SaveOptions, is_painted, prepare_folder
    from brushwork.painting.pipeline import PaintPipeline, continue_strokes
    from brushwork.painting.plan import check_brush_count, level_windows
    from brushwork.painting.refine import refine_plan
    from brushwork.painting.strokes_files import load as load_strokes
    from brushwork.video.clip import is_clip

    if args.poster:  # print size: what the user did not set
        args.size = args.size or POSTER["size"]
        args.strokes = args.strokes if args.strokes is not None or args.time_budget is not None else POSTER["strokes"]
        args.min_stroke = args.min_stroke or POSTER["min_stroke"]
        if args.steps is None and args.time_budget is None:
            args.steps = POSTER["steps"]
    args.size = args.size or DEFAULT_SIZE
    config = PaintConfig(
        strokes=args.strokes, size=args.size, brush=args.brush, painter=args.painter, loss=args.loss, seed=args.seed,
        steps=args.steps, time_budget=args.time_budget, device=args.device, engine=not args.no_engine,
        min_stroke=_stroke_fraction(args.min_stroke, args.size, "--min-stroke") if args.min_stroke
        else PaintConfig.min_stroke,
        max_stroke=_stroke_fraction(args.max_stroke, args.size, "--max-stroke"), refine=args.refine,
    )  # fmt: skip
    if args.refine and args.init is None:
        raise BrushworkError("--refine optimises an earlier painting's strokes again: give them with --init STROKES")
    images = expand(args.images)
    clips = [p for p in images if is_clip(p)]
    frames = _frame_range(args.frames) if args.frames is not None else None
    if not clips and frames is not None:
        raise BrushworkError("--frames is for clips (mp4, mov, webm, mkv, mpg, animated GIF ...)")
    if clips and args.init is not None:
        raise BrushworkError("--init continues a photo's painting; a clip's frames continue each other")
    if clips and args.no_engine:
        raise BrushworkError("painting a clip needs the real brush in the loop; drop --no-engine")
    chunks = None
    if clips and (args.ray is not None or args.chunk_frames is not None):
        from brushwork.video.chunks import ChunkConfig

        length = args.chunk_frames or ChunkConfig.length
        chunks = ChunkConfig(length, min(ChunkConfig.overlap, length - 1))
    elif args.chunk_frames is not None:
        raise BrushworkError("--chunk-frames is for clips (mp4, mov, webm, mkv, mpg, animated GIF ...)")
    if args.ray is not None:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise BrushworkError("--ray needs Ray: pip install 'brushwork[ray]'")
    options = SaveOptions(
        video=not args.no_video, render_size=args.render_size, fps=_photo_fps(args.fps),
        video_seconds=args.video_seconds,
        video_size=args.video_size,
    )  # fmt: skip
    init = load_strokes(args.init) if args.init is not None else None
    if clips:
        from brushwork.video.pipeline import VideoPipeline, plan_clip

    for path in images:
        if path in clips:
            info, _ = plan_clip(path, args.size, frames, args.fps)  # probe and limits, before any painting
            shape = (*_fit_shape(info.height, info.width, args.size), 3)
        elif args.ray is not None:
            continue  # on Ray each worker checks its photo: a bad one is one line and the others go on
        else:
            shape = fit_to_canvas(load_image(path), args.size, name=path).shape
            if init is not None:
                given = continue_strokes(init, args.brush, *shape[:2], label=args.init)
                if args.refine:
                    refine_plan(given, config.work_window, config.steps or config.level_steps, torch.device("cpu"))
        check_brush_count(len(config.brush_list()), len(level_windows(*shape[:2], config)))
        check_painting_memory(shape[1], shape[0])
    pipe = PaintPipeline(config)  # checks brush and painter: a bad one fails here, before any folder or note
    folders = output_folders(images, Path(args.out))
    if args.resume:  # before any note or folder: nothing to resume is one line
        from brushwork.video.folder import MANIFEST

        for path, folder in zip(images, folders, strict=True):
            if path in clips and not (folder / MANIFEST).is_file():
                raise BrushworkError(f"nothing to resume in {folder}: no {MANIFEST} from an earlier run")
    # --init's strokes are read already: `--init OUT/strokes.json -o OUT` continues a painting in place
    inputs = tuple(images)
    for folder in folders:
        prepare_folder(folder, inputs)
    skipped = 0
    if args.resume:  # photos painted by an earlier run of the same command are kept as they are
        todo = [(p, f) for p, f in zip(images, folders, strict=True) if p in clips or not is_painted(f)]
        skipped = len(images) - len(todo)
        if skipped:
            note_to_stderr(f"resuming: {skipped} of {len(images)} photos already painted")
    else:
        todo = list(zip(images, folders, strict=True))
    if args.ray is not None:
        from brushwork.batch.ray_run import PhotoJob, paint_on_ray

        torch.set_num_threads(args.threads or 1)  # the films' manifests record a worker's threads
        films = [VideoPipeline(pipe).start(p, f, frames=frames, fps=args.fps, resume=args.resume,
                                           progress=not args.quiet, chunks=chunks)
                 for p, f in todo if p in clips]  # fmt: skip
        photos = [PhotoJob(p, f) for p, f in todo if p not in clips]
        summary = paint_on_ray(photos, films, config, options, init, threads=args.threads or 1,
                               address=args.ray or None, progress=not args.quiet, say=_say,
                               note=note_to_stderr, fail=_failed)  # fmt: skip
        _say(f"brushwork: {summary.painted} painted, {skipped} skipped, {len(summary.failed)} failed "
             f"({summary.workers} Ray workers, {summary.seconds:.1f} s)")  # fmt: skip
        if summary.failed:
            raise BrushworkError(f"{len(summary.failed)} of {len(todo)} failed; first: {summary.failed[0]}")
        return
    torch.set_num_threads(args.threads or default_threads(None if args.quiet else note_to_stderr))
    for path, folder in todo:
        t0 = time.perf_counter()
        if path in clips:
            film = VideoPipeline(pipe)(path, folder, frames=frames, fps=args.fps, resume=args.resume,
                                       progress=not args.quiet, chunks=chunks)  # fmt: skip
            rows, ratio = film.rows, film.warping_ratio
            flicker = f", warping error {ratio:.2f}x the clip's own" if ratio is not None else ""
            per_frame = np.mean([r["seconds"] for r in rows if r["seconds"] is not None])
            _say(
                f"{path} -> {folder}/ ({len(rows)} frames, {time.perf_counter() - t0:.1f} s, "
                f"{per_frame:.2f} s a frame); "
                f"mean PSNR {film.mean_psnr:.2f} dB{flicker}"
            )
            continue
        _say(describe(paint_photo(pipe, path, folder, options, init, progress=not args.quiet, resume=args.resume)))
    if len(images) > 1:
        _say(f"brushwork: {len(todo)} painted, {skipped} skipped, 0 failed")


def _failed(line: str) -> None:
    line_to_stderr(f"brushwork: failed: {line}")


def _photo_fps(fps: float | None) -> int | float:
    """A photo's process.mp4 frame rate: 15 by default; a whole number (SaveOptions says which range)."""
    if fps is None:
        return 15
    return int(fps) if float(fps).is_integer() else fps


def _fit_shape(height: int, width: int, size: int) -> tuple[int, int]:
    from brushwork.images import fit_size

    return fit_size(height, width, size)


def _frame_range(text: str) -> tuple[int, int]:
    """'A:B' -> (A, B), source frames A .. B-1; 'A:' runs to the end (B resolved by the clip's length)."""
    try:
        a, b = text.split(":")
        start = int(a) if a.strip() else 0
        stop = int(b) if b.strip() else 10**12
    except ValueError:
        raise BrushworkError(f"--frames must be A:B (source frames A to B-1, e.g. 0:120), got {text!r}") from None
    if start < 0 or stop <= start:
        raise BrushworkError(f"--frames A:B needs 0 <= A < B, got {text!r}")
    return start, stop


def cmd_render(args: argparse.Namespace) -> None:
    """Re-render a strokes file with the real brush at any size."""
    from brushwork.painting.exports import save_png
    from brushwork.painting.result import render_engine
    from brushwork.painting.strokes_files import load as load_strokes

    s = load_strokes(args.strokes)
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise BrushworkError(f"output must be a .png file, got {out}")
    if out.is_dir():
        raise BrushworkError(f"{out} is a folder; -o names the .png file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BrushworkError(f"cannot write {out}: {e.strerror or e}") from None
    image = render_engine(s, size=args.size, brush=args.brush)
    save_png(out, image)
    _say(f"{out} ({image.shape[1]}x{image.shape[0]}, {len(s)} strokes, brush {args.brush or s.brush})")


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the web app (`brushwork.web`) until Ctrl-C."""
    import importlib.util

    from brushwork.web import REQUIRES

    if any(importlib.util.find_spec(name) is None for name in REQUIRES):
        raise BrushworkError("the web app needs the web extra: pip install 'brushwork[web]'")
    from brushwork.web.app import serve

    try:
        serve(host=args.host, port=args.port, out=args.out, painters=args.painters, threads=args.threads, say=_say)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, after the server has shut down cleanly
        _say("brushwork: stopped")


def _say(text: str) -> None:
    """Print a result line; a closed or full stdout (`| head -1`, `>/dev/full`) must not stop the work."""
    try:
        print(text, flush=True)
    except OSError:  # BrokenPipeError, ENOSPC
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stream for good


def busy_cores(interval: float = 0.25) -> float | None:
    """How many CPU cores other work keeps busy right now (from /proc/stat over `interval` s), or None."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])  # guest time is already inside user time

    try:
        busy0, total0 = sample()
        time.sleep(interval)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    cores = os.cpu_count() or 1
    return cores * (busy1 - busy0) / max(1, total1 - total0)


def default_threads(notify: Callable[[str], None] | None = None) -> int:
    """torch threads for a run: torch's default, i.e. the machine's cores -- never the momentary load,
    so the same command, seed and machine give the same painting. When other work keeps cores busy a
    note says so: the run is slower then (main() sets OMP_WAIT_POLICY=PASSIVE, so idle OpenMP threads
    sleep instead of spinning against the other job), and --threads 1 can be faster.
    """
    import torch

    most = torch.get_num_threads()
    busy = busy_cores()
    if busy is not None and busy >= 0.5 and notify is not None:
        notify(
            f"{busy:.1f} of {os.cpu_count()} cores are busy with other work: painting will be slower "
            f"(--threads 1 may help; the painting depends on --threads)"
        )
    return most


# ----------------------------------------------------------------------------- parser


DEFAULT_SIZE = 512
# `--poster`: a print-size painting (README, "Posters"): 4096 px, 64,000 strokes down to 16 px windows,
# 30 steps a level. Measured on a 1024 px crop of a 4096 px photo (6,400 strokes, 2026-12-08): 16 px
# windows instead of 32 gave +0.5 dB, 30 steps instead of 15 another +0.6 dB (15 steps leave small
# strokes on a big canvas short of fitting; benchmarks/poster_settings.py).
POSTER = {"size": 4096, "strokes": 64_000, "min_stroke": "16px", "steps": 30}


def _stroke_fraction(text: str, size: int, flag: str) -> float:
    """A stroke size as a fraction of the long side: '0.05' is one, '32px' is 32 / size."""
    try:
        if text.endswith("px"):
            return float(text[:-2]) / size
        return float(text)
    except ValueError:
        raise BrushworkError(f"{flag} takes a fraction of the long side (0.0625) or pixels (32px), got {text!r}") \
            from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from low to high, checked on entry (a 400-digit --steps would
    otherwise run until interrupted)."""

    def parse(text: str) -> int:
        shown = text if len(text) <= 24 else text[:20] + "..."
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {shown}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low:,} to {high:,}, got {shown}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="brushwork",
        description="Paint photos with real brushstrokes: a neural painter learned from the MyPaint engine.",
    )
    p.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # paint
    s = sub.add_parser("paint", help="paint photos with brushstrokes", description=(
        "Paint each IMAGE with brushstrokes optimised through the neural painter, level by level over the "
        "real MyPaint brush's painting. Writes painting.png (the real brush's painting), painting_neural.png "
        "(the painter's canvas), comparison.png, strokes.json, painting.ora, painting.svg, process.gif and "
        "process.mp4 into OUT_DIR (one sub-folder per image when several). A clip (mp4, mov, webm, mkv, avi, "
        "mpg, animated GIF) is painted frame by frame with strokes that follow the content: painting.mp4, "
        "comparison.mp4, frames.jsonl, strokes/ and frames/ per frame. The same command, seed and "
        "--threads give the same painting."))  # fmt: skip
    s.add_argument("images", nargs="+", metavar="IMAGE", help="photos, clips, or folders of them")
    s.add_argument("-o", "--out", default="out", metavar="OUT_DIR", help="output folder (default: out)")
    s.add_argument("--strokes", type=_positive_int, default=None,
                   help="number of strokes (default: 2000, or chosen to fit --time-budget)")  # fmt: skip
    s.add_argument("--size", type=_positive_int, default=None,
                   help=f"long side of the canvas in px (default: {DEFAULT_SIZE}; {POSTER['size']} with --poster)")
    s.add_argument("--poster", action="store_true",
                   help=f"a print-size painting: --size {POSTER['size']} --strokes {POSTER['strokes']} --min-stroke "
                        f"{POSTER['min_stroke']} --steps {POSTER['steps']} unless given")
    s.add_argument("--brush", default=DEFAULT_BRUSH, help=f"brush with a painter (default: {DEFAULT_BRUSH}); "
                   "several, comma-separated, paint the levels coarse to fine: 'classic/dry_brush,classic/pen' "
                   "blocks in with the first and details with the last; one per level gives each its own")  # fmt: skip
    s.add_argument("--painter", default=None, help="a painter .safetensors file instead of the shipped one")
    s.add_argument(
        "--loss",
        default="pixel",
        help="pixel: L2, the best real painting per second (default); content: MobileNetV2 features "
        "(intrinsic style transfer); mixed: both",
    )
    s.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    s.add_argument("--render-size", type=_positive_int, default=None,
                   help="also write painting_engine.png, the real brush at this long side")  # fmt: skip
    s.add_argument("--max-stroke", default="0.5", metavar="SIZE",
                   help="largest stroke window: a fraction of the long side or pixels, e.g. 256px (default: 0.5)")
    s.add_argument("--min-stroke", default=None, metavar="SIZE",
                   help="smallest stroke window: a fraction of the long side or pixels, e.g. 24px (default: 0.0625; "
                        f"{POSTER['min_stroke']} with --poster)")  # fmt: skip
    g = s.add_mutually_exclusive_group()
    g.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=None, help="optimiser steps per level (default: 15; "
                   f"{POSTER['steps']} with --poster)")
    g.add_argument("--time-budget", type=float, default=None, metavar="SEC",
                   help="seconds of painting; without --strokes brushwork chooses the strokes to fit")  # fmt: skip
    s.add_argument("--init", default=None, metavar="STROKES", help="continue from a strokes.json / .npz: its "
                   "strokes stay as they are and --strokes new ones go on top (default 2000)")  # fmt: skip
    s.add_argument("--refine", action="store_true", help="with --init: optimise the earlier painting's own "
                   "strokes again, level by level (place, shape, colour), for a closer painting with the same "
                   "strokes; --strokes N also adds N new ones on top")  # fmt: skip
    s.add_argument("--device", default="cpu")
    s.add_argument(
        "--threads",
        type=_int_in(1, MAX_THREADS),
        default=None,
        help="torch CPU threads (default: the machine's cores); same command, seed and --threads: same files",
    )
    s.add_argument("--no-engine", action="store_true",
                   help="painter only: no real brush in the loop, painting.png is the painter's canvas")  # fmt: skip
    s.add_argument("--no-video", action="store_true", help="skip process.gif / process.mp4")
    s.add_argument("--fps", type=float, default=None, help="a clip: the painted film's frame rate, at most the "
                   "clip's (default: the clip's); a photo: process.mp4's frame rate (default: 15)")  # fmt: skip
    s.add_argument("--frames", default=None, metavar="A:B",
                   help="a clip: paint source frames A to B-1 only (default: all)")  # fmt: skip
    s.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in OUT_DIR (same command otherwise): photos already "
                   "painted are kept, a clip continues from its last painted frame (in chunks: the chunks "
                   "with a frame missing are painted again)")  # fmt: skip
    s.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="paint the photos and clips on Ray: alone, a Ray started on this machine with a worker "
                   "per core; with ADDRESS (or RAY_ADDRESS), a running cluster. --threads: each worker's "
                   "(default 1). Needs pip install 'brushwork[ray]'")  # fmt: skip
    s.add_argument("--chunk-frames", type=_int_in(1, MAX_CLIP_FRAMES), default=None, metavar="N",
                   help="a clip: paint it in chunks of about N frames (cut at scene cuts too), each from its "
                   "own first frame, neighbours dissolving stroke by stroke over 4 frames; the chunks are "
                   "what Ray's workers share (default with --ray: 48; without: one run through the clip). "
                   "The same N and --threads give the same bytes with or without --ray (a Ray worker's --threads "
                   "defaults to 1)")  # fmt: skip
    s.add_argument("--video-seconds", type=float, default=4.0, help="video length (default: 4)")
    s.add_argument("--video-size", type=_positive_int, default=512, help="video long side (default: 512)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_paint)

    # render
    s = sub.add_parser("render", help="draw a strokes.json with the real MyPaint brush", description=(
        "Re-render a painting's stroke list with libmypaint at any size, with the same or another brush."))  # fmt: skip
    s.add_argument("strokes", metavar="STROKES", help="strokes.json or strokes.npz")
    s.add_argument("--size", type=_positive_int, default=None, help="long side in px (default: the painting's)")
    s.add_argument("--brush", default=None, help="brush (default: the one the strokes were painted with)")
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="output PNG")
    s.set_defaults(func=cmd_render)

    # brushes
    s = sub.add_parser("brushes", help="list MyPaint brushes and which can be learned",
                       description="List the MyPaint brushes by name, whether a painter can learn them, "
                       "and which have a shipped painter.")  # fmt: skip
    s.add_argument("--all", action="store_true", help="also list brushes that erase, lock alpha or shift colour")
    s.set_defaults(func=cmd_brushes)

    # dataset
    s = sub.add_parser("dataset", help="generate or preview a stroke data set", description=(
        "Stroke data sets in the MyPaintBrushstrokes npz layout (strokes, actions, alphas)."))  # fmt: skip
    dsub = s.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)
    d = dsub.add_parser("generate", help="paint random strokes with the real brush into npz shards",
                        description="Paint --count uniformly random strokes with the real MyPaint brush "
                        "into npz shards. The bytes depend only on brush, seed and counts.")  # fmt: skip
    d.add_argument("--brush", default=DEFAULT_BRUSH)
    d.add_argument("--count", type=_int_in(1, MAX_DATASET_STROKES), required=True, help="strokes in the whole data set")
    d.add_argument("--out", required=True, metavar="DIR")
    d.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    d.add_argument("--shard-size", type=_int_in(1, MAX_SHARD_STROKES), default=10_000)
    d.add_argument("--workers", type=_int_in(1, MAX_THREADS), default=None, help="processes (default: all cores)")
    d.add_argument("--shard-index", type=_int_in(0, MAX_SHARDS - 1), default=0,
                   help="this machine's part (with --num-shards)")  # fmt: skip
    d.add_argument("--num-shards", type=_int_in(1, MAX_SHARDS), default=1, help="machines sharing the work")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_dataset_generate)
    d = dsub.add_parser("preview", help="draw a grid of strokes", description="Draw a grid of a data set's strokes.")
    d.add_argument("folder", metavar="DIR")
    d.add_argument("-o", "--output", default="grid.png")
    d.add_argument("--count", type=_int_in(1, 4096), default=64)
    d.set_defaults(func=cmd_dataset_preview)

    # train
    s = sub.add_parser("train", help="train a neural painter for a brush", description=(
        "Train the neural painter in three stages: generator (perceptual loss), discriminator, GAN "
        "fine-tuning. 'all' generates the data if needed and runs the three. Runs unchanged under "
        "torchrun --nproc_per_node N."))  # fmt: skip
    s.add_argument("stage", choices=["generator", "discriminator", "gan", "all"])
    s.add_argument("--brush", default=DEFAULT_BRUSH)
    s.add_argument("--data", default=None, metavar="DIR", help="training shards (ours or Kaggle's)")
    s.add_argument("--heldout", default=None, metavar="DIR", help="held-out shards for evaluation")
    s.add_argument("--run-dir", default=None, metavar="DIR", help="run folder (default: runs/<brush>)")
    s.add_argument("--preset", default=None, help="config preset: default, quick or finetune "
                   "(default: finetune with --init, else default)")  # fmt: skip
    s.add_argument("--init", default=None, metavar="PAINTER", help="start from a trained painter (a shipped "
                   "brush or a .safetensors file) and fine-tune it to --brush: minutes, not an hour")  # fmt: skip
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    s.add_argument("--seed", type=_int_in(0, MAX_SEED), default=0)
    s.add_argument("--resume", action="store_true", help="continue from the run folder's last checkpoint")
    s.add_argument("--threads", type=_int_in(1, MAX_THREADS), default=None)
    s.add_argument("--vgg19", default=None, metavar="PTH", help="use torchvision's VGG19 weights for the loss")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_train)

    # eval
    s = sub.add_parser("eval", help="evaluate a painter on held-out strokes (JSON)", description=(
        "Print JSON: PSNR, alpha L1, stroke FID against the engine, and discriminator accuracy."))  # fmt: skip
    s.add_argument("painter", help="a brush name with a shipped painter, or a .safetensors file")
    s.add_argument("--data", required=True, metavar="DIR", help="held-out shards")
    s.add_argument("--strokes", type=_int_in(1, MAX_STROKES), default=2000)
    s.add_argument("--discriminator", default=None, help="discriminator .safetensors for its accuracy")
    s.set_defaults(func=cmd_eval)

    # serve
    s = sub.add_parser("serve", help="a local web app: upload a photo, watch it painted, download the files",
                       description="Start a web app on this machine and print its address. In the page: upload "
                       "or pick a photo, choose brush, strokes or time, size and seed, watch the painting appear, "
                       "download every file. One painting at a time; others wait in a queue. Also an HTTP API "
                       "(see brushwork/web/app.py). Needs pip install 'brushwork[web]'.")  # fmt: skip
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    s.add_argument("--port", type=_int_in(0, 65535), default=7860, help="port (default: 7860; 0: any free port)")
    s.add_argument("--out", default="out/web", metavar="DIR", help="paintings go to DIR/<job id>/ (default: out/web)")
    s.add_argument("--painters", default="runs", metavar="DIR",
                   help="also offer the painter files (.safetensors) in DIR and below (default: runs)")  # fmt: skip
    s.add_argument("--threads", type=_int_in(1, MAX_THREADS), default=None,
                   help="torch CPU threads (default: all cores)")  # fmt: skip
    s.set_defaults(func=cmd_serve)
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that clean-ups (staging folders, temporary files) run."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    # Idle OpenMP threads sleep instead of spinning: with another job on the cores, 2 spinning threads
    # ran the painter 20x slower (10.3 s vs 0.49 s); PASSIVE cut that to 0.64 s. Set before torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return_large_blocks()  # a poster's freed tensors go back to the system (brushwork.allocator)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started with & from a script: Ctrl-C works
            signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("stdout", "stderr"):  # closed (2>&-: None) or full (>/dev/full): output is lost, not the work
        stream = getattr(sys, name)
        if stream is None:
            stream = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
        if not isinstance(stream, TolerantStream):
            setattr(sys, name, TolerantStream(stream))
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        args.func(args)
    except BrushworkError as e:
        line_to_stderr(f"brushwork: error: {e}")
        return 2
    except (ValueError, FileNotFoundError) as e:
        line_to_stderr(f"brushwork: error: {e}")
        return 2
    except OSError as e:  # a file system's refusal the checks did not foresee (a file where a folder goes, ...)
        where = f"{e.filename}: " if e.filename else ""
        line_to_stderr(f"brushwork: error: {where}{e.strerror or e}")
        return 2
    except MemoryError as e:  # numpy's ArrayMemoryError too: what the limits did not foresee, in one line
        what = str(e).splitlines()[0] if str(e) else "an allocation failed"
        line_to_stderr(f"brushwork: error: out of memory ({what}); try a smaller --size or fewer strokes")
        return 2
    except KeyboardInterrupt as e:
        again = " (the same command with --resume goes on where it stopped)" if args.command == "paint" else ""
        line_to_stderr(f"brushwork: interrupted{again}")
        return 143 if isinstance(e, Terminated) else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
