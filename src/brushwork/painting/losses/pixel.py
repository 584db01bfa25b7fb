"""pixel: the mean squared error of canvas and target, what PSNR measures."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from brushwork.painting.losses.base import PaintLoss, register_loss


@register_loss("pixel")
class PixelLoss(PaintLoss):
    def __init__(self, config: object | None = None) -> None:  # no settings
        super().__init__()

    def forward(self, canvas: Tensor) -> Tensor:
        return F.mse_loss(canvas, self.target)
