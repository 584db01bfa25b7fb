"""Stage 1: pre-train the painter with a coverage BCE and the perceptual loss (feature + style + pixel)."""

from __future__ import annotations

import torch

from brushwork.models.painter import Painter, PainterConfig
from brushwork.train import common as C
from brushwork.train.evaluate import stroke_metrics
from brushwork.train.loop import PainterNet, Stage, ddp, train_stage
from brushwork.train.losses import perceptual_loss, reconstruction_loss


def train_generator(run: C.Run, painter: Painter | None = None, resume: bool = False, extractor=None) -> Painter:
    """Stage 1 from scratch (or from `painter`); returns the trained painter in eval mode."""
    cfg = run.config
    C.seed_everything(run.seed)  # before the painter is built: its initial weights come from this seed
    painter = painter or Painter(PainterConfig(channels=cfg.painter_channels))
    if run.wet and not painter.wet:  # a wet brush: the dry painter (new, or --init's) is the coverage half
        from brushwork.models.wet_painter import WetPainter

        painter = WetPainter.from_dry(painter)
    painter = painter.to(memory_format=torch.channels_last).train()
    model = ddp(PainterNet(painter), run)
    opt = torch.optim.Adam(painter.parameters(), lr=cfg.generator_lr, betas=tuple(cfg.generator_betas))
    percep = perceptual_loss(cfg, extractor)

    def step(i: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        outputs = model(batch["actions"], batch.get("canvases"))
        loss, _, _, parts = reconstruction_loss(cfg, percep, outputs, batch, i, cfg.perceptual_every)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **parts}

    def evaluate(held: dict) -> dict[str, float]:
        m = stroke_metrics(painter, held)
        painter.train()  # stroke_metrics left it in eval mode
        return {"psnr": m["psnr"], "alpha_l1": m["alpha_l1"]}

    stage = Stage("generator", cfg.generator_steps, seed_offset=0, step=step, state={"painter": painter, "opt": opt},
                  show=("loss", "alpha_l1"), schedules=[(opt, cfg.generator_lr)], evaluate=evaluate, sample=painter,
                  title="stage 1 generator")  # fmt: skip
    train_stage(run, stage, resume)
    return painter.eval()
