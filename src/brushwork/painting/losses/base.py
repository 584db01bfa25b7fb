"""The loss registry and base class (see `brushwork.painting.losses`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from torch import Tensor, nn

from brushwork.errors import BrushworkError


class LossSettings(Protocol):
    """The settings a loss is built from (a `PaintConfig` has them; the losses need not import it)."""

    layers: tuple[int, ...]  # feature-network taps of the content loss
    layer_weights: tuple[float, ...]
    pixel_weight: float  # weight of the pixel term in "mixed"


class PaintLoss(nn.Module):
    """Base class: `set_target(target)` once per level, then `forward(canvas) -> ()` tensor."""

    target: Tensor | None = None

    def set_target(self, target: Tensor) -> None:
        self.target = target


LOSSES: dict[str, type[PaintLoss]] = {}


def register_loss(name: str) -> Callable[[type[PaintLoss]], type[PaintLoss]]:
    """Class decorator: make a PaintLoss subclass available under `name` (CLI --loss, PaintConfig.loss)."""

    def add(cls: type[PaintLoss]) -> type[PaintLoss]:
        LOSSES[name] = cls
        return cls

    return add


def build_loss(name: str, config: LossSettings) -> PaintLoss:
    """The loss registered as `name`, built for `config`."""
    if name not in LOSSES:
        raise BrushworkError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name](config)


__all__ = ["LOSSES", "LossSettings", "PaintLoss", "build_loss", "register_loss"]
