"""The one training loop. A stage (generator.py, discriminator.py, gan.py) builds its models,
optimisers and one `step` function, and hands them to `train_stage` as a `Stage`; the loop does the
rest the same way for all three: learning-rate schedule, batches, metrics rows, held-out evaluation,
sample grids, checkpoints and --resume.

Resume: the stage's state is restored from <run>/<stage>/checkpoint.pt, the batches continue in the
order an uninterrupted run would have seen them (`batches(..., skip=start)`), and the metrics rows
logged after that checkpoint are dropped first (`Run.forget_after`), so none is written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from brushwork.models.painter import Painter
from brushwork.train import common as C
from brushwork.train.evaluate import load_heldout


class PainterNet(torch.nn.Module):
    """The painter's training outputs as one forward(), so DistributedDataParallel can wrap it.

    forward(actions (B, 12), canvases (B, 3, 64, 64) or None) -> (coverage logits (B, 1, 64, 64), the
    colour laid: (B, 3, 1, 1) for a dry painter, (B, 3, 64, 64) for a wet one, which needs canvases).
    """

    def __init__(self, painter: Painter) -> None:
        super().__init__()
        self.painter = painter

    def forward(self, actions: torch.Tensor, canvases: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.painter.alpha_logits(actions), self.painter.laid(actions, canvases)


def ddp(model: torch.nn.Module, run: C.Run) -> torch.nn.Module:
    """`model` wrapped for gradient averaging when the run has several processes, else itself."""
    return torch.nn.parallel.DistributedDataParallel(model) if run.world_size > 1 else model


@dataclass
class Stage:
    """What one stage brings to the loop."""

    name: str  # "generator", "discriminator" or "gan": folder, metrics rows, progress bar
    steps: int  # total optimisation steps
    seed_offset: int  # batch order: each stage its own stream (0, 1, 2)
    step: Callable[[int, dict[str, torch.Tensor]], dict[str, float]]  # (step, batch) -> metrics to log
    state: dict[str, torch.nn.Module | torch.optim.Optimizer]  # what checkpoints hold, by name
    show: tuple[str, ...] = ()  # metrics shown on the progress bar
    # (optimiser, base rate) pairs under warm-up + cosine decay; a stage without them keeps a constant rate
    schedules: list[tuple[torch.optim.Optimizer, float]] = field(default_factory=list)
    evaluate: Callable[[dict], dict[str, float]] | None = None  # held-out strokes -> metrics ("<name>_eval" rows)
    sample: torch.nn.Module | None = None  # the painter whose strokes the sample grids show
    missing_ok: tuple[str, ...] = ()  # state names older checkpoints may lack
    resumed: Callable[[Path], None] | None = None  # called with the checkpoint after a resume restored it
    title: str = ""  # progress bar label


def train_stage(run: C.Run, stage: Stage, resume: bool = False) -> None:
    """Run `stage` from step 0, or from its checkpoint when `resume` and one exists."""
    cfg = run.config
    stage_dir = run.dir / stage.name
    stage_dir.mkdir(parents=True, exist_ok=True)
    ckpt = stage_dir / "checkpoint.pt"
    start = 0
    if resume and ckpt.exists():
        start = C.load_checkpoint(ckpt, missing_ok=stage.missing_ok, **stage.state)
        if stage.resumed is not None:
            stage.resumed(ckpt)

    wants_held = stage.evaluate is not None or stage.sample is not None
    held = load_heldout(run.heldout, cfg.eval_strokes) if run.heldout and wants_held else None
    run.forget_after(stage.name, start)
    data = C.batches(run, seed_offset=stage.seed_offset, skip=start)
    bar = tqdm(range(start, stage.steps), initial=start, total=stage.steps, desc=stage.title or stage.name,
               disable=not (run.progress and run.is_main), smoothing=0.05)  # fmt: skip
    for step in bar:
        for opt, base in stage.schedules:
            C.set_lr(opt, C.lr_at(step, stage.steps, base, cfg.warmup_steps))
        metrics = stage.step(step, next(data))
        if step % cfg.log_every == 0:
            run.log(stage.name, step, **metrics)
            bar.set_postfix({k: f"{metrics[k]:.4f}" for k in stage.show})
        done, last = step + 1, step + 1 == stage.steps
        if run.is_main and held is not None and stage.evaluate is not None and (done % cfg.eval_every == 0 or last):
            run.log(f"{stage.name}_eval", done, **stage.evaluate(held))
        if run.is_main and held is not None and stage.sample is not None and (done % cfg.sample_every == 0 or last):
            C.save_samples(stage_dir / f"samples_{done:06d}.png", stage.sample, held)
        if run.is_main and (done % cfg.checkpoint_every == 0 or last):
            C.save_checkpoint(ckpt, done, **stage.state)
    bar.close()
    C.barrier()
