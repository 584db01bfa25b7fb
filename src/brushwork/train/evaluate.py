"""Evaluating a painter on held-out strokes against the real engine.

Metrics (printed as JSON by `brushwork eval`):
- psnr: of the whole 64 x 64 RGB-on-white strokes, from the mean squared error over all strokes
  (a per-stroke average would be infinite on empty strokes);
- alpha_l1: mean |alpha_painter - alpha_engine| over the pixels either one covers (> 2 %): the
  white background inflates PSNR, this does not;
- fid: Fréchet distance of pooled 1280-d MobileNetV2 features, engine vs painter strokes;
- discriminator_accuracy: share of real strokes scored > 0 and painted strokes scored < 0.

For a wet (smudging) brush the strokes are windows after the stroke over held-out canvases, and
two baselines are reported beside the PSNR: psnr_canvas_unchanged (predict the canvas as it was) and
psnr_dry_composite (the painter's own coverage laying the brush's colour, as a dry painter would).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from brushwork.data.shards import load_shard, shard_files
from brushwork.errors import BrushworkError
from brushwork.metrics import mse_to_psnr
from brushwork.models.painter import Painter, compose_on_white

COVER = 0.02


def _canvas_tensor(canvases: np.ndarray) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 -> (N, 3, 64, 64) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(canvases)).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def paint_strokes(painter: Painter, actions: np.ndarray, canvases: np.ndarray | None = None,
                  batch: int = 512, dry: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(N, 12) -> painter alphas (N, 64, 64) float32 and strokes (N, 64, 64, 3) float32: on white, or
    over `canvases` (N, 64, 64, 3) uint8 (a wet brush's data). `dry`: lay the action's colour only."""
    alphas, strokes = [], []
    for lo in range(0, len(actions), batch):
        a = torch.from_numpy(np.ascontiguousarray(actions[lo : lo + batch], dtype=np.float32))
        alpha = painter.alpha(a)
        alphas.append(alpha[:, 0].numpy())
        if canvases is None:
            rgb = compose_on_white(alpha, painter.color(a))
        else:
            c = _canvas_tensor(canvases[lo : lo + batch])
            rgb = c * (1 - alpha) + alpha * (painter.color(a) if dry else painter.laid(a, c))
        strokes.append(rgb.permute(0, 2, 3, 1).numpy())
    return np.concatenate(alphas), np.concatenate(strokes)


def stroke_metrics(
    painter: Painter,
    data: dict[str, np.ndarray],
    extractor=None,
    discriminator=None,
) -> dict[str, float]:
    """Metrics of `painter` on held-out `data` (load_shard layout); FID when `extractor` is given."""
    painter.eval()
    real_alpha = data["alphas"].astype(np.float32) / 255.0
    real_rgb = data["strokes"].astype(np.float32) / 255.0
    canvases = data.get("canvases")
    alpha, rgb = paint_strokes(painter, data["actions"], canvases)
    psnr = lambda x: mse_to_psnr(max(float(np.mean((x - real_rgb) ** 2)), 1e-12))  # noqa: E731
    covered = (alpha > COVER) | (real_alpha > COVER)
    out = {
        "strokes": len(alpha),
        "psnr": psnr(rgb),
        "alpha_l1": float(np.abs(alpha - real_alpha)[covered].mean()) if covered.any() else 0.0,
    }
    if canvases is not None:
        out["psnr_canvas_unchanged"] = psnr(canvases.astype(np.float32) / 255.0)
        out["psnr_dry_composite"] = psnr(paint_strokes(painter, data["actions"], canvases, dry=True)[1])
    if extractor is not None:
        from brushwork.models.features import frechet_distance, pooled_features

        to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # noqa: E731
        out["fid"] = frechet_distance(pooled_features(to_t(real_rgb), extractor), pooled_features(to_t(rgb), extractor))
    if discriminator is not None:
        discriminator.eval()
        with torch.no_grad():
            acts = torch.from_numpy(data["actions"])
            to_t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)  # noqa: E731
            if canvases is None:
                real_in, fake_in = torch.from_numpy(real_alpha)[:, None], torch.from_numpy(alpha)[:, None]
            else:
                c = _canvas_tensor(canvases)
                real_in, fake_in = torch.cat([to_t(real_rgb), c], 1), torch.cat([to_t(rgb), c], 1)
            real, fake = discriminator(real_in, acts), discriminator(fake_in, acts)
        out["discriminator_accuracy"] = float(((real > 0).float().mean() + (fake < 0).float().mean()) / 2)
    return {k: round(float(v), 4) if isinstance(v, float | np.floating) else v for k, v in out.items()}


def load_heldout(folder: str | os.PathLike, n: int) -> dict[str, np.ndarray]:
    """The first n strokes of a held-out folder."""
    parts: dict[str, list[np.ndarray]] = {}
    got = 0
    for path in shard_files(folder):
        shard = load_shard(path)
        for k, v in shard.items():
            parts.setdefault(k, []).append(v[: n - got])
        got += min(len(shard["actions"]), n - got)
        if got >= n:
            break
    return {k: np.concatenate(v) for k, v in parts.items()}


def evaluate(
    painter: str | Path, data: str | os.PathLike, strokes: int = 2000, discriminator: str | None = None
) -> dict:
    """`brushwork eval`: load a painter (brush name or file) and report its metrics on held-out data."""
    from brushwork.models.discriminator import Discriminator
    from brushwork.models.features import FID_LAYERS, FeatureExtractor
    from brushwork.models.painter import load_painter

    if strokes < 2:
        raise BrushworkError("--strokes must be at least 2 for a Fréchet distance")
    model = load_painter(painter)
    held = load_heldout(data, strokes)
    disc = Discriminator.from_pretrained(discriminator) if discriminator else None
    extractor = FeatureExtractor.mobilenet_v2(layers=FID_LAYERS)
    return {"painter": str(painter), "data": str(data), **stroke_metrics(model, held, extractor, disc)}
