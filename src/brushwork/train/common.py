"""What every training stage shares: the run folder, distributed set-up, batches, logs, plots, checkpoints."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image

from brushwork.data.dataset import StrokeShards
from brushwork.errors import BrushworkError
from brushwork.io import atomic_path, write_text_atomic
from brushwork.train.config import TrainConfig


@dataclass
class Run:
    """One training run: its folder, config and place in a distributed job."""

    dir: Path
    config: TrainConfig
    brush: str
    data: Path
    heldout: Path | None
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    progress: bool = True
    init: dict | None = None  # where a fine-tune started (--init): painter, its brush, sha256
    wet: bool = False  # a smudging brush: the painter sees the canvas (models/wet_painter.py)
    started: float = field(default_factory=time.time)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def log(self, stage: str, step: int, **metrics: float) -> None:
        """Append one line to metrics.jsonl (main process only)."""
        if not self.is_main:
            return
        row = {"stage": stage, "step": step, "time": round(time.time() - self.started, 2)}
        row.update({k: round(float(v), 6) for k, v in metrics.items()})
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def forget_after(self, stage: str, step: int) -> None:
        """Drop this stage's metrics rows past `step` (logged after the checkpoint a resumed run
        starts from), so that a resumed run does not write them twice."""
        path = self.dir / "metrics.jsonl"
        if not self.is_main or not path.exists():
            return
        keep = []
        for line in path.read_text().splitlines():
            row = json.loads(line) if line.strip() else None
            name, at = str(row.get("stage", "")) if row else "", row.get("step", 0) if row else 0
            # rows at the checkpoint's step: an eval row (logged as step + 1) is the checkpoint's own
            later = at > step or (at == step and not name.endswith("_eval"))
            if row and not (name.split("_")[0] == stage and later):
                keep.append(line)
        write_text_atomic(path, "".join(f"{line}\n" for line in keep))

    def save_config(self, command: str) -> list[str]:
        """Write config.json; returns every command run in this folder so far, this one last."""
        path = self.dir / "config.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        commands = old.get("commands") or ([old["command"]] if "command" in old else [])  # "command": before v0.2
        commands.append(command)
        if self.is_main:
            cfg = {"brush": self.brush, "data": str(self.data), "heldout": str(self.heldout), "seed": self.seed,
                   "world_size": self.world_size, "commands": commands, "config": asdict(self.config),
                   **({"init": self.init} if self.init else {})}  # fmt: skip
            path.write_text(json.dumps(cfg, indent=2) + "\n")
        return commands


def setup_distributed() -> tuple[int, int]:
    """(rank, world_size); initialises torch.distributed when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def batches(run: Run, seed_offset: int = 0, skip: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Endless training batches; each rank reads its own shards, reshuffled every epoch.

    `skip` batches are passed over first: a resumed stage sees the batches it would have seen had it
    not been interrupted (the order depends only on seed, epoch and rank).
    """
    ds = StrokeShards(run.data, batch_size=run.config.batch_size, seed=run.seed + seed_offset,
                      rank=run.rank, world_size=run.world_size)  # fmt: skip
    epoch = 0
    while True:
        ds.set_epoch(epoch)
        got = 0
        for batch in ds:
            got += 1
            if skip:
                skip -= 1
                continue
            yield batch
        if not got:  # each shard's last incomplete batch is dropped: with shards smaller than a batch, none is left
            raise BrushworkError(f"batch_size {run.config.batch_size} is larger than every shard of this rank in "
                                 f"{run.data}: lower it (--set batch_size=N) or generate larger shards")  # fmt: skip
        epoch += 1


def lr_at(step: int, total: int, base: float, warmup: int = 200) -> float:
    """Linear warm-up over `warmup` steps (TrainConfig.warmup_steps) then cosine decay to 5 % of the base rate."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def save_checkpoint(path: Path, step: int, **state) -> None:
    """Model and optimiser state for --resume (written atomically)."""
    with atomic_path(path) as tmp:
        torch.save({"step": step, **{k: v.state_dict() for k, v in state.items()}}, tmp)


def load_checkpoint(path: Path, missing_ok: tuple[str, ...] = (), **state) -> int:
    """Restore state saved by save_checkpoint; returns the step to continue from.

    Names in `missing_ok` may be absent from the file (state added by a later version); they are
    left as they are.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        for k, v in state.items():
            if k in ckpt or k not in missing_ok:
                v.load_state_dict(ckpt[k])
        return int(ckpt["step"])
    except (RuntimeError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as e:
        why = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise BrushworkError(f"{path}: cannot resume from this checkpoint ({why}); remove it to start the "
                             "stage afresh") from None  # fmt: skip


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 of a state dict (names and values, in name order): equal digests mean equal weights.

    Each rank of a distributed run prints it after a stage, so that ranks that drifted apart show
    up (the file saved is rank 0's alone). `load_file(painter.safetensors)` gives the same digest.
    """
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


# ----------------------------------------------------------------------------- pictures


def plot_curves(run: Run, out: Path | None = None) -> Path | None:
    """loss_curves.png from metrics.jsonl: one panel per stage, steps on x, every logged metric a line.

    Training metrics share the left axis, on a log scale when they span more than two decades (the
    perceptual style term starts orders of magnitude above where it ends), with the held-out L1 and
    discriminator accuracy (`<stage>_eval` rows, dashed with markers); the held-out PSNR in dB has
    its own axis on the right.
    matplotlib is imported here only: plotting is the one place training needs it.
    """
    if not run.is_main or not (run.dir / "metrics.jsonl").exists():
        return None
    rows = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    # {stage: {"train" | "eval": {metric: [(step, value), ...]}}}, stages in the order they were logged
    series: dict[str, dict[str, dict[str, list[tuple[int, float]]]]] = {}
    for r in rows:
        stage, _, kind = str(r["stage"]).partition("_")
        for k, v in r.items():
            if k not in ("stage", "step", "time"):
                by_kind = series.setdefault(stage, {"train": {}, "eval": {}})
                by_kind["eval" if kind == "eval" else "train"].setdefault(k, []).append((r["step"], v))
    if not series:
        return None

    import matplotlib

    matplotlib.use("Agg")  # no display: the file is the output
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4.2), squeeze=False)
    for ax, (stage, by_kind) in zip(axes[0], series.items(), strict=True):
        # held-out PSNR (dB) gets its own axis; the other held-out metrics (L1, accuracy) share the left one
        evals = {f"held-out {k}": v for k, v in by_kind["eval"].items() if k != "psnr"}
        values = [v for pts in [*by_kind["train"].values(), *evals.values()] for _, v in pts]
        for i, (name, pts) in enumerate([*sorted(by_kind["train"].items()), *sorted(evals.items())]):
            held_out = name.startswith("held-out")
            # the cycle has 10 colours and stage 3 logs more series: line styles tell the rest apart
            style = "--" if held_out else ("-", "--", ":")[i // 10]
            marker = "o" if held_out or len(pts) < 3 else None  # a single row would otherwise not show
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=name, linewidth=1.2, markersize=3,
                    marker=marker)  # fmt: skip
        positive = [v for v in values if v > 0]
        if positive and max(positive) / min(positive) > 100:
            if len(positive) == len(values):
                ax.set_yscale("log")
            else:  # symlog keeps zero or negative terms (the adversarial term) visible next to the decades
                ax.set_yscale("symlog", linthresh=min(positive))
        ax.set_title(f"stage: {stage}")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss / metric")
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if "psnr" in by_kind["eval"]:
            ax2 = ax.twinx()
            pts = by_kind["eval"]["psnr"]
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], "s-", color="black", label="held-out PSNR (dB)",
                     markersize=3, linewidth=1.5)  # fmt: skip
            ax2.set_ylabel("held-out PSNR (dB)")
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, fontsize=7, loc="best")
    fig.tight_layout()
    out = out or run.dir / "loss_curves.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out


def save_samples(path: Path, painter: torch.nn.Module, held: dict[str, np.ndarray], count: int = 64) -> None:
    """A grid of the first `count` held-out strokes: engine rows above the painter's rows.

    Leaves the painter in the train/eval mode it was in.
    """
    from brushwork.data.preview import stroke_grid
    from brushwork.train.evaluate import paint_strokes

    was_training = painter.training
    canvases = held["canvases"][:count] if "canvases" in held else None
    _, rgb = paint_strokes(painter, held["actions"][:count], canvases)  # switches the painter to eval
    painter.train(was_training)
    engine_strokes, painted = held["strokes"][:count], (rgb * 255).round().astype(np.uint8)
    columns = 16
    n = len(engine_strokes) - len(engine_strokes) % columns
    pairs = []
    for lo in range(0, n, columns):  # a wet brush's rows start with the canvas the strokes were painted over
        pairs += [] if canvases is None else [canvases[lo : lo + columns]]
        pairs += [engine_strokes[lo : lo + columns], painted[lo : lo + columns]]
    grid = stroke_grid(np.concatenate(pairs), columns=columns)
    Image.fromarray(grid).save(path)
