"""Painting speed and quality: the whole `brushwork paint` on the seed photos, plus the seed project's baseline.

Usage:
    python benchmarks/paint_speed.py [--photos castle.png ...] [--size 512] [--strokes 1000] [--threads 2]
                                     [--painter FILE] [--no-baseline] [--no-cli]

Prints one JSON object per line:
    {"run": "photo", ...}     per photo, in a fresh process: wall time of the process (imports included),
                              peak memory, seconds per phase, PSNR / SSIM of painting.png vs the target,
                              (the real brush's painting), PSNR of the painter's canvas vs the real painting
    {"run": "cli", ...}       the real `brushwork paint` command on the first photo: wall time, peak memory
    {"run": "baseline", ...}  the seed project's setting: 64 x 64 canvas, 50 strokes each in a window = the
                              whole canvas, 3000 RMSprop steps from random actions, same loss and painter

Timings are noisy when another job shares the CPU. Children get OMP_WAIT_POLICY=PASSIVE unless it is set
(see `child`); `--omp-wait-policy ""` measures without it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "examples"  # the four seed photos
OMP_WAIT_POLICY = "PASSIVE"  # set by --omp-wait-policy; "" leaves the environment alone
PHOTOS = ("castle.png", "louvre.png", "vanc.jpg", "eiffel.jpeg")


def worker(args: argparse.Namespace) -> None:
    """One photo, in this process: paint + save exactly as `brushwork paint` does, and report."""
    import numpy as np
    import torch
    from PIL import Image

    from brushwork.metrics import psnr, ssim
    from brushwork.painting.outputs import save_outputs
    from brushwork.painting.pipeline import paint

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    painting = paint(args.worker, strokes=args.strokes, size=args.size, painter=args.painter, progress=False,
                     steps=args.steps, time_budget=args.time_budget, loss=args.loss)  # fmt: skip
    t1 = time.perf_counter()
    report = save_outputs(painting, args.out, notify=lambda _: None)
    t2 = time.perf_counter()
    png = np.asarray(Image.open(Path(args.out) / "painting.png"), np.float32) / 255.0
    out = {
        "run": "photo",
        "photo": Path(args.worker).name,
        "canvas": f"{png.shape[1]}x{png.shape[0]}",
        "strokes": len(painting.strokes),
        "threads": args.threads,
        "loadavg_1min_at_end": round(os.getloadavg()[0], 2),
        "psnr": round(psnr(png, painting.target), 2),
        "ssim": round(ssim(png, painting.target), 4),
        "real": painting.real,  # painting.png is the real brush's painting
        "psnr_neural_vs_real": None if report.psnr_engine is None else round(report.psnr_engine, 2),
        "seconds_paint": round(t1 - t0, 2),
        "seconds_outputs": round(t2 - t1, 2),
        "phases": {k: round(v, 2) for k, v in {**painting.timings, **report.timings}.items()},
        "levels": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in lv.items()} for lv in painting.levels],
    }
    print(json.dumps(out), flush=True)


def baseline(args: argparse.Namespace) -> None:
    """The seed project's setting on one photo, in this process."""
    import torch

    from brushwork import actions as A
    from brushwork.images import fit_to_canvas, load_image, resize
    from brushwork.metrics import psnr, ssim
    from brushwork.models.painter import Painter, load_painter
    from brushwork.painting.canvas import PassGrid, composite_pass, resize_alpha
    from brushwork.painting.config import PaintConfig
    from brushwork.painting.losses import build_loss

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    painter = Painter.from_pretrained(args.painter) if args.painter else load_painter()
    painter = painter.requires_grad_(False).to(memory_format=torch.channels_last)
    target_np = fit_to_canvas(load_image(args.baseline), 64)
    target = torch.from_numpy(target_np).permute(2, 0, 1).contiguous()
    loss_fn = build_loss(args.loss, PaintConfig(loss=args.loss))
    loss_fn.set_target(target)
    h, w = target.shape[-2:]
    n = 50
    theta = torch.logit(torch.rand(n, A.ACTION_DIM).clamp(0.02, 0.98)).requires_grad_(True)
    grid = PassGrid(h, w, max(h, w), 0, 0)  # one window, the whole canvas: each stroke is its own pass
    cell = torch.zeros(1, dtype=torch.long)
    background = torch.ones(3, h, w)  # the seed project started from white
    opt = torch.optim.RMSprop([theta], lr=0.01)

    def render(acts: torch.Tensor) -> torch.Tensor:
        alpha, canvas = resize_alpha(painter.alpha(acts), max(h, w)), background
        for i in range(n):
            canvas = composite_pass(canvas, alpha[i : i + 1], acts[i : i + 1, A.COLOR], cell, grid)
        return canvas

    t0 = time.perf_counter()
    for _ in range(args.baseline_steps):
        canvas = render(torch.sigmoid(theta))
        loss = loss_fn(canvas)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        canvas = render(torch.sigmoid(theta))
    img = canvas.permute(1, 2, 0).numpy()
    # the same painting enlarged to the benchmark's canvas, to compare with the full pipeline's numbers
    full = fit_to_canvas(load_image(args.baseline), args.size)
    up = resize(img, *full.shape[:2])
    print(json.dumps({
        "run": "baseline", "photo": Path(args.baseline).name, "canvas": f"{w}x{h}", "strokes": n,
        "steps": args.baseline_steps, "optimiser": "RMSprop", "threads": args.threads, "seconds": round(seconds, 2),
        "psnr": round(psnr(img, target_np), 2), "ssim": round(ssim(img, target_np), 4),
        f"psnr_enlarged_to_{args.size}": round(psnr(up, full), 2),
        f"ssim_enlarged_to_{args.size}": round(ssim(up, full), 4),
    }), flush=True)  # fmt: skip


def child(cmd: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a command; return it, its wall time and the peak RSS (GB) of the largest child so far."""
    t = time.perf_counter()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # With another job on the cores, 2 OpenMP threads that spin-wait for each other run ~20x slower
    # (measured: painter fwd+bwd 0.49 s with 1 thread, 10.3 s with 2, 0.64 s with 2 + PASSIVE).
    # PASSIVE must be set before torch is imported, hence here, for the child.
    if OMP_WAIT_POLICY:
        env.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # Linux: KiB
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r, wall, peak_gb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=list(PHOTOS))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--strokes", type=int, default=None, help="default: brushwork's default")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--time-budget", type=float, default=None)
    ap.add_argument("--loss", default="pixel")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--painter", default=None, help="painter .safetensors (default: the shipped one)")
    ap.add_argument("--out", default=None, help="keep the outputs here (default: a temporary folder)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--baseline-steps", type=int, default=3000)
    ap.add_argument("--omp-wait-policy", default="PASSIVE", help="for the children, unless set ('' = leave)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    if args.baseline:
        return baseline(args)

    global OMP_WAIT_POLICY
    OMP_WAIT_POLICY = args.omp_wait_policy
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="paint_speed_"))
    common = ["--size", str(args.size), "--threads", str(args.threads), "--loss", args.loss]
    if args.strokes:
        common += ["--strokes", str(args.strokes)]
    if args.painter:
        common += ["--painter", args.painter]
    if args.steps:
        common += ["--steps", str(args.steps)]
    if args.time_budget:
        common += ["--time-budget", str(args.time_budget)]
    for name in args.photos:
        path = SEED / name if not Path(name).is_file() else Path(name)
        out = root / path.stem
        r, wall, peak = child([sys.executable, __file__, "--worker", str(path), "--out", str(out), *common])
        rec = json.loads(r.stdout.strip().splitlines()[-1])
        rec.update(wall_seconds_process=round(wall, 2), peak_rss_gb_max_so_far=round(peak, 2))
        print(json.dumps(rec), flush=True)
    if not args.no_cli:
        path = SEED / args.photos[0] if not Path(args.photos[0]).is_file() else Path(args.photos[0])
        cmd = [sys.executable, "-m", "brushwork.cli", "paint", str(path), "-o", str(root / "cli"), "--quiet", *common]
        r, wall, peak = child(cmd)
        rec = {"run": "cli", "command": "brushwork " + " ".join(cmd[3:]), "wall_seconds": round(wall, 2),
               "peak_rss_gb_max_so_far": round(peak, 2), "summary": r.stdout.strip()}  # fmt: skip
        print(json.dumps(rec), flush=True)
    if not args.no_baseline:
        path = SEED / args.photos[0] if not Path(args.photos[0]).is_file() else Path(args.photos[0])
        extra = ["--painter", args.painter] if args.painter else []
        cmd = [sys.executable, __file__, "--baseline", str(path), "--threads", str(args.threads), "--loss", args.loss,
               "--size", str(args.size),
               "--baseline-steps", str(args.baseline_steps), *extra]  # fmt: skip
        r, _, _ = child(cmd)
        print(r.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
