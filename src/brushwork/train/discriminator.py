"""Stage 2: pre-train the discriminator (real vs painted strokes) against the frozen stage-1 painter."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm import tqdm

from brushwork.models.discriminator import Discriminator, DiscriminatorConfig
from brushwork.models.painter import Painter
from brushwork.train import common as C


def d_loss(disc: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, actions: torch.Tensor,
           r1_weight: float) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """Hinge loss plus R1 (gradient penalty on real strokes); returns (loss, parts).

    Pass r1_weight=0 to skip the penalty on this step (lazy R1: callers apply it every k steps x k).
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


def lazy_r1_weight(cfg, step: int) -> float:
    """Lazy R1: the penalty on every `r1_every`-th step only, scaled up to keep its average strength."""
    return cfg.r1_weight * cfg.r1_every if step % cfg.r1_every == 0 else 0.0


def train_discriminator(run: C.Run, painter: Painter, resume: bool = False) -> Discriminator:
    cfg = run.config
    stage_dir = run.dir / "discriminator"
    stage_dir.mkdir(parents=True, exist_ok=True)
    C.seed_everything(run.seed + 1)
    painter.eval().requires_grad_(False)
    disc = Discriminator(DiscriminatorConfig()).train()
    model = torch.nn.parallel.DistributedDataParallel(disc) if run.world_size > 1 else disc
    opt = torch.optim.Adam(disc.parameters(), lr=cfg.discriminator_lr, betas=(0.0, 0.99))
    ckpt = stage_dir / "checkpoint.pt"
    start = C.load_checkpoint(ckpt, disc=disc, opt=opt) if resume and ckpt.exists() else 0
    run.forget_after("discriminator", start)
    data = C.batches(run, seed_offset=1, skip=start)
    bar = tqdm(range(start, cfg.discriminator_steps), initial=start, total=cfg.discriminator_steps,
               desc="stage 2 discriminator", disable=not (run.progress and run.is_main), smoothing=0.05)  # fmt: skip
    for step in bar:
        batch = next(data)
        with torch.no_grad():
            fake = painter.alpha(batch["actions"])
        loss, parts = d_loss(model, batch["alphas"], fake, batch["actions"], lazy_r1_weight(cfg, step))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0:
            run.log("discriminator", step, loss=loss.item(), **parts)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{parts['d_acc']:.2f}")
        if run.is_main and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.discriminator_steps):
            C.save_checkpoint(ckpt, step + 1, disc=disc, opt=opt)
    bar.close()
    C.barrier()
    return disc.eval()
