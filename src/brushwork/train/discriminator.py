"""Stage 2: pre-train the discriminator (real vs painted strokes) against the frozen stage-1 painter."""

from __future__ import annotations

import torch

from brushwork.models.discriminator import Discriminator, DiscriminatorConfig
from brushwork.models.painter import Painter
from brushwork.train import common as C
from brushwork.train.loop import Stage, ddp, train_stage
from brushwork.train.losses import d_loss, fake_view, lazy_r1_weight, painted, real_view


def train_discriminator(run: C.Run, painter: Painter, resume: bool = False) -> Discriminator:
    """Stage 2 at a constant learning rate; returns the discriminator in eval mode."""
    cfg = run.config
    C.seed_everything(run.seed + 1)  # before D is built: its initial weights come from this seed
    painter.eval().requires_grad_(False)
    disc = Discriminator(DiscriminatorConfig(in_channels=6 if painter.wet else 1)).train()
    model = ddp(disc, run)
    opt = torch.optim.Adam(disc.parameters(), lr=cfg.discriminator_lr, betas=tuple(cfg.discriminator_betas))

    def step(i: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        with torch.no_grad():
            alpha = painter.alpha(batch["actions"])
            fake = fake_view(alpha, painted(alpha, painter.laid(batch["actions"], batch.get("canvases")), batch), batch)
        loss, parts = d_loss(model, real_view(batch), fake, batch["actions"], lazy_r1_weight(cfg, i))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **parts}

    stage = Stage("discriminator", cfg.discriminator_steps, seed_offset=1, step=step,
                  state={"disc": disc, "opt": opt}, show=("loss", "d_acc"), title="stage 2 discriminator")  # fmt: skip
    train_stage(run, stage, resume)
    return disc.eval()
