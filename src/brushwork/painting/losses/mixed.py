"""mixed: content + pixel_weight x pixel. Colours stay true; features keep edges and texture."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from brushwork.painting.losses.base import PaintLoss, register_loss
from brushwork.painting.losses.content import ContentLoss
from brushwork.painting.losses.pixel import PixelLoss

if TYPE_CHECKING:
    from brushwork.painting.losses.base import LossSettings


@register_loss("mixed")
class MixedLoss(PaintLoss):
    def __init__(self, config: LossSettings) -> None:
        super().__init__()
        self.pixel_weight = config.pixel_weight
        self.content = ContentLoss(config)
        self.pixel = PixelLoss()

    def set_target(self, target: Tensor) -> None:
        self.target = target
        self.content.set_target(target)
        self.pixel.set_target(target)

    def forward(self, canvas: Tensor) -> Tensor:
        return self.content(canvas) + self.pixel_weight * self.pixel(canvas)
