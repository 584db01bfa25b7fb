"""Painting a photo: image in, brushstrokes and their renderings out.

    painting = brushwork.paint("photo.jpg", strokes=1000, size=512)   # a Painting
    painting.image          # (H, W, 3) float32, the strokes composited through the neural painter
    painting.strokes        # StrokeList: the painting as a program (levels, windows, brush, background)
    painting.save("out/")   # painting.png, comparison.png, strokes.json, painting_engine.png, ...

The steps (numbered in `paint`):
    1. read the image (`brushwork.painting.images`) and fit it to the canvas: long side `size`;
    2. load the painter for the brush (or the given painter file);
    3. the canvas starts as the target's median colour, or as a stroke list given as `init`;
    4. `StrokeOptimiser` fits the strokes level by level (`brushwork.painting.optimise`);
    5. the painting is the strokes composited by the painter at full size.

`--init strokes.json` continues an earlier painting: its strokes stay underneath, frozen and
unchanged (scaled to this canvas), and the new strokes form new levels on top, placed where the
painting still differs most from the image. Only levels whose window is no larger than the earlier
painting's finest are used (adding detail, not big strokes over finished work). Its background
colour and brush are kept (a different --brush is an error).

`save_outputs` writes every file atomically; the real-brush re-render (needs libmypaint) and the MP4
(needs ffmpeg) are skipped with a note when their tool is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from brushwork import actions as A
from brushwork.errors import BrushworkError
from brushwork.models.painter import Painter
from brushwork.painting import exports
from brushwork.painting.canvas import composite_strokes
from brushwork.painting.images import ImageSource, Notify, fit_to_canvas, load_image, resize
from brushwork.painting.optimise import LOSSES, OptimiseConfig, StrokeOptimiser, paint_strokes, painter_alphas
from brushwork.painting.strokes import StrokeList
from brushwork.painting.strokes import load as load_strokes

T = TypeVar("T")
DEFAULT_BRUSH = "classic/dry_brush"
MAX_CANVAS = 8192  # px: beyond this the canvas alone would take gigabytes
OUTPUT_FILES = (
    "painting.png", "comparison.png", "strokes.json", "painting_engine.png",
    "painting.ora", "painting.svg", "process.gif", "process.mp4",
)  # fmt: skip


@dataclass
class PaintConfig:
    """Everything `paint` needs, checked on construction (errors name the field and the fix)."""

    strokes: int = 1000  # strokes to paint (on top of any init strokes)
    size: int = 512  # long side of the canvas, px; the aspect ratio is the image's
    brush: str = DEFAULT_BRUSH  # the brush the strokes are meant for (engine re-render, files)
    painter: str | None = None  # a painter .safetensors instead of the brush's shipped one
    loss: str = "mixed"  # content | pixel | mixed, see brushwork.painting.optimise.PaintLoss
    seed: int = 0  # stroke placement and geometry
    steps: int | None = None  # Adam steps per level (default: OptimiseConfig.steps)
    time_budget: float | None = None  # seconds for the whole optimisation instead of fixed steps
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("strokes", "size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise BrushworkError(f"{name} must be a positive integer, got {v!r}")
        if self.size < 8 or self.size > MAX_CANVAS:
            raise BrushworkError(f"size must be between 8 and {MAX_CANVAS} px, got {self.size}")
        if self.loss not in LOSSES:
            raise BrushworkError(f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.steps is not None and self.time_budget is not None:
            raise BrushworkError("give either steps or time_budget, not both")
        bad_steps = isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1
        if self.steps is not None and bad_steps:
            raise BrushworkError(f"steps must be a positive integer, got {self.steps!r}")
        if self.time_budget is not None and not (self.time_budget > 0 and np.isfinite(self.time_budget)):
            raise BrushworkError(f"time_budget must be a positive number of seconds, got {self.time_budget!r}")


# -- the result ------------------------------------------------------------------------------------


@dataclass
class Painting:
    """A finished painting. Arrays are (H, W, 3) float32 in [0, 1] at the canvas size."""

    image: np.ndarray  # the strokes composited by the neural painter
    target: np.ndarray  # the image being painted, at the canvas size
    strokes: StrokeList
    painter: Painter
    name: str = "image"  # the image's file stem, for folders and messages
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase
    levels: list[dict] = field(default_factory=list)  # per level: window, strokes, steps, seconds, loss
    notes: list[str] = field(default_factory=list)
    _alpha: torch.Tensor | None = field(default=None, repr=False)  # (N, 1, 64, 64) painter alphas, cached

    def alphas(self) -> torch.Tensor:
        """(N, 1, 64, 64) the painter's coverage of every stroke (computed once, then cached)."""
        if self._alpha is None or len(self._alpha) != len(self.strokes):
            device = next(self.painter.parameters()).device
            self._alpha = painter_alphas(self.painter, torch.from_numpy(self.strokes.actions).to(device))
        return self._alpha

    @property
    def psnr(self) -> float:
        """PSNR of the painting against the target, dB."""
        return psnr(self.image, self.target)

    @property
    def ssim(self) -> float:
        """SSIM of the painting against the target (see `ssim`)."""
        return ssim(self.image, self.target)

    def save(self, out_dir: str | os.PathLike, **kwargs: Any) -> SaveReport:
        """Write every output into `out_dir`: see `save_outputs`."""
        return save_outputs(self, out_dir, **kwargs)

    def render_engine(self, size: int | None = None, brush: str | None = None) -> np.ndarray:
        """The strokes painted by the real MyPaint brush: (h, w, 3) float32 at long side `size`.

        Raises BrushworkError if libmypaint or the brush is missing.
        """
        return render_engine(self.strokes, size=size, brush=brush)

    def frames(self, counts: list[int], size: int | None = None) -> list[np.ndarray]:
        """Time-lapse frames: (h, w, 3) uint8 canvases after each of `counts` strokes, at long side `size`."""
        scale = 1.0 if size is None else min(1.0, size / max(self.strokes.width, self.strokes.height))
        frames: list[np.ndarray] = []

        def keep(_: int, canvas: torch.Tensor) -> None:
            frames.append(exports.as_uint8(canvas.permute(1, 2, 0).cpu().numpy()))

        paint_strokes(self.painter, self.strokes, scale=scale, snapshots=counts, on_snapshot=keep, alpha=self.alphas())
        return frames

    def layers(self) -> tuple[list[np.ndarray], list[str]]:
        """One (H, W, 4) straight-alpha RGBA layer per level (its strokes over a transparent layer)."""
        s = self.strokes
        device = next(self.painter.parameters()).device
        acts = torch.from_numpy(s.actions).to(device)
        alpha = self.alphas()
        # Premultiplied RGBA: composite colour (r, g, b, 1), the alpha channel then accumulates coverage.
        color = torch.cat([acts[:, A.COLOR], torch.ones(len(acts), 1, device=device)], dim=1)  # (N, 4)
        wins = torch.from_numpy(s.windows).to(device)
        out, names = [], []
        for level in np.unique(s.levels):
            idx = torch.from_numpy(np.flatnonzero(s.levels == level)).to(device)
            layer, _ = composite_strokes(torch.zeros(4, s.height, s.width, device=device),
                                         alpha[idx], color[idx], wins[idx])  # fmt: skip
            a = layer[3:4]
            rgb = torch.where(a > 0, layer[:3] / a.clamp(min=1e-6), torch.zeros_like(layer[:3])).clamp(0, 1)
            out.append(torch.cat([rgb, a.clamp(0, 1)]).permute(1, 2, 0).cpu().numpy())
            names.append(f"level {int(level)} ({len(idx)} strokes, {int(s.windows[idx[0].item(), 2])} px)")
        return out, names


@dataclass
class SaveReport:
    """What `save_outputs` wrote, how long each part took, and the engine's agreement."""

    folder: Path
    files: list[Path]
    timings: dict[str, float]
    notes: list[str]
    psnr_engine: float | None  # PSNR painting.png vs painting_engine.png at the canvas size, dB


# -- paint -----------------------------------------------------------------------------------------


def _stderr_note(text: str) -> None:
    print(f"brushwork: note: {text}", file=sys.stderr)


def paint(
    image: ImageSource,
    strokes: int = 1000,
    size: int = 512,
    brush: str = DEFAULT_BRUSH,
    loss: str = "mixed",
    seed: int = 0,
    steps: int | None = None,
    time_budget: float | None = None,
    init: str | os.PathLike | StrokeList | None = None,
    device: str = "cpu",
    painter: str | os.PathLike | Painter | None = None,
    progress: bool = True,
    config: OptimiseConfig | None = None,
    name: str | None = None,
) -> Painting:
    """Paint an image with brushstrokes.

    Args:
        image: a path, a PIL image, or an (H, W[, C]) array (see `brushwork.painting.images.load_image`).
        strokes: number of new strokes.
        size: long side of the canvas in px (aspect ratio kept).
        brush: MyPaint brush name; its shipped painter is used unless `painter` is given.
        loss: "content" (CNN features), "pixel" (MSE) or "mixed" (both).
        seed: seeds stroke placement and initial geometry (same inputs + seed + threads = same painting).
        steps: Adam steps per level; `time_budget`: seconds for the optimisation instead. Neither:
            the default steps of `OptimiseConfig`.
        init: a stroke list (or its .json/.npz file) to continue: kept frozen underneath.
        device: "cpu", "cuda", ...
        painter: a Painter or a painter .safetensors file.
        progress: tqdm bars per level and notes on stderr.
        config: advanced optimiser settings; `loss` and `seed` override its fields.
        name: a label for messages (default: the file stem).

    Returns:
        A `Painting`.

    Raises:
        BrushworkError: one line, for any bad input (unreadable image, unknown brush, ...).
    """
    t_start = time.perf_counter()
    paint_cfg = PaintConfig(strokes, size, brush, None, loss, seed, steps, time_budget, device)
    dev = _device(device)
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if progress:
            _stderr_note(text)

    # 1. the target at the canvas size
    if name is None:
        name = Path(image).stem if isinstance(image, str | os.PathLike) else "image"
    label = str(image) if isinstance(image, str | os.PathLike) else name
    rgb = load_image(image, notify=note)
    target_np = fit_to_canvas(rgb, paint_cfg.size, name=label, notify=note)
    timings = {"load": time.perf_counter() - t_start}

    # 2. the painter
    t = time.perf_counter()
    painter_model = _painter(brush, painter, dev)
    timings["painter"] = time.perf_counter() - t

    # 3. the starting canvas
    h, w = target_np.shape[:2]
    init_strokes = _init_strokes(init, brush, h, w) if init is not None else None
    if init_strokes is not None:
        background = init_strokes.background
    else:
        background = tuple(float(v) for v in np.median(target_np.reshape(-1, 3), axis=0))

    # 4. optimise
    t = time.perf_counter()
    cfg = config or OptimiseConfig()
    cfg = OptimiseConfig(**{**cfg.__dict__, "loss": loss, "seed": seed})
    target = torch.from_numpy(target_np).permute(2, 0, 1).contiguous().to(dev)  # (3, H, W)
    optimiser = StrokeOptimiser(painter_model, cfg, dev)
    result = optimiser(
        target, strokes, background, brush, init=init_strokes, steps=steps, time_budget=time_budget, progress=progress
    )
    timings["optimise"] = time.perf_counter() - t

    # 5. the painting at full size: the optimiser composited it already (each level's strokes at full
    # size, exactly as `paint_strokes` replays them)
    canvas = result.canvas
    timings["total"] = time.perf_counter() - t_start
    levels = [
        {"level": s.level, "window": s.window, "strokes": s.strokes, "steps": s.steps,
         "seconds": round(s.seconds, 3), "init_seconds": round(s.init_seconds, 3),
         "loss_start": s.loss_start, "loss_end": s.loss_end}
        for s in result.stats
    ]  # fmt: skip
    return Painting(
        image=canvas.permute(1, 2, 0).cpu().numpy(), target=target_np, strokes=result.strokes,
        painter=painter_model, name=name, timings=timings, levels=levels, notes=notes,
    )  # fmt: skip


def _device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise BrushworkError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BrushworkError(f"device {device!r} asked for, but this torch has no CUDA device; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise BrushworkError(f"unsupported device {device!r}; use cpu or cuda")
    return dev


def _painter(brush: str, painter: str | os.PathLike | Painter | None, device: torch.device) -> Painter:
    """The frozen painter: given, from a file, or the brush's shipped one; brushes checked by name."""
    from brushwork.engine.brushes import brush_dirs, require_learnable, resolve_brush
    from brushwork.models.painter import load_painter

    # With MyPaint's brush files installed, an unknown or unpaintable brush is an error; without them
    # we can still paint through the painter (only the real-brush re-render will be skipped).
    if brush_dirs():
        require_learnable(resolve_brush(brush))
    if isinstance(painter, Painter):
        model = painter
    elif painter is not None:
        model = Painter.from_pretrained(painter, device=device)
    else:
        model = load_painter(brush, device=device)
    model = model.to(device).eval()
    model.requires_grad_(False)
    # channels_last: the painter's convs run about twice as fast on CPU in this layout (measured).
    return model.to(memory_format=torch.channels_last)


def _init_strokes(
    init: str | os.PathLike | StrokeList, brush: str, height: int, width: int, label: str | None = None
) -> StrokeList:
    """The strokes to continue from, scaled to this canvas; same brush and aspect ratio required."""
    s = init if isinstance(init, StrokeList) else load_strokes(init)
    label = label or ("the init strokes" if isinstance(init, StrokeList) else str(init))
    try:
        s.validate()
    except ValueError as e:
        raise BrushworkError(f"{label}: {e}") from None
    if s.brush != brush:
        raise BrushworkError(f"{label} was painted with brush {s.brush!r}, not {brush!r}; pass --brush {s.brush}")
    factor = max(height, width) / max(s.width, s.height)
    scaled = s.scaled(factor)
    if abs(scaled.width - width) > 1 or abs(scaled.height - height) > 1:
        raise BrushworkError(
            f"{label} was painted on a {s.width}x{s.height} canvas, whose shape differs from this image's "
            f"{width}x{height}; continue it with the same image"
        )
    return StrokeList(s.brush, width, height, s.background, scaled.actions, scaled.windows, scaled.levels)


# -- the real brush --------------------------------------------------------------------------------


def render_engine(strokes: StrokeList, size: int | None = None, brush: str | None = None) -> np.ndarray:
    """Paint a stroke list with libmypaint at long side `size` (default: its canvas) -> (h, w, 3) float32.

    Raises BrushworkError (one line) if libmypaint or the brush is missing.
    """
    from brushwork.engine import render_canvas

    scale = 1.0 if size is None else size / max(strokes.width, strokes.height)
    return render_canvas(
        strokes.actions, strokes.windows, strokes.width, strokes.height,
        brush=brush or strokes.brush, background=strokes.background, scale=scale,
    )  # fmt: skip


# -- outputs ---------------------------------------------------------------------------------------


def save_outputs(
    painting: Painting,
    out_dir: str | os.PathLike,
    engine: bool = True,
    video: bool = True,
    render_size: int | None = None,
    fps: int = 15,
    video_seconds: float = 4.0,
    video_size: int = 512,
    notify: Notify | None = None,
) -> SaveReport:
    """Write the painting's files into `out_dir` (created if missing), each atomically.

    painting.png, comparison.png (target | painting), strokes.json, painting_engine.png (real brush at
    long side `render_size`, default the canvas), painting.ora (a layer per level), painting.svg,
    process.gif and process.mp4 (the canvas after k strokes, for k in `exports.frame_schedule`).
    `engine=False` / `video=False` skip the re-render / the videos; a missing libmypaint or ffmpeg
    skips them with a note (to `notify`, default stderr).
    """
    notify = notify or _stderr_note
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BrushworkError(f"cannot create output folder {folder}: {e.strerror or e}") from None
    files: list[Path] = []
    timings: dict[str, float] = {}
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        notify(text)

    def timed(key: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t
        return out

    s = painting.strokes
    p = folder / "painting.png"
    timed("png", exports.save_png, p, painting.image)
    files.append(p)
    gap = np.ones((painting.image.shape[0], 8, 3), np.float32)  # a white gutter between the two
    p = folder / "comparison.png"
    timed("png", exports.save_png, p, np.concatenate([painting.target, gap, painting.image], axis=1))
    files.append(p)
    p = folder / "strokes.json"
    timed("strokes", s.to_json, p)
    files.append(p)

    psnr_engine = None
    if engine:
        t = time.perf_counter()
        try:
            real = render_engine(s, size=render_size)
        except BrushworkError as e:
            note(f"skipped painting_engine.png: {e}")
        else:
            p = folder / "painting_engine.png"
            exports.save_png(p, real)
            files.append(p)
            same = real if real.shape == painting.image.shape else resize(real, *painting.image.shape[:2])
            psnr_engine = psnr(painting.image, same)
        timings["engine"] = time.perf_counter() - t

    layers, names = timed("ora", painting.layers)
    p = folder / "painting.ora"
    timed("ora", exports.save_ora, p, s.background, layers, names, merged=painting.image)
    files.append(p)
    del layers
    p = folder / "painting.svg"
    timed("svg", exports.save_svg, p, s)
    files.append(p)

    if video:
        counts = exports.frame_schedule(len(s), seconds=video_seconds, fps=fps)
        frames = timed("frames", painting.frames, counts, size=video_size)
        p = folder / "process.gif"
        timed("gif", exports.save_gif, p, frames, fps=min(fps, 50), max_size=video_size)
        files.append(p)
        t = time.perf_counter()
        try:
            exports.ffmpeg_path()
        except BrushworkError as e:
            note(f"skipped process.mp4: {e}")
        else:
            p = folder / "process.mp4"
            exports.save_mp4(p, frames, fps=fps, max_size=video_size)
            files.append(p)
        timings["mp4"] = time.perf_counter() - t
    return SaveReport(folder, files, timings, notes, psnr_engine)


# -- metrics ---------------------------------------------------------------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two (H, W, C) images in [0, 1], dB (inf if identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two (H, W, 3) images in [0, 1] (Wang et al. 2004), mean over channels.

    Gaussian window sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, data range 1: the standard setting.
    """
    x = torch.from_numpy(np.asarray(a, np.float64)).permute(2, 0, 1)[:, None]  # (3, 1, H, W)
    y = torch.from_numpy(np.asarray(b, np.float64)).permute(2, 0, 1)[:, None]
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()

    def blur(z: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region only
        return F.conv2d(F.conv2d(z, g.view(1, 1, 1, 11)), g.view(1, 1, 11, 1))

    if min(x.shape[-2:]) < 11:
        raise ValueError(f"SSIM needs images of at least 11 x 11 px, got {tuple(x.shape[-2:])}")
    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


# -- command line ----------------------------------------------------------------------------------


def _folders(images: list[str], out: Path) -> list[Path]:
    """One output folder per image: OUT itself for one image, OUT/<stem> (made unique) for several."""
    if len(images) == 1:
        return [out]
    seen: dict[str, int] = {}
    folders = []
    for path in images:
        stem = Path(path).stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        folders.append(out / (stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"))
    return folders


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


def default_threads(notify: Notify | None = None) -> int:
    """torch threads for a run: torch's default (all cores) minus the cores other work keeps busy.

    Why: two OpenMP threads competing with another job for a core spin-wait on each other; measured on
    2 cores with a training job running, the painter's forward + backward took 10.3 s with 2 threads and
    0.49 s with 1. A free core costs nothing to use; a busy one costs 20x.
    """
    most = torch.get_num_threads()
    busy = busy_cores()
    if busy is None:
        return most
    threads = max(1, min(most, round((os.cpu_count() or most) - busy)))
    if threads < most and notify is not None:
        notify(
            f"{busy:.1f} of {os.cpu_count()} cores are busy with other work: using {threads} thread(s) (see --threads)"
        )
    return threads


def paint_cli(args: argparse.Namespace) -> None:
    """`brushwork paint`: paint each image, write its files, print a short summary per image.

    Without --threads, torch uses the cores that other work leaves free (`default_threads`), with a
    note when that is fewer than all.
    """
    # Check everything first (arguments, every image, the init strokes, brush and painter): a bad input
    # fails at once with one line, not after minutes of painting or after a note.
    PaintConfig(args.strokes, args.size, args.brush, args.painter, args.loss, args.seed, args.steps,
                args.time_budget, args.device)  # fmt: skip
    init = load_strokes(args.init) if args.init is not None else None
    for path in args.images:
        target = fit_to_canvas(load_image(path), args.size, name=path)
        if init is not None:
            _init_strokes(init, args.brush, *target.shape[:2], label=args.init)
    painter = _painter(args.brush, args.painter, _device(args.device))
    torch.set_num_threads(args.threads or default_threads(None if args.quiet else _stderr_note))
    render_size = args.render_size
    for path, folder in zip(args.images, _folders(args.images, Path(args.out)), strict=True):
        t0 = time.perf_counter()
        painting = paint(
            path, strokes=args.strokes, size=args.size, brush=args.brush, loss=args.loss, seed=args.seed,
            steps=args.steps, time_budget=args.time_budget, init=init, device=args.device,
            painter=painter, progress=not args.quiet,
        )  # fmt: skip
        t1 = time.perf_counter()
        report = save_outputs(
            painting, folder, engine=not args.no_engine, video=not args.no_video, render_size=render_size,
            fps=args.fps, video_seconds=args.video_seconds, video_size=args.video_size,
        )  # fmt: skip
        t2 = time.perf_counter()
        fidelity = "" if report.psnr_engine is None else f", real brush vs painting {report.psnr_engine:.1f} dB"
        print(
            f"{path} -> {folder}/ ({len(report.files)} files, {t2 - t0:.1f} s: painting {t1 - t0:.1f} s, "
            f"files {t2 - t1:.1f} s); {len(painting.strokes)} strokes, PSNR {painting.psnr:.1f} dB{fidelity}"
        )


def render_cli(args: argparse.Namespace) -> None:
    """`brushwork render`: re-render a strokes file with the real brush at any size."""
    s = load_strokes(args.strokes)
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise BrushworkError(f"output must be a .png file, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    image = render_engine(s, size=args.size, brush=args.brush)
    exports.save_png(out, image)
    print(f"{out} ({image.shape[1]}x{image.shape[0]}, {len(s)} strokes, brush {args.brush or s.brush})")


__all__ = [
    "OUTPUT_FILES",
    "PaintConfig",
    "Painting",
    "SaveReport",
    "paint",
    "paint_cli",
    "psnr",
    "render_cli",
    "render_engine",
    "save_outputs",
    "ssim",
]
