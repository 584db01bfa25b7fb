"""Stage 3: fine-tune painter and discriminator together: reconstruction + a small adversarial term.

The painter saved is an exponential moving average of the trained weights (as in BigGAN/StyleGAN):
adversarial updates jitter the weights from step to step, and the average is the steadier painter.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from brushwork.models.discriminator import Discriminator
from brushwork.models.painter import Painter
from brushwork.train import common as C
from brushwork.train.evaluate import stroke_metrics
from brushwork.train.loop import PainterNet, Stage, ddp, train_stage
from brushwork.train.losses import (
    adversarial_loss,
    d_loss,
    fake_view,
    lazy_r1_weight,
    painted,
    perceptual_loss,
    real_view,
    reconstruction_loss,
)


def train_gan(run: C.Run, painter: Painter, disc: Discriminator, resume: bool = False,
              extractor=None) -> tuple[Painter, Discriminator]:  # fmt: skip
    """Stage 3; returns (the painter's moving average, the discriminator), both in eval mode."""
    cfg = run.config
    C.seed_everything(run.seed + 2)
    painter = painter.to(memory_format=torch.channels_last).train().requires_grad_(True)
    disc = disc.train()
    ema = copy.deepcopy(painter).eval().requires_grad_(False)
    g_model, d_model = ddp(PainterNet(painter), run), ddp(disc, run)
    g_opt = torch.optim.Adam(painter.parameters(), lr=cfg.gan_lr, betas=tuple(cfg.gan_betas))
    d_opt = torch.optim.Adam(disc.parameters(), lr=cfg.discriminator_lr, betas=tuple(cfg.discriminator_betas))
    percep = perceptual_loss(cfg, extractor)

    def step(i: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        acts, canvases = batch["actions"], batch.get("canvases")
        # discriminator step
        with torch.no_grad():
            alpha = painter.alpha(acts)
            fake = fake_view(alpha, painted(alpha, painter.laid(acts, canvases), batch), batch)
        d_total, d_parts = d_loss(d_model, real_view(batch), fake, acts, lazy_r1_weight(cfg, i))
        d_opt.zero_grad(set_to_none=True)
        d_total.backward()
        d_opt.step()
        # painter step: reconstruction keeps it faithful, the adversarial term sharpens texture
        disc.requires_grad_(False)
        recon, alpha, rgb, parts = reconstruction_loss(cfg, percep, g_model(acts, canvases), batch, i,
                                                       cfg.gan_perceptual_every)  # fmt: skip
        adv = adversarial_loss(disc, fake_view(alpha, rgb, batch), acts)
        g_total = recon + cfg.adversarial_weight * adv
        g_opt.zero_grad(set_to_none=True)
        g_total.backward()
        g_opt.step()
        disc.requires_grad_(True)
        # EMA with the usual warm-up, so short runs are not stuck near the start: the decay is
        # min(gan_ema, (1 + t) / (10 + t)), i.e. 0.9925 at step 1,200 and 0.997 at step 3,000
        with torch.no_grad():
            decay = min(cfg.gan_ema, (1 + i) / (10 + i))
            for p_ema, p in zip(ema.parameters(), painter.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - decay)
        return {"g_loss": g_total.item(), "adv": adv.item(), **parts, **d_parts}

    def evaluate(held: dict) -> dict[str, float]:
        m = stroke_metrics(ema, held, discriminator=disc)
        painter.train(), disc.train()
        return {"psnr": m["psnr"], "alpha_l1": m["alpha_l1"], "d_acc": m["discriminator_accuracy"]}

    def resumed(ckpt: Path) -> None:
        ema.load_state_dict(painter.state_dict())  # checkpoints before v0.2 hold no average: start it here
        C.load_checkpoint(ckpt, missing_ok=("ema",), ema=ema)

    state = {"painter": painter, "ema": ema, "disc": disc, "g_opt": g_opt, "d_opt": d_opt}
    stage = Stage("gan", cfg.gan_steps, seed_offset=2, step=step, state=state, show=("g_loss", "d_acc"),
                  schedules=[(g_opt, cfg.gan_lr), (d_opt, cfg.discriminator_lr)], evaluate=evaluate, sample=ema,
                  missing_ok=("ema",), resumed=resumed, title="stage 3 GAN")  # fmt: skip
    train_stage(run, stage, resume)
    return ema.eval(), disc.eval()
