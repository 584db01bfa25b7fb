"""Losses between the canvas and the target, by name: a new loss is one file that registers itself.

    @register_loss("pixel")
    class PixelLoss(PaintLoss): ...

A loss is built once per pipeline (`build_loss(name, config)`: heavy parts such as a feature
network are made then), told each level's target with `set_target` (its features are cached), and
called on the canvas: `loss(canvas) -> scalar`. Canvas and target are (3, H, W) in [0, 1].
"""

from brushwork.painting.losses import content, mixed, pixel  # noqa: F401 - the built-in losses register themselves
from brushwork.painting.losses.base import LOSSES, LossSettings, PaintLoss, build_loss, register_loss

__all__ = ["LOSSES", "LossSettings", "PaintLoss", "build_loss", "register_loss"]
