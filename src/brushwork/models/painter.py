"""The neural painter: a stroke action (N, 12) -> the stroke the MyPaint brush would paint.

libmypaint paints a stroke in one colour, so the network predicts only coverage (alpha) and
takes the colour from the action; the stroke on white is 1 - alpha + alpha * colour, exactly
how the data set stores it, and painting composites canvas * (1 - alpha) + alpha * colour.

Speed is the design constraint: painting runs this network forward and backward (to the
actions, weights frozen) on thousands of strokes per step. An MLP lifts the action to a 4 x 4
feature map, then each stage doubles the resolution with a 3 x 3 conv + PixelShuffle (cheaper
than ConvTranspose, whose backward is slow on CPU), with channels shrinking as resolution grows
so that the 64 x 64 stages stay thin. `benchmarks/painter_speed.py` measures the variants.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from brushwork import actions as A
from brushwork.devices import resolve_device
from brushwork.errors import BrushworkError
from brushwork.io import atomic_path
from brushwork.models.registry import LEGACY_ARCHITECTURE, architecture_class, register_architecture


@dataclass
class PainterConfig:
    action_dim: int = A.ACTION_DIM
    hidden: int = 256  # MLP width: the action -> shape map is smooth, a small MLP suffices
    # feature maps at 4, 8, 16, 32, 64 px; with the sketch channel the convolutions see 64, 32, 8, 4,
    # counts oneDNN handles fastest (benchmarks/painter_speed.py)
    channels: tuple[int, ...] = (128, 63, 31, 7, 3)
    out_size: int = 64  # the data set's stroke size
    geometry_prior: bool = True  # feed an analytic sketch of the curve to every stage (see `curve_sketch`)
    prior_points: int = 32  # points on the curve for the sketch: dense enough that thin strokes are not dotted

    def __post_init__(self) -> None:
        # every field's range is checked on load: a painter file is input like any other, and a
        # hostile one (prior_points 100000, channels of a million) must fail here, not in the allocator
        self.channels = tuple(self.channels)
        checks = {
            "action_dim": self.action_dim == A.ACTION_DIM,
            "hidden": isinstance(self.hidden, int) and 1 <= self.hidden <= 4096,
            "channels": 1 <= len(self.channels) <= 7
            and all(isinstance(c, int) and 1 <= c <= 1024 for c in self.channels),
            "out_size": isinstance(self.out_size, int) and 4 <= self.out_size <= 256,
            "prior_points": isinstance(self.prior_points, int) and 1 <= self.prior_points <= 256,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"painter config {bad[0]}={getattr(self, bad[0])!r} is out of range")
        if 4 * 2 ** (len(self.channels) - 1) != self.out_size:
            raise ValueError(f"channels {self.channels} do not reach out_size {self.out_size} from 4 px")


class UpBlock(nn.Module):
    """(N, c_in, H, W) -> (N, c_out, 2H, 2W): conv to 4*c_out channels, then PixelShuffle(2)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 4 * c_out, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


def curve_sketch(actions: torch.Tensor, size: int, points: int = 32) -> torch.Tensor:
    """A soft drawing of the stroke's curve from its action alone, (N, 12) -> (N, 1, size, size).

    Why: mapping 12 numbers to *where* the stroke lies is what a small network learns slowest.
    The geometry is known (the Bezier through the control point, `brushwork.engine.stroke`), so
    we draw it: Gaussian blobs of the brush's base radius at `points` curve points, weighted by the
    pressure profile, summed and squashed. The network then learns only the brush's look (width
    from pressure and speed, texture, ends). Gaussians are separable, so the sum is one batched
    matmul (N, size, K) @ (N, K, size): cheap, and differentiable in every action field.
    """
    a = actions
    t = (torch.arange(points, device=a.device, dtype=a.dtype) + 0.5) / points  # (K,)
    s, e = a[:, [A.START_X, A.START_Y]], a[:, [A.END_X, A.END_Y]]  # (N, 2)
    q = 2 * a[:, [A.CONTROL_X, A.CONTROL_Y]] - 0.5 * (s + e)  # Bezier control through the control point
    t_ = t[None, :, None]
    pts = (1 - t_) ** 2 * s[:, None] + 2 * (1 - t_) * t_ * q[:, None] + t_**2 * e[:, None]  # (N, K, 2)
    # pressure: entry -> mean over the first quarter, held, -> end over the last quarter
    p_in, p_out = a[:, A.ENTRY_PRESSURE, None], a[:, A.PRESSURE, None]  # (N, 1)
    p_mid = 0.5 * (p_in + p_out)
    head, tail = (t / 0.25).clamp(max=1)[None], ((t - 0.75) / 0.25).clamp(min=0)[None]  # (1, K)
    pressure = torch.where(t[None] < 0.25, p_in + (p_mid - p_in) * head, p_mid + (p_out - p_mid) * tail)  # (N, K)
    radius = torch.exp(a[:, A.SIZE, None] * A.SIZE_SCALE) / A.REFERENCE_SIZE  # (N, 1) window fraction
    sigma = torch.clamp(radius, min=0.6 / size)  # at least ~one pixel at this resolution
    grid = (torch.arange(size, device=a.device, dtype=a.dtype) + 0.5) / size  # (S,)
    # exponents clamped at 30: far-away Gaussian tails otherwise underflow into denormal floats,
    # which made this 20x slower on x86 CPUs (measured); e^-30 is zero for our purposes
    gx = torch.exp(-(0.5 * ((grid[None, None] - pts[..., 0:1]) / sigma[..., None]) ** 2).clamp(max=30.0))  # (N, K, S)
    gy = torch.exp(-(0.5 * ((grid[None, None] - pts[..., 1:2]) / sigma[..., None]) ** 2).clamp(max=30.0))  # (N, K, S)
    density = torch.bmm((gy * pressure[..., None]).transpose(1, 2), gx)  # (N, S_y, S_x)
    return torch.tanh(density).unsqueeze(1)  # ~1 inside thick strokes, ~pressure along thin ones


def split_sketch(sketch: torch.Tensor | None, size: int, chunks: int) -> list[torch.Tensor | None]:
    """A sketch (N, 1, 64, 64) split as its actions are (`actions.split(size)`, `chunks` of them), or
    `chunks` Nones when none was drawn (each chunk then draws its own)."""
    return [None] * chunks if sketch is None else list(sketch.split(size))


# Coverage logits are floored here before the sigmoid: the wet painters' logits reach -160 to -820 far
# from the stroke, where the sigmoid gives denormal floats, and those slowed their forward and backward
# by a quarter (deevad/blending, 1 thread: 1.91 -> 1.51 ms a stroke, the same as with the CPU flushing
# denormals). sigmoid(-60) ~ 9e-27 is zero for every output, and 1 - it is exactly 1 in float32.
LOGIT_FLOOR = -60.0


def coverage(logits: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) coverage logits -> coverage in [0, 1], floored at sigmoid(LOGIT_FLOOR) (see there)."""
    return torch.sigmoid(logits.clamp(min=LOGIT_FLOOR))


@register_architecture(LEGACY_ARCHITECTURE)  # today's network: an MLP to 4 x 4, then PixelShuffle stages
class Painter(nn.Module):
    """Neural painter. `forward(actions)` returns the stroke on white, as the data set stores it.

    Example:
        >>> painter = Painter(PainterConfig())
        >>> painter(torch.rand(2, 12)).shape
        torch.Size([2, 3, 64, 64])
    """

    chunk_size = 256  # strokes per chunk in alpha_logits (speed only, see there)
    wet = False  # a dry brush: the stroke lays one colour; a wet painter (models/wet_painter.py) sees the canvas
    config_class = PainterConfig  # what the file's "config" metadata fills (see `config_from_dict`)
    architecture: str  # set by @register_architecture; saved in the file's metadata

    def __init__(self, config: PainterConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PainterConfig()
        c = config.channels
        self.mlp = nn.Sequential(
            nn.Linear(config.action_dim, config.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(config.hidden, config.hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(config.hidden, c[0] * 16),
            nn.LeakyReLU(0.2, inplace=True),
        )
        extra = 1 if config.geometry_prior else 0  # the sketch channel, added at 8, 16, 32 and 64 px
        self.ups = nn.ModuleList(
            [UpBlock(a + (extra if i > 0 else 0), b) for i, (a, b) in enumerate(zip(c[:-1], c[1:], strict=True))]
        )
        self.head = nn.Conv2d(c[-1] + extra, 1, 3, padding=1)

    def sketch(self, actions: torch.Tensor) -> torch.Tensor | None:
        """(N, 12) -> (N, 1, 64, 64) the curve sketch the network sees, or None without the geometry prior.

        Passed to `alpha` (and a wet painter's `laid`), it is drawn once for both: the optimiser does so
        for wet levels. Left out, each call draws its own, chunk by chunk.
        """
        cfg = self.config
        if not cfg.geometry_prior:
            return None
        return curve_sketch(actions, cfg.out_size, cfg.prior_points).to(memory_format=torch.channels_last)

    def alpha_logits(self, actions: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 12) in [0, 1], optional `sketch(actions)` -> (N, 1, 64, 64) coverage logits.

        Large batches run in chunks of `chunk_size` strokes: a chunk's activations stay in the CPU
        caches through forward and backward, which made batch 1024 ~18 % faster (0.46-0.47 against
        0.56 ms a stroke; chunks of 128 or 512 were slower). The result is the same.
        """
        if actions.shape[0] > self.chunk_size:
            chunks = actions.split(self.chunk_size)
            sketches = split_sketch(sketch, self.chunk_size, len(chunks))
            return torch.cat([self._alpha_logits(a, s) for a, s in zip(chunks, sketches, strict=True)])
        return self._alpha_logits(actions, sketch)

    def _alpha_logits(self, actions: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        x = self.mlp(actions).view(-1, cfg.channels[0], 4, 4)  # (N, C0, 4, 4)
        if not cfg.geometry_prior:
            sketch = None
        elif sketch is None:  # drawn once at full size, average-pooled for the coarser stages
            sketch = self.sketch(actions)
        for i, up in enumerate(self.ups):
            if sketch is not None and i > 0:
                x = torch.cat([x, F.avg_pool2d(sketch, cfg.out_size // x.shape[-1])], 1)  # (N, C + 1, S, S)
            x = up(x)
        if sketch is not None:
            x = torch.cat([x, sketch], 1)
        return self.head(x)

    def alpha(self, actions: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 12) in [0, 1], optional `sketch(actions)` -> (N, 1, 64, 64) coverage in [0, 1]."""
        return coverage(self.alpha_logits(actions, sketch))

    @staticmethod
    def color(actions: torch.Tensor) -> torch.Tensor:
        """(N, 12) -> (N, 3, 1, 1) the stroke's RGB colour in [0, 1]."""
        return actions[:, A.COLOR, None, None]

    def laid(self, actions: torch.Tensor, canvas: torch.Tensor | None = None) -> torch.Tensor:
        """The colour the stroke lays: (N, 3, 1, 1), the action's (a wet painter's depends on the canvas)."""
        return self.color(actions)

    def paint_over(self, actions: torch.Tensor, canvas: torch.Tensor,
                   alpha: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """(N, 12), canvas (N, 3, 64, 64) -> the window after the stroke: canvas * (1 - alpha) + alpha * laid."""
        alpha = self.alpha(actions) if alpha is None else alpha
        return canvas * (1.0 - alpha) + alpha * self.laid(actions, canvas)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        """(N, 12) in [0, 1] -> (N, 3, 64, 64) RGB of the stroke on white, in [0, 1]."""
        return compose_on_white(self.alpha(actions), self.color(actions))

    # -- weights -------------------------------------------------------------------------------

    def save_pretrained(self, path: str | Path, metadata: dict | None = None) -> Path:
        """Write safetensors with the config, the architecture's name and `metadata` (brush, command...)."""
        meta = {**(metadata or {}), "architecture": self.architecture}  # the class's own name wins over a copied one
        return write_safetensors(self, path, "brushwork.painter", meta)

    @classmethod
    def config_from_dict(cls, config: dict) -> PainterConfig:
        """The config saved in a file -> this architecture's config dataclass."""
        if cls.config_class is PainterConfig:  # files written before the sketch existed
            config.setdefault("geometry_prior", False)
        return cls.config_class(**config)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> Painter:
        """Load a painter from a safetensors file (no pickle, no network).

        The file's "architecture" metadata picks the class (models/registry.py), so any registered
        painter network loads through here; a file without the key holds this Painter.
        """
        tensors, meta = read_safetensors(path, expected_format="brushwork.painter")
        try:
            model_cls = architecture_class(meta.get("architecture", LEGACY_ARCHITECTURE))
        except BrushworkError as e:
            raise BrushworkError(f"{path}: {e}") from None
        try:
            # a class may adapt older configs (config_from_dict); otherwise its config_class takes the JSON as is
            make_config = getattr(model_cls, "config_from_dict", lambda d: model_cls.config_class(**d))
            painter = model_cls(make_config(json.loads(meta["config"])))
            painter.load_state_dict(tensors)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as e:
            raise BrushworkError(
                f"{path}: painter weights do not match the {model_cls.__name__} model ({str(e).splitlines()[0]})"
            ) from None
        bad = [k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
        if bad:
            raise BrushworkError(f"{path}: painter weights contain NaN or infinite values ({bad[0]})")
        painter.metadata = meta
        return painter.to(device).eval()


def compose_on_white(alpha: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """alpha (N, 1, H, W), color (N, 3, 1, 1) in [0, 1] -> (N, 3, H, W) stroke on white."""
    return 1.0 - alpha + alpha * color


def write_safetensors(module: nn.Module, path: str | Path, fmt: str, metadata: dict | None = None) -> Path:
    """Save a module's weights, its `config` dataclass and string metadata, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {"format": fmt, "config": json.dumps(asdict(module.config))}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()})
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}, str(tmp), metadata=meta)
    return path


def read_safetensors(path: str | Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, or one clear BrushworkError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise BrushworkError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise BrushworkError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    if meta.get("format") != expected_format:
        raise BrushworkError(f"{path}: not a {expected_format} file (format {meta.get('format')!r})")
    return tensors, meta


def load_painter(brush: str | Path = "classic/dry_brush", device: str | torch.device = "cpu") -> Painter:
    """A shipped painter by brush name, or a painter file by path. Frozen, in eval mode."""
    from brushwork.models.registry import painter_path

    painter = Painter.from_pretrained(painter_path(brush), device=resolve_device(device))
    painter.requires_grad_(False)
    # No process-wide denormal flushing: curve_sketch clamps its exponents and `coverage` its logits, so the
    # painter makes no denormals that matter (shipped dry brush: 0.45 ms a stroke with or without the flush), while
    # flushing made libmypaint's dab counting ~10x slower on long strokes in the same process.
    return painter


__all__ = [
    "LOGIT_FLOOR", "Painter", "PainterConfig", "compose_on_white", "coverage", "load_painter", "read_safetensors",
    "split_sketch",
]
