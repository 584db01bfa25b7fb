"""The painting jobs of `brushwork serve`: settings checked on entry, one worker thread, a queue.

One painting runs at a time (it uses every core it is given); the others wait in order and each
knows how many are ahead of it. The worker builds a `PaintPipeline` once per (brush, painter) and
reuses it for every job, exactly as `brushwork paint` does for several photos.

    queue = JobQueue("out/web", painters="runs")
    queue.start()                                     # the worker thread; warms the default pipeline
    settings = parse_settings({"strokes": "300"}, queue.brushes())
    photo = read_photo(data, "cat.jpg", settings.size)   # (h, w, 3) uint8 at the canvas size
    job = queue.submit(settings, photo, "cat.jpg")
    queue.snapshot(job.id)  # {"status": "running", "stage": "level 2 of 4: ...", "fraction": 0.4, ...}
    queue.cancel(job.id)
    clip = queue.submit_clip(settings, open("walk.mp4", "rb"), "walk.mp4")  # a video: checked, then queued

A job's files go to `<out>/<job id>/`: the painting's outputs (`brushwork.painting.outputs`), the
photo at the canvas size (`photo.png`) and `job.json` (settings, status, timings, result), which the
gallery reads back after a restart. Job ids are `secrets.token_urlsafe(16)`: 128 random bits, so one
id says nothing about another. Only the file names in `SERVED_FILES` are ever served.

A video's job paints with `brushwork.video.VideoPipeline` around the same cached `PaintPipeline`:
its upload waits in the job's folder as `clip<suffix>` (the suffix from `VIDEO_SUFFIXES`, nothing
else of the client's name; FFmpeg goes by it) and is deleted once painted; the folder gets
`brushwork.video.folder`'s files, of which painting.mp4, comparison.mp4, frames.jsonl and
`poster.png` (frame 0's painting: the gallery's picture) are served. video.json is not: it holds
the server's path of the clip.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import shutil
import struct
import tempfile
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from brushwork.errors import BrushworkError
from brushwork.images import fit_size, fit_to_canvas, load_image
from brushwork.io import write_text_atomic
from brushwork.limits import MAX_SEED, MAX_STEPS
from brushwork.models.registry import shipped_brushes
from brushwork.painting.config import DEFAULT_STROKES, PaintConfig
from brushwork.painting.exports import as_uint8, save_png
from brushwork.painting.outputs import OUTPUT_FILES, SaveOptions, save_outputs
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.schedule import Progress
from brushwork.video.clip import VIDEO_SUFFIXES
from brushwork.video.pipeline import FrameProgress

log = logging.getLogger("brushwork.web")

# -- limits of the web app (the library's own limits apply as well) ---------------------------------
MAX_UPLOAD_BYTES = 30 << 20  # a 50 Mpx phone JPEG is ~20 MB; anything larger is not a photo to paint
MAX_SIZE = 2048  # px canvas: the page shows ~1000 px; `brushwork paint` paints larger ones
MAX_STROKES = 20_000  # ~10 min of painting at 2048 px on 2 cores; the CLI goes up to 200,000
MAX_BUDGET = 3600.0  # s: a job holds the only worker, so one job may not hold it for hours
MAX_WAITING = 16  # queued jobs; each holds its photo (<= 12 MB at 2048 px), or its clip on disk, until it runs
MAX_VIDEO_UPLOAD_BYTES = 200 << 20  # a minute of 1080p phone video is ~130 MB
MAX_VIDEO_FRAMES = 600  # frames a video job paints (20 s at 30 fps): ~1 s a frame at 512 px, so ~10 min
KEEP_FINISHED = 100  # finished jobs kept in memory for their snapshot; older ones are read from disk
PREVIEW_SIDE = 512  # px, long side of the live image: small PNGs (~100-300 KB) the page swaps in
NOTIFY_EVERY = 0.25  # s between progress updates from optimiser steps (a level's end always notifies)
PAINT_SHARE = 0.9  # of the progress bar: painting; the rest is writing the files
DEFAULTS = {"brush": "classic/dry_brush", "strokes": DEFAULT_STROKES, "size": 512, "seed": 0}
VIDEO_SECONDS, VIDEO_FPS = 4.0, 15  # the process video, as the CLI's defaults

JOB_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
FINAL = ("done", "failed", "cancelled")
VIDEO_FILES = ("painting.mp4", "comparison.mp4", "frames.jsonl", "poster.png")  # a video job's, served
SERVED_FILES = frozenset((*OUTPUT_FILES, "photo.png", "job.json", *VIDEO_FILES))


class Cancelled(Exception):
    """Raised inside the painting's progress callback: the pipeline stops at once."""


class QueueFull(BrushworkError):
    """Too many jobs are waiting: try again later."""


# ----------------------------------------------------------------------------- brushes


@dataclass(frozen=True)
class BrushChoice:
    """A painter the page offers: a shipped one by brush name, or a painter file from the user's folder."""

    key: str  # what a request names: the brush ("classic/dry_brush") or "file:<path inside the folder>"
    label: str
    brush: str
    painter: str | None = None  # painter .safetensors; None: the brush's shipped painter


def find_brushes(painters: str | Path | None = None) -> dict[str, BrushChoice]:
    """The shipped painters, then painter files in `painters` (`*.safetensors`, one folder deep).

    A request can only name one of these keys: no path from a request ever reaches the file system.
    """
    from brushwork.engine import DEFAULT_BRUSH, resolve_brush

    shipped = shipped_brushes()
    wet = [b for b in shipped if resolve_brush(b).wet]
    choices = {b: BrushChoice(b, brush_label(b) + (", wet" if b in wet else ""), b) for b in shipped}
    for b in wet:  # what wet paint is for: block the picture in dry, then blend it wet
        key = f"{DEFAULT_BRUSH},{b}"
        choices[key] = BrushChoice(key, f"{brush_label(DEFAULT_BRUSH)}, then {brush_label(b)}, wet", key)
    if painters is None or not Path(painters).is_dir():
        return choices
    root = Path(painters)
    files = sorted([*root.glob("*.safetensors"), *root.glob("*/*.safetensors")])
    for path in files[:200]:  # a folder of thousands of checkpoints is not a menu
        brush = painter_brush(path)
        if brush is not None:
            rel = path.relative_to(root).as_posix()
            choices[f"file:{rel}"] = BrushChoice(f"file:{rel}", f"{brush} ({root.name}/{rel})", brush, str(path))
    return choices


def brush_label(name: str) -> str:
    """A brush's name as a person reads it: "classic/dry_brush" -> "Dry brush (classic)"."""
    group, _, base = name.rpartition("/")
    words = base.replace("_", " ").replace("-", " ").strip() or name
    return f"{words[0].upper()}{words[1:]}" + (f" ({group})" if group else "")


def painter_brush(path: Path) -> str | None:
    """The brush a painter file was trained for, from its safetensors header; None if not a painter.

    Reads only the JSON header (no tensors, no torch), so listing a folder is cheap.
    """
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 1 << 20:  # headers are a few KB; a huge one is not a painter of ours
                return None
            meta = json.loads(f.read(n)).get("__metadata__") or {}
    except (OSError, ValueError, struct.error, AttributeError):
        return None
    brush = meta.get("brush")
    return brush if meta.get("format") == "brushwork.painter" and isinstance(brush, str) and brush else None


# ----------------------------------------------------------------------------- settings and photo


@dataclass(frozen=True)
class JobSettings:
    """What a job paints, checked: `brush` is a key of `find_brushes()`, the rest PaintConfig fields."""

    brush: str = DEFAULTS["brush"]
    strokes: int | None = None  # None: 2000, or chosen to fit the time budget
    time_budget: float | None = None  # seconds of painting
    size: int = DEFAULTS["size"]
    seed: int = DEFAULTS["seed"]
    steps: int | None = None  # optimiser steps per level (None: the library's default)

    def overrides(self) -> dict:
        """The per-call PaintPipeline settings."""
        return {"strokes": self.strokes, "time_budget": self.time_budget, "size": self.size, "seed": self.seed,
                "steps": self.steps}  # fmt: skip


LABELS = {"strokes": "strokes", "time_budget": "time budget", "size": "canvas size", "seed": "seed", "steps": "steps"}


def parse_settings(fields: Mapping[str, str], brushes: Mapping[str, BrushChoice]) -> JobSettings:
    """Form fields (strings; empty means default) -> JobSettings, or one BrushworkError naming the field."""

    def number(name: str, kind: type, default: int | float | None = None) -> int | float | None:
        text = str(fields.get(name) or "").strip()
        if not text:
            return default
        try:
            value = kind(text)
        except ValueError:
            whole = "a whole number" if kind is int else "a number"
            raise BrushworkError(f"{LABELS[name]} must be {whole}, got {text[:24]!r}") from None
        if kind is float and not math.isfinite(value):  # (an int of 400 digits would overflow isfinite)
            raise BrushworkError(f"{LABELS[name]} must be a finite number, got {text[:24]!r}")
        return value

    key = str(fields.get("brush") or DEFAULTS["brush"]).strip()
    if key not in brushes:
        raise BrushworkError(f"unknown brush {key[:60]!r}; choose one of {', '.join(brushes) or 'none (no painters)'}")
    settings = JobSettings(
        brush=key, strokes=number("strokes", int), time_budget=number("time_budget", float),
        size=number("size", int, DEFAULTS["size"]), seed=number("seed", int, DEFAULTS["seed"]),
        steps=number("steps", int),
    )  # fmt: skip
    if settings.size > MAX_SIZE:
        raise BrushworkError(f"canvas size must be at most {MAX_SIZE} px here, got {str(settings.size)[:24]}; "
                             "`brushwork paint --size` paints larger")  # fmt: skip
    if settings.strokes is not None and settings.strokes > MAX_STROKES:
        raise BrushworkError(f"strokes must be at most {MAX_STROKES} here, got {str(settings.strokes)[:24]}")
    if settings.steps is not None and not 1 <= settings.steps <= MAX_STEPS:
        raise BrushworkError(f"steps must be from 1 to {MAX_STEPS}, got {str(settings.steps)[:24]}")
    if not 0 <= settings.seed <= MAX_SEED:
        raise BrushworkError(f"seed must be from 0 to {MAX_SEED}, got {str(settings.seed)[:24]}")
    if settings.time_budget is not None and settings.time_budget > MAX_BUDGET:
        raise BrushworkError(f"time budget must be at most {MAX_BUDGET:.0f} s here, got {settings.time_budget:g}")
    # The library's own checks (ranges, steps with a budget, ...) with its messages.
    PaintConfig(brush=brushes[key].brush, **settings.overrides())
    return settings


# one upload decoded at a time: a small PNG can decode to a 13000 px 16-bit image (~1.3 GB while it
# is reduced), and requests run in a thread pool, so three at once held three of them
_DECODING = threading.Lock()


def read_photo(data: bytes, name: str, size: int) -> np.ndarray:
    """Uploaded bytes -> the photo at the canvas size, (h, w, 3) uint8; one BrushworkError if unusable.

    The bytes go through `brushwork.images.load_image`, as a file the CLI reads: the same checks
    (not an image, truncated, decompression bomb, too small) and messages, naming `name`.
    """
    if not data:
        raise BrushworkError(f"{name} is empty: choose a photo")
    with _DECODING, tempfile.TemporaryDirectory(prefix="brushwork-upload-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        try:
            rgb = load_image(path)
        except BrushworkError as e:  # the message names our temporary file: name the user's instead
            raise BrushworkError(str(e).replace(str(path), name)) from None
    return as_uint8(fit_to_canvas(rgb, size, name=name))


def display_name(filename: str | None) -> str:
    """A file name from a request, safe to show: base name, printable, at most 80 characters."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(c for c in base if c.isprintable())[:80].strip()
    return base or "the upload"


# ----------------------------------------------------------------------------- videos


def is_clip_upload(name: str, file: BinaryIO) -> bool:
    """True if an upload is a video, by the suffix of its shown name (`VIDEO_SUFFIXES`), as the CLI's
    `is_clip` tells: a GIF only when it is animated (a still GIF stays a photo). Leaves `file` at its start."""
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return False
    if suffix != ".gif":
        return True
    try:
        with Image.open(file) as im:
            return getattr(im, "n_frames", 1) > 1
    except (OSError, ValueError, Image.DecompressionBombError):  # not a GIF: the photo's checks say why
        return False
    finally:
        file.seek(0)


def check_clip(path: Path, name: str, settings: JobSettings, max_frames: int = MAX_VIDEO_FRAMES) -> int:
    """The frames a saved upload would paint, after the library's checks (`plan_clip`) and the web
    app's; one BrushworkError naming `name`, never the server's path."""
    from brushwork.video.pipeline import plan_clip

    try:
        info, picks = plan_clip(path, settings.size)
    except BrushworkError as e:
        raise BrushworkError(str(e).replace(str(path), name)) from None
    n = len(picks)
    if n > max_frames:
        raise BrushworkError(
            f"{name} has {n} frames ({n / info.fps:.0f} s at {info.fps:g} fps); the web app paints at most "
            f"{max_frames}: paint part of it with `brushwork paint {name} --frames 0:{max_frames}` "
            "(or fewer with --fps)"
        )
    if settings.time_budget is not None and settings.time_budget * n > MAX_BUDGET:
        raise BrushworkError(
            f"a time budget of {settings.time_budget:g} s a frame for the {n} frames of {name} is "
            f"{settings.time_budget * n:.0f} s, more than the {MAX_BUDGET:.0f} s a job may take here; "
            "give fewer seconds (for a video they are per frame)"
        )
    return n


class WatchedPipeline:
    """The worker's cached `PaintPipeline` as a `VideoPipeline` sees it, with an `on_progress` on
    every frame's painting: Cancel stops a frame mid-way, not only between frames (frame 0 alone
    may take minutes), and the page hears of its steps. Everything else is the pipeline's own."""

    def __init__(self, pipe: PaintPipeline, on_progress: Callable[[Progress], None]) -> None:
        self._pipe = pipe
        self._on_progress = on_progress

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._pipe(*args, on_progress=self._on_progress, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)


# ----------------------------------------------------------------------------- jobs


@dataclass(eq=False)
class Job:
    """One painting: its settings, where it is, and what it made. Changed only by the worker thread."""

    id: str
    settings: JobSettings
    photo: np.ndarray | None = field(repr=False)  # (h, w, 3) uint8; dropped once painted (None: a video)
    source: str  # the photo's name as the user gave it
    folder: Path
    kind: str = "photo"  # photo, video
    clip: Path | None = None  # a video's upload in `folder`; deleted once painted
    frames: int = 0  # a video's frames to paint
    done_frames: int = 0  # ... and painted so far
    status: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = "waiting for its turn"
    fraction: float = 0.0  # of the whole job, for the progress bar
    eta: float | None = None  # seconds of painting left, roughly
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    finished: float | None = None
    preview: bytes | None = field(default=None, repr=False)  # the latest live image, PNG
    previews: int = 0  # how many live images there have been
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def record(self) -> dict:
        """What job.json keeps and what the API shows (without the live fields)."""
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "stage": self.stage, "error": self.error,
            "source": self.source, "settings": asdict(self.settings), "notes": self.notes[-20:],
            "files": self.files, "result": self.result, "timings": self.timings,
            "created": self.created, "finished": self.finished,
        }  # fmt: skip

    def note(self, text: str) -> None:
        self.notes.append(text if self.clip is None else text.replace(str(self.clip), self.source))


class Changes:
    """Wakes every waiting server-sent-event stream when any job changes; `notify` works from any thread.

    wake = changes.waiter()        # take the waiter first,
    state = queue.snapshot(id)     # then read the state: no change can slip between the two
    await changes.wait(wake, 15)   # True on a change, False after 15 s
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._event = loop, asyncio.Event()

    def notify(self) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._fire)
            except RuntimeError:  # the loop has closed: the server is gone
                pass

    def _fire(self) -> None:
        fired, self._event = self._event, asyncio.Event()
        if fired is not None:
            fired.set()

    def waiter(self) -> asyncio.Event:
        assert self._event is not None, "Changes.bind() first"
        return self._event

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class JobQueue:
    """Jobs in order, painted one at a time by one worker thread.

    Args:
        out: folder of the jobs' folders.
        painters: folder with user painter files offered besides the shipped ones (None: none).
        threads: torch threads for painting (None: torch's default, the machine's cores).
        on_change: called (from any thread) whenever a job changes: wire it to `Changes.notify`.
        max_frames: the most frames a video job may paint.
    """

    def __init__(
        self,
        out: str | Path,
        painters: str | Path | None = None,
        threads: int | None = None,
        on_change: Callable[[], None] | None = None,
        max_frames: int = MAX_VIDEO_FRAMES,
    ) -> None:
        self.out = Path(out)
        self.max_frames = max_frames
        self.painters = painters
        self.threads = threads
        self.on_change = on_change or (lambda: None)
        self.ready = threading.Event()  # set once the worker runs and the default pipeline is built
        self._lock = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # this server's jobs, oldest first
        self._running: Job | None = None
        self._pipelines: OrderedDict[tuple[str, str | None], PaintPipeline] = OrderedDict()
        self.built: Counter[tuple[str, str | None]] = Counter()  # pipelines built, by (brush, painter)
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- the API's verbs --------------------------------------------------------------------------

    def brushes(self) -> dict[str, BrushChoice]:
        """What a job can be painted with (read again each time: a newly trained painter shows up)."""
        return find_brushes(self.painters)

    def submit(self, settings: JobSettings, photo: np.ndarray, source: str) -> Job:
        """Queue a checked job; raises QueueFull when MAX_WAITING jobs wait already."""
        job_id = secrets.token_urlsafe(16)
        job = Job(job_id, settings, photo, source, self.out / job_id)
        self._queue(job)
        return job

    def submit_clip(self, settings: JobSettings, file: BinaryIO, source: str) -> Job:
        """Save an uploaded video into a new job's folder, check it (`check_clip`) and queue it; one
        BrushworkError (QueueFull when MAX_WAITING jobs wait already) and no folder left if it is refused.

        Blocking (the copy, FFmpeg's probe): call it from a worker thread.
        """
        suffix = Path(source).suffix.lower()
        if suffix not in VIDEO_SUFFIXES:  # the only part of the client's name that reaches the disk
            raise BrushworkError(f"{source} is not a video by its name; give it one of {', '.join(VIDEO_SUFFIXES)}")
        self._refuse_if_full()  # before copying up to 200 MB
        job_id = secrets.token_urlsafe(16)
        folder = self.out / job_id
        path = folder / f"clip{suffix}"
        try:
            folder.mkdir(parents=True)
            with open(path, "wb") as f:
                shutil.copyfileobj(file, f, 1 << 20)
            frames = check_clip(path, source, settings, self.max_frames)
            job = Job(job_id, settings, None, source, folder, kind="video", clip=path, frames=frames)
            self._queue(job)
        except OSError as e:
            shutil.rmtree(folder, ignore_errors=True)
            raise BrushworkError(f"could not keep {source} for painting: {e.strerror or e}") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return job

    def _refuse_if_full(self) -> None:
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                raise QueueFull(f"{len(self._waiting)} paintings are waiting already; try again in a few minutes")

    def _queue(self, job: Job) -> None:
        with self._lock:  # a Condition's default lock is reentrant
            self._refuse_if_full()
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._lock.notify_all()
        self.on_change()

    def cancel(self, job_id: str) -> dict | None:
        """Stop a running job at its next optimiser step, or drop a waiting one; None if unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return self.snapshot(job_id)  # a finished job from disk: nothing to cancel
            job.cancel.set()
            if job in self._waiting:
                self._waiting.remove(job)
                self._finish(job, "cancelled", "cancelled before it started")
        self.on_change()
        return self.snapshot(job_id)

    def snapshot(self, job_id: str) -> dict | None:
        """A job's state for the page and the API (live, or from its job.json); None if unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                ahead = list(self._waiting).index(job) + (self._running is not None) if job in self._waiting else 0
                return {
                    **job.record(), "ahead": ahead, "fraction": round(job.fraction, 4),
                    "eta": None if job.eta is None else round(job.eta, 1),
                    "preview": job.previews if job.preview is not None else None,
                }  # fmt: skip
        record = self._read_record(job_id)
        return None if record is None else {**record, "ahead": 0, "fraction": 1.0, "eta": None, "preview": None}

    def preview(self, job_id: str) -> bytes | None:
        """The latest live image of a job, PNG bytes, if it has one."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.preview

    def photo(self, job_id: str) -> bytes | None:
        """The photo a waiting or running job paints, PNG (long side at most PREVIEW_SIDE); None for a
        video, an unknown or a finished job (its photo.png is among its files)."""
        with self._lock:
            job = self._jobs.get(job_id)
            photo = None if job is None else job.photo
        return None if photo is None else preview_png(photo)

    def file(self, job_id: str, name: str) -> Path | None:
        """The path of a file this app wrote for a job, or None: the only way to a file on disk.

        The id must look like one of ours and its folder hold a job.json; the name must be in
        SERVED_FILES; the resolved path must lie inside the job's folder (no symlink leads out).
        """
        folder = self._job_folder(job_id)
        if folder is None or name not in SERVED_FILES:
            return None
        path = folder / name
        if not (folder / "job.json").is_file() or not path.is_file():
            return None
        if not path.resolve().is_relative_to(folder.resolve()):
            return None
        return path

    def gallery(self, limit: int = 60) -> list[dict]:
        """Finished paintings in the output folder (this server's and earlier ones'), newest first."""
        if not self.out.is_dir():
            return []
        records = []
        for folder in self.out.iterdir():
            record = self._read_record(folder.name) if JOB_ID.fullmatch(folder.name) else None
            if record is not None and record.get("status") == "done":
                records.append(record)
        records.sort(key=lambda r: r.get("finished") or 0, reverse=True)
        return records[:limit]

    # -- the worker -------------------------------------------------------------------------------

    def start(self) -> None:
        self.mark_unfinished()
        self._thread = threading.Thread(target=self._work, name="brushwork-painter", daemon=True)
        self._thread.start()

    def mark_unfinished(self) -> list[str]:
        """Job folders an earlier server left without a job.json (killed while painting or writing)
        get one that says the job failed, so the API knows them; returns their ids."""
        marked = []
        if not self.out.is_dir():
            return marked
        for folder in sorted(self.out.iterdir()):
            if self._job_folder(folder.name) is None or (folder / "job.json").exists():
                continue
            now = time.time()
            record = {"id": folder.name, "kind": "video" if (folder / "video.json").exists() else "photo",
                      "status": "failed", "stage": None, "source": None, "settings": {}, "notes": [],
                      "error": "the server stopped before this job finished; paint it again", "files": [],
                      "result": {}, "timings": {}, "created": folder.stat().st_mtime, "finished": now}  # fmt: skip
            try:
                write_text_atomic(folder / "job.json", json.dumps(record, indent=1) + "\n")
                marked.append(folder.name)
            except OSError as e:
                log.warning("could not mark %s as failed: %s", folder, e)
        return marked

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel every job and end the worker (it stops at the running job's next step)."""
        with self._lock:
            self._stopping = True
            for job in [*self._waiting, *([self._running] if self._running else [])]:
                job.cancel.set()
                if job.clip is not None and job is not self._running:  # an upload that will never be painted
                    shutil.rmtree(job.folder, ignore_errors=True)
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self) -> None:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        try:  # build the default painter now, so the first "Paint" starts painting at once
            default = self.brushes().get(DEFAULTS["brush"])
            if default is not None:
                self._pipeline(default)
        except Exception:  # reported again, clearly, by the first job that needs it
            log.exception("could not prepare the default painter")
        self.ready.set()
        self.on_change()
        while True:
            with self._lock:
                while not self._waiting and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                job = self._running = self._waiting.popleft()
                job.status, job.stage = "running", "getting the painter ready"
                job.timings["waited"] = round(time.time() - job.created, 3)
            self.on_change()
            try:
                self._paint(job)
            finally:
                with self._lock:
                    self._running = None
                    self._forget_old()
                self.on_change()

    def _paint(self, job: Job) -> None:
        """Paint one job and write its files; every outcome ends in `_finish`."""
        try:
            choice = self.brushes().get(job.settings.brush)
            if choice is None:
                raise BrushworkError(f"the painter {job.settings.brush!r} is no longer there")
            pipe = self._pipeline(choice)
            self._check(job)
            if job.clip is not None:
                self._paint_clip(job, pipe)
            else:
                self._paint_photo(job, pipe)
            self._finish(job, "done", "done")
        except Cancelled:
            self._finish(job, "cancelled", "cancelled")
        except BrushworkError as e:
            self._finish(job, "failed", "failed", error=self._shown(job, str(e)))
        except Exception as e:  # a bug: the page says so in one line, the log has the traceback
            log.exception("job %s failed", job.id)
            self._finish(job, "failed", "failed", error=self._shown(job, f"internal error: {type(e).__name__}: {e}"))
        finally:
            if job.clip is not None:  # painted (or not): the upload has done its part
                job.clip.unlink(missing_ok=True)

    def _paint_photo(self, job: Job, pipe: PaintPipeline) -> None:
        """A photo job: the painting, then its files (`save_outputs`) and the photo at the canvas size."""
        job.stage = "planning the strokes"
        self.on_change()
        t0 = time.perf_counter()
        last = [0.0]  # when progress last woke the page

        def on_progress(p: Progress) -> None:
            self._progress(job, p, last)

        painting = pipe(
            job.photo, name="photo", progress=False, notify=job.note, on_progress=on_progress,
            **job.settings.overrides(),
        )  # fmt: skip
        self._check(job)
        job.timings["painting"] = round(time.perf_counter() - t0, 3)
        job.stage, job.fraction = "writing the files: painting, strokes, layers, video", PAINT_SHARE
        job.eta = job.timings["painting"] * (1.0 - PAINT_SHARE) / PAINT_SHARE  # files: their share of the bar
        self.on_change()
        t1 = time.perf_counter()
        options = SaveOptions(video=True, video_seconds=VIDEO_SECONDS, fps=VIDEO_FPS, notify=job.note)
        report = save_outputs(painting, job.folder, options)
        save_png(job.folder / "photo.png", painting.target)  # the photo at the canvas size, to compare
        job.timings["files"] = round(time.perf_counter() - t1, 3)
        self._check(job)
        job.files = [*sorted(p.name for p in report.files), "photo.png"]
        job.result = {
            "strokes": len(painting.strokes), "width": painting.strokes.width,
            "height": painting.strokes.height, "real": painting.real, "psnr": round(painting.psnr, 2),
            "ssim": round(painting.ssim, 4), "seconds": round(sum(job.timings.values()), 1),
        }  # fmt: skip

    def _paint_clip(self, job: Job, pipe: PaintPipeline) -> None:
        """A video job: `VideoPipeline` around the cached pipeline, frame after frame into the job's
        folder (its files: `brushwork.video.folder`), then frame 0's painting as `poster.png`."""
        from brushwork.video.pipeline import VideoPipeline

        assert job.clip is not None
        job.stage = f"reading {job.source}"
        self.on_change()
        t0 = time.perf_counter()
        last = [0.0]  # when progress last woke the page
        ends: list[float] = []  # when each frame was painted (perf_counter)

        def on_progress(p: Progress) -> None:
            self._step_progress(job, p, last)

        def on_frame(f: FrameProgress) -> None:
            self._frame_progress(job, f, ends)

        film = VideoPipeline(WatchedPipeline(pipe, on_progress))(
            job.clip, job.folder, progress=False, notify=job.note, on_frame=on_frame, **job.settings.overrides()
        )
        self._check(job)
        painted = ends[-1] if ends else t0
        job.timings["painting"] = round(painted - t0, 3)
        shutil.copyfile(job.folder / "frames" / "000000.png", job.folder / "poster.png")
        job.timings["files"] = round(time.perf_counter() - painted, 3)
        job.files = sorted(name for name in VIDEO_FILES if (job.folder / name).is_file())
        h, w = fit_size(film.info.height, film.info.width, job.settings.size)
        job.result = {
            "frames": len(film.rows), "strokes": film.rows[-1]["strokes"], "width": w, "height": h, "real": True,
            "psnr": round(film.mean_psnr, 2), "fps": round(film.info.fps, 3),
            "seconds": round(sum(job.timings.values()), 1),
        }  # fmt: skip

    def _step_progress(self, job: Job, p: Progress, last: list[float]) -> None:
        """A video frame's optimiser steps: Cancel, the stage, the bar within the frame; the live image
        only while frame 0 is painted (later frames show whole, after `_frame_progress`)."""
        self._check(job)
        k, n = job.done_frames, job.frames
        job.fraction = max(job.fraction, (k + p.fraction) / max(1, n))
        steps = f" of {p.steps}" if p.steps else ""
        if p.image is None:
            job.stage = f"frame {k + 1} of {n}: level {p.level + 1} of {p.levels}, step {p.step}{steps}"
        else:
            job.stage = f"frame {k + 1} of {n}: level {p.level} of {p.levels} painted"
        now = time.perf_counter()
        if k == 0 and p.image is not None:
            job.preview = preview_png(p.image)
            job.previews += 1
        elif now - last[0] < NOTIFY_EVERY:
            return
        last[0] = now
        self.on_change()

    def _frame_progress(self, job: Job, f: FrameProgress, ends: list[float]) -> None:
        """`VideoPipeline`'s on_frame: frames done / total, the ETA, the frame as the live image, Cancel."""
        self._check(job)
        ends.append(time.perf_counter())
        job.done_frames, job.frames = f.done, f.total
        job.fraction = f.done / max(1, f.total)
        # frame 0 is painted from scratch, the others continue it (far fewer new strokes): their pace
        job.eta = (ends[-1] - ends[0]) / (len(ends) - 1) * (f.total - f.done) if len(ends) > 1 else None
        if f.done >= f.total:
            job.stage, job.eta = f"all {f.total} frames painted; writing painting.mp4 and comparison.mp4", None
        else:
            strokes = f" ({f.row['strokes']} strokes)" if f.row else ""
            job.stage = f"frame {f.done} of {f.total} painted{strokes}"
        if f.image is not None:
            job.preview = preview_png(f.image)
            job.previews += 1
        self.on_change()

    @staticmethod
    def _shown(job: Job, text: str) -> str:
        """An error as the page shows it: a video's saved upload named as the user named it."""
        return text if job.clip is None else text.replace(str(job.clip), job.source)

    def _progress(self, job: Job, p: Progress, last: list[float]) -> None:
        """The pipeline's progress callback: where the job is, the live image, Cancel."""
        self._check(job)
        done = p.fraction  # each level weighed by the cost model's prediction of it
        job.fraction = PAINT_SHARE * done
        if p.eta is not None:  # the painting at its pace so far, then the files at their share of the bar
            job.eta = p.eta + p.seconds / done * (1.0 - PAINT_SHARE) / PAINT_SHARE
        steps = f" of {p.steps}" if p.steps else ""
        if p.image is None:
            job.stage = f"level {p.level + 1} of {p.levels}: optimising strokes, step {p.step}{steps}"
        elif p.level < p.levels:
            job.stage = f"level {p.level} of {p.levels} painted ({p.strokes} strokes)"
        else:
            job.stage = f"all {p.strokes} strokes painted; refitting their colours"
        now = time.perf_counter()
        live = p.image if p.image is not None else p.preview
        if live is not None:
            job.preview = preview_png(live)
            job.previews += 1
        elif now - last[0] < NOTIFY_EVERY:
            return
        last[0] = now
        self.on_change()

    @staticmethod
    def _check(job: Job) -> None:
        if job.cancel.is_set():
            raise Cancelled()

    def _finish(self, job: Job, status: str, stage: str, error: str | None = None) -> None:
        """A job's end: its state, its job.json (done or failed), its photo freed, its folder if cancelled."""
        job.status, job.stage, job.error = status, stage, error
        job.finished, job.eta, job.photo = time.time(), None, None
        if status == "done":
            job.fraction = 1.0
        if status == "cancelled":  # the user threw it away: leave nothing behind
            shutil.rmtree(job.folder, ignore_errors=True)
            return
        try:
            job.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(job.folder / "job.json", json.dumps(job.record(), indent=1) + "\n")
        except (OSError, BrushworkError) as e:
            log.warning("could not write %s: %s", job.folder / "job.json", e)

    def _pipeline(self, choice: BrushChoice) -> PaintPipeline:
        """The pipeline for a brush and painter, built once and reused (the last 3 are kept)."""
        key = (choice.brush, choice.painter)
        pipe = self._pipelines.get(key)
        if pipe is None:
            pipe = PaintPipeline(PaintConfig(brush=choice.brush, painter=choice.painter))
            self._pipelines[key] = pipe
            self.built[key] += 1
            while len(self._pipelines) > 3:
                self._pipelines.popitem(last=False)
        self._pipelines.move_to_end(key)
        return pipe

    def _forget_old(self) -> None:
        """Keep at most KEEP_FINISHED finished jobs in memory (their job.json stays on disk)."""
        finished = [k for k, j in self._jobs.items() if j.status in FINAL]
        for k in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[k]

    def _job_folder(self, job_id: str) -> Path | None:
        """A job's folder: a real folder directly inside the output folder (a link to elsewhere is not one)."""
        if not JOB_ID.fullmatch(job_id):
            return None
        folder = self.out / job_id
        if folder.is_symlink() or not folder.is_dir() or folder.resolve().parent != self.out.resolve():
            return None
        return folder

    def _read_record(self, job_id: str) -> dict | None:
        """A job.json as the API shows it, or None when missing, unreadable or of the wrong shape."""
        folder = self._job_folder(job_id)
        if folder is None:
            return None
        try:
            record = json.loads((folder / "job.json").read_text())
        except (OSError, ValueError, RecursionError):
            return None
        return record if _is_record(record, job_id) else None


# the fields of a job.json and their types: one record of another shape (hand-edited, from another
# version) is skipped, never a 500 for the whole gallery
RECORD_TYPES = {"id": str, "kind": str, "status": str, "stage": (str, type(None)), "error": (str, type(None)),
                "source": (str, type(None)), "settings": dict, "notes": list, "files": list, "result": dict,
                "timings": dict, "created": (int, float), "finished": (int, float, type(None))}  # fmt: skip


def _is_record(record: object, job_id: str) -> bool:
    if not isinstance(record, dict) or record.get("id") != job_id:
        return False
    typed = all(isinstance(record.get(k), t) for k, t in RECORD_TYPES.items() if k in record)
    return typed and all(isinstance(f, str) for f in record.get("files", []))


def preview_png(image: np.ndarray) -> bytes:
    """(H, W, 3) float in [0, 1] or uint8 -> PNG bytes, long side at most PREVIEW_SIDE."""
    im = Image.fromarray(as_uint8(image))
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buf = BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


__all__ = [
    "BrushChoice", "Changes", "Job", "JobQueue", "JobSettings", "QueueFull", "WatchedPipeline", "check_clip",
    "find_brushes", "is_clip_upload", "parse_settings", "read_photo",
]  # fmt: skip
