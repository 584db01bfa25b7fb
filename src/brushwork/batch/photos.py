"""One photo painted and its files written: the unit of work of a sequential run and of a Ray worker.

    report = paint_photo(pipe, "photo.jpg", "out/photo", SaveOptions(), progress=False)
    print(describe(report))

A Ray worker calls the same function into a temporary folder and sends the files back
(`painting.outputs.read_outputs`); the driver writes them with `install_outputs`, so a file's bytes
do not depend on where it was painted.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from brushwork.painting.outputs import CHECKPOINT, SaveOptions, save_outputs
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.strokes import StrokeList


@dataclass
class PhotoReport:
    """What painting one photo gave: where, how long, how good (no images: it travels between machines)."""

    source: str
    folder: Path
    files: list[Path]
    seconds_painting: float
    seconds_files: float
    strokes: int
    real: bool
    psnr: float
    ssim: float
    psnr_engine: float | None  # the painter's canvas against the real brush's painting, dB
    notes: list[str] = field(default_factory=list)


def paint_photo(
    pipe: PaintPipeline,
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: SaveOptions,
    init: StrokeList | None = None,
    progress: bool = True,
    label: str | None = None,
    resume: bool = False,
    checkpoint: bool = True,
) -> PhotoReport:
    """Paint `source` with `pipe` and write its files into `out_dir` (all of them or nothing new).

    After each level the painting so far is checkpointed in `out_dir` (`outputs.CHECKPOINT`, removed
    once the files are written; not with `checkpoint=False`, e.g. a Ray worker's temporary folder);
    `resume` goes on from it after an interruption, to the same files.
    `label`: the photo's name in reports (a worker paints a copy under a temporary path).
    """
    t0 = time.perf_counter()
    saved = Path(out_dir) / CHECKPOINT if checkpoint else None
    # notes: to stderr while progress shows, and kept
    painting = pipe(source, init=init, progress=progress, checkpoint=saved, resume=resume)
    t1 = time.perf_counter()
    report = save_outputs(painting, out_dir, options)  # removes the checkpoint with the painting kept
    t2 = time.perf_counter()
    return PhotoReport(
        source=label or str(source), folder=report.folder, files=report.files, seconds_painting=t1 - t0,
        seconds_files=t2 - t1, strokes=len(painting.strokes), real=painting.real, psnr=painting.psnr,
        ssim=painting.ssim, psnr_engine=report.psnr_engine, notes=list(painting.notes) + report.notes,
    )  # fmt: skip


def describe(r: PhotoReport, folder: str | os.PathLike | None = None) -> str:
    """The one line a painted photo is reported with."""
    kind = "real brush" if r.real else "painter only"
    gap = "" if r.psnr_engine is None else f", painter canvas vs real {r.psnr_engine:.1f} dB"
    total = r.seconds_painting + r.seconds_files
    return (
        f"{r.source} -> {folder or r.folder}/ ({len(r.files)} files, {total:.1f} s: painting "
        f"{r.seconds_painting:.1f} s, files {r.seconds_files:.1f} s); {r.strokes} strokes, {kind}, "
        f"PSNR {r.psnr:.2f} dB, SSIM {r.ssim:.3f}{gap}"
    )


__all__ = ["PhotoReport", "describe", "paint_photo"]
