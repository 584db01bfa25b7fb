"""The files a painting is saved as: a registry of writers, one per output, in the order they run.

A writer is a function `(painting, folder, options) -> list of paths written`, registered under its
file name with `@writer("name.ext")`; `save_outputs` runs them all. A new output format is one
writer (its encoding lives in `brushwork.painting.exports`). Every file is written atomically.

    painting.png          the painting: the real brush's, or the painter's in painter-only mode
    painting_neural.png   the painter's canvas of the same strokes (what the optimiser saw)
    comparison.png        photo | painting
    strokes.json          the strokes (schema in brushwork.painting.strokes)
    painting_engine.png   the real brush at --render-size (only when asked for)
    painting.ora          one layer per level (the real brush's strokes when real), for MyPaint/Krita
    painting.svg          each stroke as a vector path
    process.gif/.mp4      the painting appearing stroke by stroke
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import note_to_stderr
from brushwork.limits import MAX_CANVAS, MAX_FPS, MAX_VIDEO_BYTES, MAX_VIDEO_SECONDS, MAX_VIDEO_SIZE, MIN_WINDOW
from brushwork.metrics import psnr
from brushwork.painting import exports, video
from brushwork.painting.strokes import StrokeList


class Painting(Protocol):
    """What the writers need of a painting (`brushwork.painting.result.Painting` has it; this module
    need not import it, as `Painting.save` calls `save_outputs`)."""

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    target: np.ndarray  # (H, W, 3) the photo at the canvas size
    strokes: StrokeList
    real: bool

    def neural_image(self) -> np.ndarray: ...

    def render_engine(self, size: int | None = None, brush: str | None = None) -> np.ndarray: ...

    def frames(self, counts: list[int], size: int | None = None) -> list[np.ndarray]: ...

    def layers(self, uint8: bool = False) -> tuple[list[np.ndarray], list[str]]: ...


@dataclass
class SaveOptions:
    """What `save_outputs` writes, besides the painting itself."""

    video: bool = True  # process.gif and process.mp4
    render_size: int | None = None  # long side of painting_engine.png; None: not written
    fps: int = 15
    video_seconds: float = 4.0
    video_size: int = 512
    notify: Callable[[str], None] = note_to_stderr

    def __post_init__(self) -> None:
        def bad(value: object, lo: float, hi: float, integer: bool = True) -> bool:
            kinds = int if integer else (int, float)
            return isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi

        if self.render_size is not None and bad(self.render_size, MIN_WINDOW, MAX_CANVAS):
            raise BrushworkError(
                f"render size must be an integer from {MIN_WINDOW} to {MAX_CANVAS} px, got {self.render_size!r}"
            )
        if bad(self.fps, 1, MAX_FPS):
            raise BrushworkError(f"fps must be an integer from 1 to {MAX_FPS}, got {self.fps!r}")
        if bad(self.video_seconds, 0.1, MAX_VIDEO_SECONDS, integer=False):
            raise BrushworkError(
                f"video length must be 0.1 to {MAX_VIDEO_SECONDS:g} seconds, got {self.video_seconds!r}"
            )
        frames_bytes = self.fps * self.video_seconds * self.video_size**2 * 3
        if self.video and frames_bytes > MAX_VIDEO_BYTES:
            raise BrushworkError(
                f"a {self.video_seconds:g} s video at {self.fps} fps and {self.video_size} px needs "
                f"{frames_bytes / 2**30:.1f} GB of frames (limit {MAX_VIDEO_BYTES / 2**30:.0f} GB); "
                "make it shorter or smaller"
            )
        if bad(self.video_size, 16, MAX_VIDEO_SIZE):
            raise BrushworkError(
                f"video size must be an integer from 16 to {MAX_VIDEO_SIZE} px, got {self.video_size!r}"
            )


@dataclass
class SaveReport:
    """What `save_outputs` wrote, how long each writer took, and the painter's agreement with the real brush."""

    folder: Path
    files: list[Path]
    timings: dict[str, float]
    notes: list[str]
    psnr_engine: float | None  # PSNR of the painter's canvas against the real painting, dB (real mode)


Writer = Callable[[Painting, Path, SaveOptions], list[Path]]
WRITERS: dict[str, Writer] = {}


def writer(name: str) -> Callable[[Writer], Writer]:
    """Register a writer under the name of the file it writes."""

    def add(fn: Writer) -> Writer:
        WRITERS[name] = fn
        return fn

    return add


@writer("painting.png")
def _painting(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    exports.save_png(folder / "painting.png", p.image)
    return [folder / "painting.png"]


@writer("painting_neural.png")
def _neural(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    exports.save_png(folder / "painting_neural.png", p.neural_image())
    return [folder / "painting_neural.png"]


@writer("comparison.png")
def _comparison(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    gap = np.ones((p.image.shape[0], 8, 3), np.float32)  # a white gutter between the two
    exports.save_png(folder / "comparison.png", np.concatenate([p.target, gap, p.image], axis=1))
    return [folder / "comparison.png"]


@writer("strokes.json")
def _strokes(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    p.strokes.to_json(folder / "strokes.json")
    return [folder / "strokes.json"]


@writer("painting_engine.png")
def _engine(p: Painting, folder: Path, opts: SaveOptions) -> list[Path]:
    if opts.render_size is None:
        return []
    try:
        real = p.render_engine(size=opts.render_size)
    except BrushworkError as e:
        opts.notify(f"skipped painting_engine.png: {e}")
        return []
    exports.save_png(folder / "painting_engine.png", real)
    return [folder / "painting_engine.png"]


@writer("painting.ora")
def _ora(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    layers, names = p.layers(uint8=True)
    exports.save_ora(folder / "painting.ora", p.strokes.background, layers, names, merged=p.image)
    return [folder / "painting.ora"]


@writer("painting.svg")
def _svg(p: Painting, folder: Path, _: SaveOptions) -> list[Path]:
    exports.save_svg(folder / "painting.svg", p.strokes)
    return [folder / "painting.svg"]


@writer("process.gif")
def _videos(p: Painting, folder: Path, opts: SaveOptions) -> list[Path]:
    if not opts.video:
        return []
    counts = video.frame_schedule(len(p.strokes), seconds=opts.video_seconds, fps=opts.fps)
    frames = p.frames(counts, size=opts.video_size)
    video.save_gif(folder / "process.gif", frames, fps=min(opts.fps, 50), max_size=opts.video_size)
    written = [folder / "process.gif"]
    try:
        video.ffmpeg_path()
    except BrushworkError as e:
        opts.notify(f"skipped process.mp4: {e}")
    else:
        video.save_mp4(folder / "process.mp4", frames, fps=opts.fps, max_size=opts.video_size)
        written.append(folder / "process.mp4")
    return written


OUTPUT_FILES = (*WRITERS, "process.mp4")
# the painting so far, written after each level while a photo is painted (`PaintPipeline(checkpoint=)`)
# and removed once its files are written: a folder holding one holds an unfinished painting
CHECKPOINT = ".checkpoint.npz"
STAGING_PREFIX = ".brushwork-staging-"  # + the writing process's id: a hidden folder, never an output


def prepare_folder(out_dir: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Check (and create) an output folder before any painting: one clear BrushworkError if unusable.

    It must be a folder (or creatable as one), writable, and not hold an input under an output's name
    (painting `out/painting.png -o out` would overwrite the photo).
    """
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise BrushworkError(f"output folder {folder} is a file; choose a folder with -o")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".brushwork-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise BrushworkError(f"cannot write into {folder}: {e.strerror or e}") from None
    for src in inputs:
        real = Path(src).resolve()  # a link to OUT/painting.png is that file
        if real.name in OUTPUT_FILES and real.parent == folder.resolve():
            raise BrushworkError(f"painting {src} into {folder} would overwrite it; choose another -o")
    _clear_stale_staging(folder)
    return folder


def _clear_stale_staging(folder: Path) -> None:
    """Remove staging folders that a killed run (SIGKILL, power loss) left behind in `folder`.

    A staging folder is named after the process writing it; one whose process is gone is stale.
    """
    for staging in folder.glob(f"{STAGING_PREFIX}*"):
        pid = staging.name[len(STAGING_PREFIX) :].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def save_outputs(
    painting: Painting, out_dir: str | os.PathLike, options: SaveOptions | None = None, **settings: object
) -> SaveReport:
    """Write the painting's files into `out_dir` (created if missing): all of them, or nothing new.

    `settings` are `SaveOptions` fields (video, render_size, fps, video_seconds, video_size, notify).
    The files are written into a hidden staging folder inside `out_dir` and moved into place only when
    all are written, so a failure (full disk, Ctrl-C, SIGTERM) leaves the folder as it was; outputs an
    earlier run left that this run does not write (e.g. videos after --no-video) are removed, so the
    folder never mixes two paintings. A missing ffmpeg or libmypaint skips what needs it, with a note.
    """
    opts = options or SaveOptions(**settings)  # type: ignore[arg-type]
    folder = prepare_folder(out_dir)
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        opts.notify(text)

    writer_opts = replace(opts, notify=note)  # the caller's options stay as they are
    timings: dict[str, float] = {}

    def write_all(staging: Path) -> list[Path]:
        files: list[Path] = []
        for name, write in WRITERS.items():
            t = time.perf_counter()
            files += write(painting, staging, writer_opts)
            timings[name] = time.perf_counter() - t
        return files

    written = _write_staged(folder, write_all)
    agreement = psnr(painting.neural_image(), painting.image) if painting.real else None
    return SaveReport(folder, written, timings, notes, agreement)


def _write_staged(folder: Path, fill: Callable[[Path], list[Path]]) -> list[Path]:
    """`fill(staging)` writes a painting's files into a hidden folder inside `folder`; move them into place.

    All or nothing new: only once every file is written are they moved, painting.png last (so a folder
    holding it holds all of the painting's files: what `is_painted` checks); outputs of an earlier run
    that this one does not have are removed.
    """
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
    written: list[Path] = []
    try:
        for f in sorted(fill(staging), key=lambda f: f.name == "painting.png"):
            os.replace(f, folder / f.name)
            written.append(folder / f.name)
        for name in set(OUTPUT_FILES) - {f.name for f in written}:  # an earlier run's, not this one's
            (folder / name).unlink(missing_ok=True)
        (folder / CHECKPOINT).unlink(missing_ok=True)  # the painting it held is finished (or replaced)
    except OSError as e:
        done = "nothing new was written" if not written else f"only {', '.join(f.name for f in written)} were replaced"
        raise BrushworkError(f"could not write the outputs into {folder}: {e.strerror or e}; {done}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def is_painted(out_dir: str | os.PathLike) -> bool:
    """Whether `out_dir` holds a finished painting and no unfinished one (what `--resume` skips)."""
    folder = Path(out_dir)
    return (folder / "painting.png").is_file() and (folder / "strokes.json").is_file() and not (
        folder / CHECKPOINT
    ).is_file()


def read_outputs(files: list[Path]) -> dict[str, bytes]:
    """The files `save_outputs` wrote (`SaveReport.files`), by name: a painting to send to another machine."""
    return {f.name: f.read_bytes() for f in files}


def install_outputs(out_dir: str | os.PathLike, files: dict[str, bytes]) -> list[Path]:
    """Write files painted elsewhere (`read_outputs`) into `out_dir` as `save_outputs` does: all or nothing new."""
    folder = prepare_folder(out_dir)

    def write_all(staging: Path) -> list[Path]:
        for name, data in files.items():
            if name not in OUTPUT_FILES:
                raise BrushworkError(f"not a painting's file: {name!r}")
            (staging / name).write_bytes(data)
        return [staging / name for name in files]

    return _write_staged(folder, write_all)


__all__ = [
    "CHECKPOINT", "OUTPUT_FILES", "WRITERS", "SaveOptions", "SaveReport", "install_outputs", "is_painted",
    "prepare_folder",
    "read_outputs", "save_outputs", "writer",
]
