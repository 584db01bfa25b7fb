"""Every training loss in one place: the painter's reconstruction (coverage BCE + perceptual) and the
discriminator's hinge loss with lazy R1. The stages (generator.py, discriminator.py, gan.py) pick
from here; none imports another stage's file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from brushwork.models.features import PerceptualLoss, PerceptualLossConfig
from brushwork.models.painter import Painter, compose_on_white
from brushwork.train.config import TrainConfig


def perceptual_loss(cfg: TrainConfig, extractor=None) -> PerceptualLoss:
    """The perceptual loss (feature + Gram/style + pixel terms) with the config's weights.

    `extractor`: the feature network (MobileNetV2 or VGG19), built once and shared by the stages.
    """
    return PerceptualLoss(
        PerceptualLossConfig(
            feature_weight=cfg.feature_weight, style_weight=cfg.style_weight, pixel_weight=cfg.pixel_weight
        ),  # fmt: skip
        extractor=extractor,
    )


def reconstruction_loss(cfg: TrainConfig, percep: PerceptualLoss, logits: torch.Tensor, batch: dict, step: int,
                        perceptual_every: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:  # fmt: skip
    """Coverage BCE on every stroke + perceptual loss on the first few; returns (loss, alpha, parts).

    logits: (B, 1, 64, 64) coverage logits; batch: "alphas" (B, 1, 64, 64) in [0, 1], "alpha_valid"
    (B,), "actions" (B, 12) in [0, 1], "strokes" (B, 3, 64, 64) in [0, 1]. The perceptual term runs on
    the first `cfg.perceptual_strokes` strokes every `perceptual_every` steps (its cost).

    BCE on the logits, not L1/MSE on the sigmoid: 90 % of a stroke window is empty, and with a
    loss on the sigmoid the painter collapses to "nothing anywhere" within a few hundred steps,
    where the sigmoid's gradient vanishes (measured: stuck at the blank-canvas PSNR, 17.3 dB).
    """
    valid = batch["alpha_valid"][:, None, None, None].float()  # (B, 1, 1, 1)
    bce = F.binary_cross_entropy_with_logits(logits, batch["alphas"], reduction="none")
    bce = (bce * valid).sum() / (valid.sum() * logits[0].numel()).clamp(min=1)
    alpha = torch.sigmoid(logits)
    loss = cfg.alpha_weight * bce
    parts = {"alpha_bce": bce.item(), "alpha_l1": torch.abs(alpha - batch["alphas"]).mean().item()}
    if step % perceptual_every == 0:
        k = cfg.perceptual_strokes
        rgb = compose_on_white(alpha[:k], Painter.color(batch["actions"][:k]))
        p, pp = percep(rgb, batch["strokes"][:k])
        loss = loss + p
        parts.update({f"perceptual_{n}": v.item() for n, v in pp.items()})
    return loss, alpha, parts


def d_loss(disc: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, actions: torch.Tensor,
           r1_weight: float) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """Hinge loss plus R1 (gradient penalty on real strokes); returns (loss, parts).

    real, fake: (B, 1, 64, 64) coverage in [0, 1]; actions (B, 12). Pass r1_weight=0 to skip the
    penalty on this step (lazy R1: callers apply it every k steps x k, see `lazy_r1_weight`).
    """
    real = real.detach().requires_grad_(r1_weight > 0)
    s_real = disc(real, actions)
    s_fake = disc(fake.detach(), actions)
    loss = F.relu(1 - s_real).mean() + F.relu(1 + s_fake).mean()
    parts = {"d_hinge": loss.item(), "d_acc": ((s_real > 0).float().mean() + (s_fake < 0).float().mean()).item() / 2}
    if r1_weight > 0:
        (grad,) = torch.autograd.grad(s_real.sum(), real, create_graph=True)
        r1 = grad.pow(2).flatten(1).sum(1).mean()
        loss = loss + 0.5 * r1_weight * r1
        parts["r1"] = r1.item()
    return loss, parts


def lazy_r1_weight(cfg: TrainConfig, step: int) -> float:
    """Lazy R1: the penalty on every `r1_every`-th step only, scaled up to keep its average strength."""
    return cfg.r1_weight * cfg.r1_every if step % cfg.r1_every == 0 else 0.0


def adversarial_loss(disc: torch.nn.Module, alpha: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The painter's hinge-GAN term: -D(painted); alpha (B, 1, 64, 64), actions (B, 12)."""
    return -disc(alpha, actions).mean()
