"""Training configuration: one typed dataclass, presets as data, `--set key=value` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields

from brushwork.errors import BrushworkError


@dataclass
class TrainConfig:
    # data
    train_strokes: int = 60_000  # strokes generated for `train all` when --data is not given
    heldout_strokes: int = 5_000  # held-out strokes (another seed), never trained on
    batch_size: int = 64  # CPU sweet spot: larger batches do not train faster per second here
    # painter (stage 1)
    # +1 sketch channel makes the conv inputs 64, 32, 8, 4: oneDNN's fast paths want such counts
    # (README, "Painter speed vs fidelity")
    painter_channels: tuple[int, ...] = (128, 63, 31, 7, 3)
    generator_steps: int = 12_000
    generator_lr: float = 1e-3
    generator_betas: tuple[float, ...] = (0.9, 0.99)  # Adam; beta2 0.99 (not 0.999) follows the fast cosine schedule
    alpha_weight: float = 10.0  # coverage BCE (~0.1): white background makes RGB losses lenient
    perceptual_every: int = 4  # add the perceptual loss every k steps: it costs twice a pixel-only step
    perceptual_strokes: int = 16  # strokes of each batch that the perceptual loss sees (cost)
    feature_weight: float = 1.0
    style_weight: float = 1e3
    pixel_weight: float = 1.0
    laid_weight: float = 10.0  # wet brushes: L1 of the window after the stroke, every stroke (trains the colour laid)
    # discriminator (stage 2)
    discriminator_steps: int = 1_500
    discriminator_lr: float = 2e-4
    # Adam without momentum for D (as StyleGAN2): its target moves with the painter; stage 3 uses it too
    discriminator_betas: tuple[float, ...] = (0.0, 0.99)
    r1_weight: float = 1.0  # R1 gradient penalty on real strokes: keeps D smooth and the GAN stable
    r1_every: int = 4  # lazy R1 (StyleGAN2): the double backward on every 4th D step, weighted x4
    # GAN (stage 3)
    gan_steps: int = 3_000
    gan_lr: float = 2e-4  # warm-up then cosine decay, like stage 1
    gan_betas: tuple[float, ...] = (0.5, 0.99)  # the painter's Adam in stage 3: less momentum, as usual in GANs
    adversarial_weight: float = 0.05  # small next to the reconstruction terms: sharpen, not drift
    gan_perceptual_every: int = 1  # stage 3 applies the perceptual loss every step: it is what lowers the FID
    gan_ema: float = 0.999  # the GAN painter saved is an EMA of its weights (decay warmed up, see gan.py)
    # schedule and bookkeeping
    warmup_steps: int = 200  # linear learning-rate warm-up of stages 1 and 3 (then cosine decay to 5 %)
    log_every: int = 50  # a metrics.jsonl row every k steps: small files, curves still smooth
    eval_every: int = 1_000
    sample_every: int = 2_000
    checkpoint_every: int = 500
    eval_strokes: int = 1_000  # held-out strokes for the periodic PSNR (full eval uses 2,000+)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, dict] = {
    "default": {},
    # the shipped secondary brushes and CI-sized runs: same model, fewer steps
    "quick": {
        "train_strokes": 30_000,
        "generator_steps": 4_000,
        "discriminator_steps": 600,
        "gan_steps": 1_200,
        "eval_every": 1_000,
        "sample_every": 2_000,
    },
    # `train all --init PAINTER`: adapt a trained painter to another brush. Its weights already know
    # strokes, so a third of the data and a third of the stage-1 steps suffice (README, "A new brush
    # in minutes"); the rates are the from-scratch ones, the warm-up shorter. Stage 3 is short: a step
    # costs 5x a stage-1 step, and it trades a little PSNR for FID (dry brush from charcoal, 3000
    # stage-1 steps: 27.58 dB after stage 1, 27.49 after 150 GAN steps, FID 22.6 -> 20.4).
    "finetune": {
        "train_strokes": 20_000,
        "generator_steps": 4_000,
        "discriminator_steps": 200,
        "gan_steps": 100,
        "warmup_steps": 50,
        "eval_every": 500,
        "sample_every": 500,
        "checkpoint_every": 250,
    },
    # a few steps of every stage, for tests
    "smoke": {
        "train_strokes": 512,
        "heldout_strokes": 256,
        "batch_size": 16,
        "generator_steps": 6,
        "discriminator_steps": 4,
        "gan_steps": 4,
        "perceptual_strokes": 4,
        "eval_every": 3,
        "sample_every": 4,
        "checkpoint_every": 2,
        "eval_strokes": 64,
    },
}


def _parse(value: str, current):
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        raise ValueError(value)
    if isinstance(current, tuple):  # elements of the default's type: channels are ints, betas floats
        kind = type(current[0]) if current else int
        return tuple(kind(v) for v in value.strip("()").split(",") if v.strip())
    return type(current)(value)


def make_config(preset: str = "default", overrides: list[str] | None = None) -> TrainConfig:
    """A preset plus `key=value` overrides, type-checked against the dataclass."""
    if preset not in PRESETS:
        raise BrushworkError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = TrainConfig(**PRESETS[preset])
    names = {f.name for f in fields(TrainConfig)}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in names:
            raise BrushworkError(f"--set {item!r}: unknown config key {key!r}; keys: {', '.join(sorted(names))}")
        try:
            cfg = cfg.replace(**{key: _parse(value, getattr(cfg, key))})
        except ValueError:
            raise BrushworkError(
                f"--set {item!r}: {value!r} is not a valid {type(getattr(cfg, key)).__name__}"
            ) from None
    check_config(cfg)
    return cfg


MAX_COUNT = 100_000_000  # steps, strokes, cadences: beyond this a run would not end


def check_config(cfg: TrainConfig) -> None:
    """Every field in range, before any work (a bad batch size must not surface after data generation).

    Counts, steps, batch sizes and cadences are integers >= 1; weights are finite and >= 0; learning
    rates finite and > 0; the EMA decay in [0, 1); channels positive.
    """
    import math

    for f in fields(TrainConfig):
        v = getattr(cfg, f.name)
        if isinstance(v, bool):
            continue
        if isinstance(v, int) and v < 1 and not f.name.endswith("_weight"):
            raise BrushworkError(f"{f.name} must be at least 1, got {v}")
        if isinstance(v, int | float) and not math.isfinite(v):
            raise BrushworkError(f"{f.name} must be a finite number, got {v}")
        if isinstance(v, float) and (v <= 0 if f.name.endswith("_lr") else v < 0):
            raise BrushworkError(f"{f.name} must be {'> 0' if f.name.endswith('_lr') else '>= 0'}, got {v}")
    if not 0 <= cfg.gan_ema < 1:
        raise BrushworkError(f"gan_ema must be in [0, 1), got {cfg.gan_ema}")
    for name in ("generator_betas", "discriminator_betas", "gan_betas"):
        betas = getattr(cfg, name)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise BrushworkError(f"{name} must be two numbers in [0, 1), got {betas}")
    if not cfg.painter_channels or any(c < 1 for c in cfg.painter_channels):
        raise BrushworkError(f"painter_channels must be positive, got {cfg.painter_channels}")
    # upper bounds, so that a typo of a few zeros fails here, not in the allocator or after days
    for name, limit in {"batch_size": 4096, "painter_channels": 1024}.items():
        values = getattr(cfg, name)
        if any(v > limit for v in (values if isinstance(values, tuple) else (values,))):
            raise BrushworkError(f"{name} must be at most {limit}, got {values}")
    for f in fields(TrainConfig):
        v = getattr(cfg, f.name)
        if isinstance(v, int) and not isinstance(v, bool) and v > MAX_COUNT:
            raise BrushworkError(f"{f.name} must be at most {MAX_COUNT:,}, got {v}")
    if cfg.eval_strokes > cfg.heldout_strokes:
        raise BrushworkError(f"eval_strokes ({cfg.eval_strokes}) cannot exceed heldout_strokes ({cfg.heldout_strokes})")


__all__ = ["TrainConfig", "PRESETS", "check_config", "make_config", "field"]
