"""Every training loss in one place: the painter's reconstruction (coverage BCE + perceptual) and the
discriminator's hinge loss with lazy R1. The stages (generator.py, discriminator.py, gan.py) pick
from here; none imports another stage's file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from brushwork.models.features import PerceptualLoss, PerceptualLossConfig
from brushwork.models.painter import coverage
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


def painted(alpha: torch.Tensor, laid: torch.Tensor, batch: dict) -> torch.Tensor:
    """What the batch's `strokes` hold, as the painter paints it: (B, 3, 64, 64).

    The stroke on white for a dry brush's batch; for a wet brush's (which has "canvases") the window
    after the stroke: canvas * (1 - alpha) + alpha * laid.
    """
    canvas = batch.get("canvases")
    return (1.0 - alpha if canvas is None else canvas * (1.0 - alpha)) + alpha * laid


def reconstruction_loss(cfg: TrainConfig, percep: PerceptualLoss, outputs: tuple[torch.Tensor, torch.Tensor],
                        batch: dict, step: int, perceptual_every: int
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, float]]:  # fmt: skip
    """Coverage BCE on every stroke + perceptual loss on the first few; returns (loss, alpha, painted, parts).

    outputs: (coverage logits (B, 1, 64, 64), colour laid) from `loop.PainterNet`; batch: "alphas"
    (B, 1, 64, 64) in [0, 1], "alpha_valid" (B,), "actions" (B, 12) in [0, 1], "strokes" (B, 3, 64, 64)
    in [0, 1], and "canvases" for a wet brush, whose painted window also gets an L1 on every stroke
    (`laid_weight`: the BCE trains only the coverage). The perceptual term runs on the first
    `cfg.perceptual_strokes` strokes every `perceptual_every` steps (its cost).

    BCE on the logits, not L1/MSE on the sigmoid: 90 % of a stroke window is empty, and with a
    loss on the sigmoid the painter collapses to "nothing anywhere" within a few hundred steps,
    where the sigmoid's gradient vanishes (measured: stuck at the blank-canvas PSNR, 17.3 dB).
    """
    logits, laid = outputs
    valid = batch["alpha_valid"][:, None, None, None].float()  # (B, 1, 1, 1)
    bce = F.binary_cross_entropy_with_logits(logits, batch["alphas"], reduction="none")
    bce = (bce * valid).sum() / (valid.sum() * logits[0].numel()).clamp(min=1)
    alpha = coverage(logits)  # the painter's own coverage (floored: no denormal floats)
    loss = cfg.alpha_weight * bce
    parts = {"alpha_bce": bce.item(), "alpha_l1": torch.abs(alpha - batch["alphas"]).mean().item()}
    rgb = painted(alpha, laid, batch)
    if "canvases" in batch:
        l1 = torch.abs(rgb - batch["strokes"]).mean()
        loss = loss + cfg.laid_weight * l1
        parts["painted_l1"] = l1.item()
    if step % perceptual_every == 0:
        k = cfg.perceptual_strokes
        p, pp = percep(rgb[:k], batch["strokes"][:k])
        loss = loss + p
        parts.update({f"perceptual_{n}": v.item() for n, v in pp.items()})
    return loss, alpha, rgb, parts


def real_view(batch: dict) -> torch.Tensor:
    """What the discriminator judges of the real strokes: coverage (B, 1, 64, 64) for a dry brush; for
    a wet one the window after the stroke beside the canvas before it (B, 6, 64, 64)."""
    if "canvases" in batch:
        return torch.cat([batch["strokes"], batch["canvases"]], 1)
    return batch["alphas"]


def fake_view(alpha: torch.Tensor, rgb: torch.Tensor, batch: dict) -> torch.Tensor:
    """`real_view` of the painter's strokes: alpha (B, 1, 64, 64), rgb its painted window (`painted`)."""
    return torch.cat([rgb, batch["canvases"]], 1) if "canvases" in batch else alpha


def d_loss(disc: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, actions: torch.Tensor,
           r1_weight: float) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """Hinge loss plus R1 (gradient penalty on real strokes); returns (loss, parts).

    real, fake: what the discriminator sees (`real_view`, `fake_view`) in [0, 1]; actions (B, 12). Pass
    r1_weight=0 to skip the penalty on this step (lazy R1: callers apply it every k steps x k, see `lazy_r1_weight`).
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


def adversarial_loss(disc: torch.nn.Module, fake: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The painter's hinge-GAN term: -D(painted); fake from `fake_view`, actions (B, 12)."""
    return -disc(fake, actions).mean()
