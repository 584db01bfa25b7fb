"""Losses between the canvas and the target, by name: a new loss is one file that registers itself.

    @register_loss("pixel")
    class PixelLoss(PaintLoss): ...

A loss is built once per pipeline (`build_loss(name, config)`: heavy parts such as a feature
network are made then), told each level's target with `set_target` (its features are cached), and
called on the canvas: `loss(canvas) -> scalar`. Canvas and target are (3, H, W) in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor, nn

from brushwork.errors import BrushworkError

if TYPE_CHECKING:
    from brushwork.painting.config import PaintConfig


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


def build_loss(name: str, config: PaintConfig) -> PaintLoss:
    """The loss registered as `name`, built for `config`."""
    if name not in LOSSES:
        raise BrushworkError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name](config)


# The built-in losses register themselves on import.
from brushwork.painting.losses import content, mixed, pixel  # noqa: E402, F401

__all__ = ["LOSSES", "PaintLoss", "build_loss", "register_loss"]
