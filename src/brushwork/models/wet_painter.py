"""The wet painter: an action (N, 12) and the canvas under its window (N, 3, 64, 64) -> that window
after the real brush painted a smudging stroke over it.

What it predicts follows from how libmypaint smudges. A dab is laid where it always is, as opaque as
it always is; smudging only changes its colour, to a mix of the brush's colour and the paint the
brush picked up along the way. So over any canvas C a wet stroke paints exactly

    C * (1 - alpha) + alpha * L

with alpha the coverage of the same brush with smudging off (what the dry painter predicts, from the
action alone) and L a per-pixel colour. The network is the dry `Painter` for alpha (same modules,
so `--init` from a shipped dry painter loads them as they are) plus a small U-Net for L that sees
the canvas and the curve sketch and is told the action:

    L = m * colour + (1 - m) * clamp(C + dS)

m in [0, 1] is how much of the brush's own colour a pixel gets, dS the change of the canvas colour
that was dragged there. The U-Net runs at 32, 16 and 8 px with thin channels and its output is
enlarged to 64 px: painting calls it forward and backward on every stroke at every step
(benchmarks/painter_speed.py --wet measures it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from brushwork import actions as A
from brushwork.models.painter import Painter, PainterConfig, UpBlock, curve_sketch, split_sketch
from brushwork.models.registry import register_architecture


@dataclass
class WetPainterConfig(PainterConfig):
    # canvas encoder channels at 32, 16 and 8 px (the decoder mirrors them back to 64 px)
    canvas_channels: tuple[int, ...] = (8, 16, 32)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.canvas_channels = tuple(self.canvas_channels)
        if len(self.canvas_channels) != 3 or not all(isinstance(c, int) and 1 <= c <= 256
                                                     for c in self.canvas_channels):  # fmt: skip
            raise ValueError(f"painter config canvas_channels={self.canvas_channels!r} is out of range")
        if self.out_size != 64:
            raise ValueError("the wet painter works on 64 px windows")


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True))


class _MixLaid(torch.autograd.Function):
    """L = m * colour + (1 - m) * clamp(canvas + dS) with m = sigmoid(logit), and its gradient by hand.

    Why by hand: autograd's version makes about twice as many passes over the (N, 3, 64, 64) tensors
    (every intermediate of `1 - m`, the products and the clamp mask), and at batch 1024 those passes
    cost about as much as the U-Net's convolutions (0.35 -> 0.25 ms a stroke with the composite, one
    thread). `tests/test_wet.py` checks it against autograd and finite differences (gradcheck).
    Only first derivatives: a second one raises (`once_differentiable`) rather than come out wrong.
    """

    @staticmethod
    def forward(ctx, canvas: torch.Tensor, out: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
        m = torch.sigmoid(out[:, :1])  # (N, 1, H, W)
        pre = canvas + out[:, 1:]  # (N, 3, H, W) the canvas colour dragged there, unclamped
        inside = (pre >= 0) & (pre <= 1)  # (N, 3, H, W) where clamp passes its gradient, as torch.clamp does
        dragged = pre.clamp_(0.0, 1.0)
        ctx.save_for_backward(m, dragged, color, inside)
        return torch.lerp(dragged, color.expand_as(dragged), m)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        m, dragged, color, inside = ctx.saved_tensors
        need_canvas, need_out, need_color = ctx.needs_input_grad
        d_dragged = torch.where(inside, grad * (1 - m), 0.0)  # (N, 3, H, W)
        d_out = None
        if need_out:
            d_logit = (grad * (color - dragged)).sum(1, keepdim=True).mul_(m * (1 - m))  # (N, 1, H, W)
            d_out = torch.cat([d_logit, d_dragged], 1)  # (N, 4, H, W)
        d_color = (grad * m).sum((2, 3), keepdim=True) if need_color else None  # (N, 3, 1, 1)
        return (d_dragged if need_canvas else None), d_out, d_color


def mix_laid(canvas: torch.Tensor, out: torch.Tensor, color: torch.Tensor) -> torch.Tensor:
    """The colour a wet stroke lays, per pixel.

    Args:
        canvas: (N, 3, H, W) in [0, 1], the canvas under the window.
        out: (N, 4, H, W), the logit of m (how much of the brush's own colour a pixel gets) and dS (the
            change of the canvas colour dragged there), unbounded.
        color: (N, 3, 1, 1) in [0, 1], the stroke's colour.

    Returns:
        L (N, 3, H, W) in [0, 1].

    Example:
        >>> mix_laid(torch.zeros(1, 3, 2, 2), torch.zeros(1, 4, 2, 2), torch.ones(1, 3, 1, 1))[0, :, 0, 0]
        tensor([0.5000, 0.5000, 0.5000])
    """
    return _MixLaid.apply(canvas, out, color)


@register_architecture("wet_unet")
class WetPainter(Painter):
    """Neural painter of a smudging brush. `forward(actions, canvas)` is the window after the stroke.

    Example:
        >>> painter = WetPainter(WetPainterConfig())
        >>> painter(torch.rand(2, 12), torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 3, 64, 64])
    """

    config_class = WetPainterConfig
    wet = True

    def __init__(self, config: WetPainterConfig | None = None) -> None:
        config = config or WetPainterConfig()
        super().__init__(config)
        e1, e2, e3 = config.canvas_channels
        self.enc1, self.enc2, self.enc3 = _down(4, e1), _down(e1, e2), _down(e2, e3)  # 64 -> 32 -> 16 -> 8 px
        self.film = nn.Linear(config.action_dim, 2 * e3)  # the action scales and shifts the 8 px features
        self.dec3 = UpBlock(e3, e2)  # 8 -> 16
        self.dec2 = UpBlock(2 * e2, e1)  # (+ skip) 16 -> 32
        # (+ skip) -> m logit, dS (3) at 32 px, enlarged to 64: the picked-up paint is a smooth field
        # (an average along the path), and a 64 px stage cost more than the whole coverage network
        self.laid_head = nn.Conv2d(2 * e1, 4, 3, padding=1)

    @classmethod
    def from_dry(cls, painter: Painter, config: WetPainterConfig | None = None) -> WetPainter:
        """A wet painter whose coverage half is `painter`'s (a trained dry painter), the rest new."""
        base = painter.config
        config = config or WetPainterConfig(hidden=base.hidden, channels=base.channels, out_size=base.out_size,
                                            geometry_prior=base.geometry_prior, prior_points=base.prior_points)
        wet = cls(config)
        missing, unexpected = wet.load_state_dict(painter.state_dict(), strict=False)
        assert not unexpected and all(not k.startswith(("mlp.", "ups.", "head.")) for k in missing)
        return wet

    def sketch(self, actions: torch.Tensor) -> torch.Tensor:
        """(N, 12) -> (N, 1, 64, 64) the curve sketch, shared by `alpha` and `laid` (the canvas encoder
        always sees it, whatever the coverage network's `geometry_prior`)."""
        cfg = self.config
        return curve_sketch(actions, cfg.out_size, cfg.prior_points).to(memory_format=torch.channels_last)

    def laid(self, actions: torch.Tensor, canvas: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 12), canvas (N, 3, 64, 64) in [0, 1], optional `sketch(actions)` -> (N, 3, 64, 64) the
        colour the stroke lays, L."""
        n = self.chunk_size
        if actions.shape[0] > n:
            chunks = actions.split(n)
            return torch.cat([self._laid(a, c, s) for a, c, s in zip(chunks, canvas.split(n),
                                                                     split_sketch(sketch, n, len(chunks)),
                                                                     strict=True)])  # fmt: skip
        return self._laid(actions, canvas, sketch)

    def _laid(self, actions: torch.Tensor, canvas: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        sketch = self.sketch(actions) if sketch is None else sketch  # (N, 1, 64, 64)
        x0 = torch.cat([canvas, sketch], 1).contiguous(memory_format=torch.channels_last)  # (N, 4, 64, 64)
        h1 = self.enc1(x0)  # (N, e1, 32, 32)
        h2 = self.enc2(h1)  # (N, e2, 16, 16)
        h3 = self.enc3(h2)  # (N, e3, 8, 8)
        scale, shift = self.film(actions)[:, :, None, None].chunk(2, dim=1)
        h3 = F.leaky_relu(h3 * (1 + scale) + shift, 0.2)
        d = self.dec3(h3)  # (N, e2, 16, 16)
        d = self.dec2(torch.cat([d, h2], 1))  # (N, e1, 32, 32)
        out = self.laid_head(torch.cat([d, h1], 1))  # (N, 4, 32, 32)
        out = F.interpolate(out, scale_factor=2, mode="bilinear")  # (N, 4, 64, 64): m logit, dS
        return mix_laid(canvas, out, actions[:, A.COLOR, None, None])

    def paint_over(self, actions: torch.Tensor, canvas: torch.Tensor,
                   alpha: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """(N, 12), canvas (N, 3, 64, 64) -> the window after the stroke: canvas * (1 - alpha) + alpha * laid,
        coverage and colour from one curve sketch (as the optimiser paints wet levels)."""
        sketch = self.sketch(actions)  # (N, 1, 64, 64)
        alpha = self.alpha(actions, sketch) if alpha is None else alpha
        return canvas * (1.0 - alpha) + alpha * self.laid(actions, canvas, sketch)

    def forward(self, actions: torch.Tensor, canvas: torch.Tensor | None = None) -> torch.Tensor:
        """(N, 12), canvas (N, 3, 64, 64) (default white) -> (N, 3, 64, 64) the window after the stroke."""
        if canvas is None:
            canvas = actions.new_ones(actions.shape[0], 3, self.config.out_size, self.config.out_size)
        return self.paint_over(actions, canvas)


__all__ = ["WetPainter", "WetPainterConfig", "mix_laid"]
