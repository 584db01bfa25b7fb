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

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brushwork.errors import BrushworkError
from brushwork.io import note_to_stderr
from brushwork.painting.exports import as_uint8
from brushwork.painting.pipeline import PaintPipeline
from brushwork.video.carry import CarryConfig
from brushwork.video.clip import ClipFrames, ClipInfo, probe, read_frames, stream_rate
from brushwork.video.encode import AudioSource, write_mp4
from brushwork.video.flow import frame_flow, warping_error
from brushwork.video.folder import VideoFolder, side_by_side
from brushwork.video.stepper import FrameState, FrameStepper, engine_coverage

FORMAT = 1  # bumped when the frames painted for the same settings would change (resume refuses older folders)


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


def _uint8_float(image: np.ndarray) -> np.ndarray:
    return as_uint8(image).astype(np.float32) / 255.0  # metrics on what the files hold


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
        **settings: Any,
    ) -> PaintedClip:
        """Paint `clip` into `out_dir` (see module docstring); `settings` are PaintConfig fields for every frame.

        `strokes`: the strokes a frame's painting holds (default: the pipeline's, else 2000).
        `on_frame` is called after each frame; an exception it raises stops the run (frames painted
        so far stay, and `resume=True` continues).
        """
        say = notify or note_to_stderr  # notes (a corrupt frame, a resume) are not progress: --quiet keeps them
        cfg = self.pipe.settings(**settings)
        size = cfg.size
        if "size" in settings:
            settings = {k: v for k, v in settings.items() if k != "size"}
        info, picks = plan_clip(clip, size, frames, fps)
        strokes = strokes or cfg.strokes
        settings = {k: v for k, v in settings.items() if k not in ("strokes", "seed")}  # the stepper sets them
        manifest = {
            "format": FORMAT, "clip": os.path.abspath(info.path), "clip_bytes": os.path.getsize(info.path),
            "frames": [picks[0], picks[-1] + 1], "picks": len(picks), "fps": fps, "size": size,
            "strokes": strokes, "paint": {k: _plain(v) for k, v in asdict(cfg).items() if k not in ("strokes",)},
            "carry": asdict(self.carry), "threads": _threads(),
        }  # fmt: skip
        folder = VideoFolder(out_dir)
        from brushwork.painting.outputs import prepare_folder

        prepare_folder(out_dir, (clip,))
        done = folder.start(manifest, resume)
        stepper = FrameStepper(self.pipe, strokes, self.carry, seed=cfg.seed, size=size, **settings)
        rows: list[dict] = []
        state: FrameState | None = None
        if done:
            rows = folder.read_rows(done)
            s, ids, image, _ = folder.read_frame(done - 1)
            state = FrameState(s, ids, engine_coverage(s), image, int(max(r["next_id"] for r in rows)))
            say(f"resuming {info.path}: {done} of {len(picks)} frames already painted")
        report = ClipFrames()
        t0 = time.perf_counter()
        bar = _bar(len(picks), done, progress)
        prev: np.ndarray | None = None
        start = max(0, done - 1)  # the input frame before the first new one is needed for its flow
        try:
            stream = read_frames(info, picks[start:], size=size, report=report, notify=say)
            for k, (src, frame) in enumerate(stream, start=start):
                if k < done:
                    prev = frame
                    continue
                if state is None or prev is None:
                    state, row = stepper.first(frame, k, next_id=0)
                    pair = None
                else:
                    pair = frame_flow(prev, frame)
                    last = _uint8_float(state.image)
                    state, row = stepper.next(prev, frame, state, k, pair)
                image = _uint8_float(state.image)
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
            say(f"stopped after {len(rows)} of {len(picks)} frames; they are kept in {folder.path}, "
                "and the same command with --resume continues")  # fmt: skip
            raise
        bar.close()
        files = self._films(info, picks, folder, size, say)
        return PaintedClip(folder.path, files, rows, info, report.corrupt)

    def _films(self, info: ClipInfo, picks: list[int], folder: VideoFolder, size: int,
               say: Callable[[str], None]) -> list[Path]:  # fmt: skip
        """painting.mp4 with the clip's sound and comparison.mp4, from the frames on disk."""
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


__all__ = ["FrameProgress", "PaintedClip", "VideoPipeline", "plan_clip"]
