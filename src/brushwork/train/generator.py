"""Stage 1: pre-train the painter with a coverage BCE and the perceptual loss (feature + style + pixel)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm import tqdm

from brushwork.models.features import PerceptualLoss, PerceptualLossConfig
from brushwork.models.painter import Painter, PainterConfig, compose_on_white
from brushwork.train import common as C
from brushwork.train.evaluate import load_heldout, stroke_metrics


class AlphaNet(torch.nn.Module):
    """painter.alpha_logits as a forward(), so DistributedDataParallel can wrap it."""

    def __init__(self, painter: Painter) -> None:
        super().__init__()
        self.painter = painter

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        return self.painter.alpha_logits(actions)


def perceptual_loss(run: C.Run, extractor=None) -> PerceptualLoss:
    cfg = run.config
    return PerceptualLoss(
        PerceptualLossConfig(
            feature_weight=cfg.feature_weight, style_weight=cfg.style_weight, pixel_weight=cfg.pixel_weight
        ),  # fmt: skip
        extractor=extractor,
    )


def reconstruction_loss(run: C.Run, percep: PerceptualLoss, logits: torch.Tensor, batch: dict, step: int,
                        perceptual_every: int | None = None):  # fmt: skip
    """Coverage BCE on every stroke + perceptual loss on the first few; returns (loss, alpha, parts).

    The perceptual term runs every `perceptual_every` steps (default: the config's stage-1 value).

    BCE on the logits, not L1/MSE on the sigmoid: 90 % of a stroke window is empty, and with a
    loss on the sigmoid the painter collapses to "nothing anywhere" within a few hundred steps,
    where the sigmoid's gradient vanishes (measured: stuck at the blank-canvas PSNR, 17.3 dB).
    """
    cfg = run.config
    valid = batch["alpha_valid"][:, None, None, None].float()
    bce = F.binary_cross_entropy_with_logits(logits, batch["alphas"], reduction="none")
    bce = (bce * valid).sum() / (valid.sum() * logits[0].numel()).clamp(min=1)
    alpha = torch.sigmoid(logits)
    loss = cfg.alpha_weight * bce
    parts = {"alpha_bce": bce.item(), "alpha_l1": torch.abs(alpha - batch["alphas"]).mean().item()}
    if step % (cfg.perceptual_every if perceptual_every is None else perceptual_every) == 0:
        k = cfg.perceptual_strokes
        rgb = compose_on_white(alpha[:k], Painter.color(batch["actions"][:k]))
        p, pp = percep(rgb, batch["strokes"][:k])
        loss = loss + p
        parts.update({f"perceptual_{n}": v.item() for n, v in pp.items()})
    return loss, alpha, parts


def train_generator(run: C.Run, painter: Painter | None = None, resume: bool = False, extractor=None) -> Painter:
    cfg = run.config
    stage_dir = run.dir / "generator"
    stage_dir.mkdir(parents=True, exist_ok=True)
    C.seed_everything(run.seed)
    painter = painter or Painter(PainterConfig(channels=cfg.painter_channels))
    painter = painter.to(memory_format=torch.channels_last).train()
    model = AlphaNet(painter)
    if run.world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(painter.parameters(), lr=cfg.generator_lr, betas=(0.9, 0.99))
    percep = perceptual_loss(run, extractor)
    ckpt = stage_dir / "checkpoint.pt"
    start = C.load_checkpoint(ckpt, painter=painter, opt=opt) if resume and ckpt.exists() else 0

    held = load_heldout(run.heldout, cfg.eval_strokes) if run.heldout else None
    run.forget_after("generator", start)
    data = C.batches(run, skip=start)
    bar = tqdm(range(start, cfg.generator_steps), initial=start, total=cfg.generator_steps,
               desc="stage 1 generator", disable=not (run.progress and run.is_main), smoothing=0.05)  # fmt: skip
    for step in bar:
        C.set_lr(opt, C.lr_at(step, cfg.generator_steps, cfg.generator_lr))
        batch = next(data)
        loss, _, parts = reconstruction_loss(run, percep, model(batch["actions"]), batch, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            run.log("generator", step, loss=loss.item(), **parts)
            bar.set_postfix(loss=f"{loss.item():.4f}", alpha_l1=f"{parts['alpha_l1']:.4f}")
        last = step + 1 == cfg.generator_steps
        if run.is_main and held is not None and ((step + 1) % cfg.eval_every == 0 or last):
            m = stroke_metrics(painter, held)
            run.log("generator_eval", step + 1, psnr=m["psnr"], alpha_l1=m["alpha_l1"])
            painter.train()
        if run.is_main and held is not None and ((step + 1) % cfg.sample_every == 0 or last):
            C.save_samples(stage_dir / f"samples_{step + 1:06d}.png", painter, held)
        if run.is_main and ((step + 1) % cfg.checkpoint_every == 0 or last):
            C.save_checkpoint(ckpt, step + 1, painter=painter, opt=opt)
    bar.close()
    C.barrier()
    return painter.eval()
