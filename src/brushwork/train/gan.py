"""Stage 3: fine-tune painter and discriminator together: reconstruction + a small adversarial term.

The painter saved is an exponential moving average of the trained weights (as in BigGAN/StyleGAN):
adversarial updates jitter the weights from step to step, and the average is the steadier painter.
"""

from __future__ import annotations

import copy

import torch
from tqdm import tqdm

from brushwork.models.discriminator import Discriminator
from brushwork.models.painter import Painter
from brushwork.train import common as C
from brushwork.train.discriminator import d_loss, lazy_r1_weight
from brushwork.train.evaluate import load_heldout, stroke_metrics
from brushwork.train.generator import AlphaNet, perceptual_loss, reconstruction_loss


def train_gan(run: C.Run, painter: Painter, disc: Discriminator, resume: bool = False,
              extractor=None) -> tuple[Painter, Discriminator]:  # fmt: skip
    cfg = run.config
    stage_dir = run.dir / "gan"
    stage_dir.mkdir(parents=True, exist_ok=True)
    C.seed_everything(run.seed + 2)
    painter = painter.to(memory_format=torch.channels_last).train().requires_grad_(True)
    disc = disc.train()
    ema = copy.deepcopy(painter).eval().requires_grad_(False)
    g_model, d_model = AlphaNet(painter), disc
    if run.world_size > 1:
        g_model = torch.nn.parallel.DistributedDataParallel(g_model)
        d_model = torch.nn.parallel.DistributedDataParallel(disc)
    g_opt = torch.optim.Adam(painter.parameters(), lr=cfg.gan_lr, betas=(0.5, 0.99))
    d_opt = torch.optim.Adam(disc.parameters(), lr=cfg.discriminator_lr, betas=(0.0, 0.99))
    percep = perceptual_loss(run, extractor)
    ckpt = stage_dir / "checkpoint.pt"
    start = 0
    if resume and ckpt.exists():
        start = C.load_checkpoint(ckpt, painter=painter, disc=disc, g_opt=g_opt, d_opt=d_opt)
        ema.load_state_dict(painter.state_dict())  # checkpoints before v0.2 hold no average: start it here
        C.load_checkpoint(ckpt, missing_ok=("ema",), ema=ema)

    held = load_heldout(run.heldout, cfg.eval_strokes) if run.heldout else None
    run.forget_after("gan", start)
    data = C.batches(run, seed_offset=2, skip=start)
    bar = tqdm(range(start, cfg.gan_steps), initial=start, total=cfg.gan_steps, desc="stage 3 GAN",
               disable=not (run.progress and run.is_main), smoothing=0.05)  # fmt: skip
    for step in bar:
        lr = C.lr_at(step, cfg.gan_steps, cfg.gan_lr)
        C.set_lr(g_opt, lr)
        C.set_lr(d_opt, C.lr_at(step, cfg.gan_steps, cfg.discriminator_lr))
        batch = next(data)
        acts = batch["actions"]
        # discriminator step
        with torch.no_grad():
            fake = painter.alpha(acts)
        d_total, d_parts = d_loss(d_model, batch["alphas"], fake, acts, lazy_r1_weight(cfg, step))
        d_opt.zero_grad(set_to_none=True)
        d_total.backward()
        d_opt.step()
        # painter step: reconstruction keeps it faithful, the adversarial term sharpens texture
        disc.requires_grad_(False)
        recon, alpha, parts = reconstruction_loss(run, percep, g_model(acts), batch, step, cfg.gan_perceptual_every)
        adv = -disc(alpha, acts).mean()
        g_total = recon + cfg.adversarial_weight * adv
        g_opt.zero_grad(set_to_none=True)
        g_total.backward()
        g_opt.step()
        disc.requires_grad_(True)
        # EMA with the usual warm-up, so short runs are not stuck near the start: the decay is
        # min(gan_ema, (1 + t) / (10 + t)), i.e. 0.9925 at step 1,200 and 0.997 at step 3,000
        with torch.no_grad():
            decay = min(cfg.gan_ema, (1 + step) / (10 + step))
            for p_ema, p in zip(ema.parameters(), painter.parameters(), strict=True):
                p_ema.lerp_(p, 1.0 - decay)
        if step % 50 == 0:
            run.log("gan", step, g_loss=g_total.item(), adv=adv.item(), **parts, **d_parts)
            bar.set_postfix(g=f"{g_total.item():.4f}", d_acc=f"{d_parts['d_acc']:.2f}")
        last = step + 1 == cfg.gan_steps
        if run.is_main and held is not None and ((step + 1) % cfg.eval_every == 0 or last):
            m = stroke_metrics(ema, held, discriminator=disc)
            run.log("gan_eval", step + 1, psnr=m["psnr"], alpha_l1=m["alpha_l1"], d_acc=m["discriminator_accuracy"])
            painter.train(), disc.train()
        if run.is_main and held is not None and ((step + 1) % cfg.sample_every == 0 or last):
            C.save_samples(stage_dir / f"samples_{step + 1:06d}.png", ema, held)
        if run.is_main and ((step + 1) % cfg.checkpoint_every == 0 or last):
            C.save_checkpoint(ckpt, step + 1, painter=painter, ema=ema, disc=disc, g_opt=g_opt, d_opt=d_opt)
    bar.close()
    C.barrier()
    return ema.eval(), disc.eval()
