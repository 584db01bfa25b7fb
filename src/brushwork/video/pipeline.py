"""Painting a clip: `VideoPipeline`, built once around a `PaintPipeline`, called once per clip.

    vpipe = VideoPipeline.from_pretrained("classic/dry_brush", size=256)
    film = vpipe("clip.mp4", "out/clip", strokes=1000, frames=(0, 120))
    film.rows[5]["warping_error"], film.files

The steps of `__call__`:
    1. probe the clip and pick its frames (`--frames A:B`, `--fps`); check the limits -- all before
       any folder or file is made;
    2. the folder: afresh, or with `resume` the frames an interrupted run already painted;
    3. frame by frame (`FrameStepper`): frame 0 painted as a photo is, every later one carried over
       from the frame before it with the input's flow; each frame's PNG, strokes and row written as
       soon as it is painted;
    4. painting.mp4 (with the clip's sound) and comparison.mp4, once every frame is there.

The same clip, settings and threads give the same bytes, resumed or not (not with a time budget,
whose step counts follow the machine's speed).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import note_to_stderr
from brushwork.painting.pipeline import PaintPipeline
from brushwork.video.carry import CarryConfig
from brushwork.video.chunks import (
    Chunk,
    ChunkConfig,
    FilmAssembler,
    RawFrame,
    paint_chunk,
    quantise,
    split_into_chunks,
)
from brushwork.video.clip import ClipFrames, ClipInfo, probe, read_frames, stream_rate
from brushwork.video.encode import AudioSource, write_mp4
from brushwork.video.flow import frame_flow, warping_error
from brushwork.video.folder import VideoFolder, side_by_side
from brushwork.video.stepper import FrameState, FrameStepper, engine_coverage

FORMAT = 3  # bumped when the frames painted for the same settings would change (resume refuses older folders)


@dataclass
class FrameProgress:
    """Where a clip is: `done` frames of `total` painted (for progress bars and the web app)."""

    done: int
    total: int
    seconds: float  # since this run started
    row: dict | None = None  # the frame just painted
    image: np.ndarray | None = None  # its painting, (H, W, 3) float32


@dataclass
class PaintedClip:
    """What painting a clip gave: the folder, its files, one row per frame."""

    folder: Path
    files: list[Path]
    rows: list[dict]
    info: ClipInfo
    corrupt: list[int] = field(default_factory=list)  # source frames that could not be decoded

    @property
    def mean_psnr(self) -> float:
        return float(np.mean([r["psnr"] for r in self.rows]))

    @property
    def warping_ratio(self) -> float | None:
        """Mean warping error over the clip's own, frames after the first and not at a scene cut."""
        ratios = [r["warping_error"] / r["input_warping_error"] for r in self.rows[1:]
                  if r.get("input_warping_error") and not r["cut"]]  # fmt: skip
        return float(np.mean(ratios)) if ratios else None


class VideoPipeline:
    """A `PaintPipeline` for a whole clip plus the rules that carry strokes from frame to frame."""

    def __init__(self, pipe: PaintPipeline, carry: CarryConfig | None = None) -> None:
        self.pipe = pipe
        self.carry = carry or CarryConfig()

    @classmethod
    def from_pretrained(cls, brush: str = "classic/dry_brush", carry: CarryConfig | None = None,
                        **settings: Any) -> VideoPipeline:  # fmt: skip
        return cls(PaintPipeline.from_pretrained(brush, **settings), carry)

    def __call__(
        self,
        clip: str | os.PathLike,
        out_dir: str | os.PathLike,
        strokes: int | None = None,
        frames: tuple[int, int] | None = None,
        fps: float | None = None,
        resume: bool = False,
        progress: bool = True,
        notify: Callable[[str], None] | None = None,
        on_frame: Callable[[FrameProgress], None] | None = None,
        chunks: ChunkConfig | None = None,
        **settings: Any,
    ) -> PaintedClip:
        """Paint `clip` into `out_dir` (see module docstring); `settings` are PaintConfig fields for every frame.

        `strokes`: the strokes a frame's painting holds (default: the pipeline's, else 2000).
        `chunks`: paint the clip in chunks (`brushwork.video.chunks`) as Ray workers do, one after
        another here; the same bytes as a run on Ray with the same chunks. Default: one run through.
        `on_frame` is called after each frame; an exception it raises stops the run (frames painted
        so far stay, and `resume=True` continues).
        """
        film = self.start(clip, out_dir, strokes, frames, fps, resume, progress, notify, chunks, **settings)
        if chunks is not None:
            stepper = film.stepper(self.pipe)
            with film.running(on_frame):
                for chunk, chunk_frames in film.chunks():
                    for raw in paint_chunk(stepper, chunk, chunk_frames):
                        film.add(chunk, raw)
                    film.assembler.write_rows()
            return film.finish()
        return self._paint_through(film, on_frame)

    def start(
        self,
        clip: str | os.PathLike,
        out_dir: str | os.PathLike,
        strokes: int | None = None,
        frames: tuple[int, int] | None = None,
        fps: float | None = None,
        resume: bool = False,
        progress: bool = True,
        notify: Callable[[str], None] | None = None,
        chunks: ChunkConfig | None = None,
        **settings: Any,
    ) -> FilmRun:
        """Steps 1 and 2: the clip probed, its frames chosen, the folder ready (what Ray's driver needs too)."""
        say = notify or note_to_stderr  # notes (a corrupt frame, a resume) are not progress: --quiet keeps them
        cfg = self.pipe.settings(**settings)
        size = cfg.size
        info, picks = plan_clip(clip, size, frames, fps)
        strokes = strokes or cfg.strokes
        settings = {k: v for k, v in settings.items() if k not in ("strokes", "seed", "size")}  # the stepper sets them
        manifest = {
            "format": FORMAT, "clip": os.path.abspath(info.path), "clip_bytes": os.path.getsize(info.path),
            "frames": [picks[0], picks[-1] + 1], "picks": len(picks), "fps": fps, "size": size,
            "strokes": strokes, "paint": {k: _plain(v) for k, v in asdict(cfg).items() if k not in ("strokes",)},
            "carry": asdict(self.carry), "threads": _threads(),
        }  # fmt: skip
        if chunks is not None:
            manifest["chunks"] = asdict(chunks)
        folder = VideoFolder(out_dir)
        from brushwork.painting.outputs import prepare_folder

        prepare_folder(out_dir, (clip,))
        done = folder.start(manifest, resume)
        stepping = {"strokes": strokes, "carry": self.carry, "seed": cfg.seed, "size": size, **settings}
        return FilmRun(info, picks, folder, size, stepping, chunks, done, resume, progress, say)

    def _paint_through(self, film: FilmRun, on_frame: Callable[[FrameProgress], None] | None) -> PaintedClip:
        """Step 3 without chunks: every frame carried from the one before it."""
        info, picks, folder, done, say = film.info, film.picks, film.folder, film.done, film.say
        stepper = film.stepper(self.pipe)
        rows: list[dict] = []
        state: FrameState | None = None
        if done:
            rows = folder.read_rows(done)
            s, ids, image, _ = folder.read_frame(done - 1)
            state = FrameState(s, ids, engine_coverage(s), image, int(max(r["next_id"] for r in rows)))
            say(f"resuming {info.path}: {done} of {len(picks)} frames already painted")
        t0 = time.perf_counter()
        bar = _bar(len(picks), done, film.progress)
        prev: np.ndarray | None = None
        start = max(0, done - 1)  # the input frame before the first new one is needed for its flow
        try:
            stream = read_frames(info, picks[start:], size=film.size, report=film.report, notify=say)
            for k, (src, frame) in enumerate(stream, start=start):
                if k < done:
                    prev = frame
                    continue
                if state is None or prev is None:
                    state, row = stepper.first(frame, k, next_id=0)
                    pair = None
                else:
                    pair = frame_flow(prev, frame)
                    last = quantise(state.image)
                    state, row = stepper.next(prev, frame, state, k, pair)
                image = quantise(state.image)
                row.update(frame=k, source=src, time=round(info.times[src] - info.times[picks[0]], 4),
                           next_id=int(state.next_id))  # fmt: skip
                if pair is not None:
                    row["warping_error"] = round(warping_error(last, image, pair), 8)
                    row["input_warping_error"] = round(warping_error(prev, frame, pair), 8)
                folder.write_frame(k, state.strokes, state.ids, state.image, row)
                rows.append(row)
                folder.write_rows(rows)
                prev = frame
                bar.update(1)
                bar.set_postfix(psnr=f"{row['psnr']:.2f}", strokes=row["strokes"], refresh=False)
                if on_frame is not None:
                    on_frame(FrameProgress(k + 1, len(picks), time.perf_counter() - t0, row, state.image))
        except KeyboardInterrupt:
            bar.close()
            film.stopped(len(rows))
            raise
        bar.close()
        files = write_films(info, picks, folder, film.size)
        return PaintedClip(folder.path, files, rows, info, film.report.corrupt)


class FilmRun:
    """A clip being painted: its frames, folder and stepper settings (from `VideoPipeline.start`).

    With chunks: `chunks()` streams the chunks still to paint, `add(chunk, raw)` writes what a chunk
    painted (any process may have painted it), `finish()` completes the rows and encodes the films.
    """

    def __init__(self, info: ClipInfo, picks: list[int], folder: VideoFolder, size: int, stepping: dict[str, Any],
                 chunking: ChunkConfig | None, done: int, resume: bool, progress: bool,
                 say: Callable[[str], None]) -> None:  # fmt: skip
        self.info, self.picks, self.folder, self.size = info, picks, folder, size
        self.stepping = stepping  # FrameStepper's arguments (picklable: a Ray worker builds its own)
        self.chunking, self.done, self.progress, self.say = chunking, done, progress, say
        self.report = ClipFrames()
        self.assembler: FilmAssembler | None = None
        if chunking is not None:
            painted = folder.painted(len(picks)) if resume else set()
            self.assembler = FilmAssembler(folder, picks, info.times, painted, folder.rows_of(painted))
            if painted:
                say(f"resuming {info.path}: {len(painted)} of {len(picks)} frames already painted")
        self._bar = None
        self._on_frame: Callable[[FrameProgress], None] | None = None
        self._t0 = time.perf_counter()

    def stepper(self, pipe: PaintPipeline) -> FrameStepper:
        return FrameStepper(pipe, **self.stepping)

    @property
    def total(self) -> int:
        return len(self.picks)

    def chunks(self) -> Iterator[tuple[Chunk, list[np.ndarray]]]:
        """The chunks with a frame still to paint, and their frames (uint8), as the clip is decoded."""
        stream = read_frames(self.info, self.picks, size=self.size, report=self.report, notify=self.say)
        for chunk, frames in split_into_chunks((f for _, f in stream), self.chunking, self.stepping["carry"]):
            if self.assembler.expect(chunk, frames):
                yield chunk, frames

    def add(self, chunk: Chunk, raw: RawFrame) -> int:
        """A chunk's painting of a frame; returns how many of the film's frames it completed."""
        written = self.assembler.add(chunk, raw)
        for k in written:
            row = self.assembler.rows[k]
            if self._bar is not None:
                self._bar.update(1)
                self._bar.set_postfix(psnr=f"{row['psnr']:.2f}", strokes=row["strokes"], refresh=False)
            if self._on_frame is not None:
                done = len(self.assembler.painted)
                self._on_frame(FrameProgress(done, self.total, time.perf_counter() - self._t0, row, None))
        return len(written)

    @contextlib.contextmanager
    def running(self, on_frame: Callable[[FrameProgress], None] | None = None, bar: bool = True) -> Iterator[None]:
        """A progress bar over the frames (unless `bar` is False: a caller with its own), and a
        note on how to continue when interrupted."""
        self._on_frame = on_frame
        self._bar = _bar(self.total, len(self.assembler.painted), self.progress and bar)
        try:
            yield
        except KeyboardInterrupt:
            self._bar.close()
            self.assembler.write_rows()
            self.stopped(len(self.assembler.painted))
            raise
        self._bar.close()

    def stopped(self, painted: int) -> None:
        self.say(f"stopped after {painted} of {self.total} frames; they are kept in {self.folder.path}, "
                 "and the same command with --resume continues")  # fmt: skip

    def finish(self) -> PaintedClip:
        """Every chunk is in: the rows at boundaries, frames.jsonl, painting.mp4 and comparison.mp4."""
        rows = self.assembler.finish()
        files = write_films(self.info, self.picks, self.folder, self.size)
        return PaintedClip(self.folder.path, files, rows, self.info, self.report.corrupt)


def write_films(info: ClipInfo, picks: list[int], folder: VideoFolder, size: int) -> list[Path]:
    """Step 4: painting.mp4 with the clip's sound and comparison.mp4, from the frames on disk."""
    rate = stream_rate(info, picks)
    t_start = info.times[picks[0]]
    audio = AudioSource(info.path, t_start, t_start + len(picks) / float(rate)) if info.audio else None
    paths = [folder.path / "painting.mp4", folder.path / "comparison.mp4"]
    write_mp4(paths[0], folder.frames_uint8(len(picks)), rate, audio)
    clip_frames = (f for _, f in read_frames(info, picks, size=size))
    pairs = (side_by_side(c, p) for c, p in zip(clip_frames, folder.frames_uint8(len(picks)), strict=False))
    write_mp4(paths[1], pairs, rate, audio)
    return [*paths, folder.path / "frames.jsonl", folder.path / "strokes", folder.path / "frames"]


def plan_clip(clip: str | os.PathLike, size: int, frames: tuple[int, int] | None = None,
              fps: float | None = None) -> tuple[ClipInfo, list[int]]:  # fmt: skip
    """Probe the clip and choose its frames: every check that needs no painting (one BrushworkError)."""
    from brushwork.images import MIN_SIDE, fit_size

    info = probe(clip)
    if frames is not None and frames[1] > info.frames and frames[1] >= 10**12:  # 'A:' runs to the end
        frames = (frames[0], info.frames)
    picks = info.select(frames, fps)
    h, w = fit_size(info.height, info.width, size)
    if min(h, w) < MIN_SIDE:
        raise BrushworkError(f"{clip} is {info.width}x{info.height} px: at --size {size} its short side would be "
                             f"{min(h, w)} px (< {MIN_SIDE}); use a larger --size")  # fmt: skip
    return info, picks


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _bar(total: int, done: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, disable=not progress, unit="frame", dynamic_ncols=True, desc="frames")


__all__ = ["FilmRun", "FrameProgress", "PaintedClip", "VideoPipeline", "plan_clip", "write_films"]
