"""The stroke discriminator: is this coverage map what the real brush paints for this action?

The original discriminator reached 100 % accuracy within a few epochs and its GAN was unstable.
What keeps this one useful:
- it is conditioned on the action (projection discriminator, Miyato & Koyama 2018), so it judges
  "is this the stroke for *this* action", not only "does this look like a stroke";
- spectral norm on every layer bounds its Lipschitz constant;
- it sees the coverage (alpha) map: the colour is the action's by construction, so the RGB adds
  nothing but a place to cheat;
- the losses (in brushwork.train) are hinge losses with an R1 penalty on real strokes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.utils import spectral_norm

from brushwork import actions as A
from brushwork.errors import BrushworkError


@dataclass
class DiscriminatorConfig:
    channels: tuple[int, ...] = (32, 64, 128, 256)  # stride-2 stages: 64 -> 32 -> 16 -> 8 -> 4 px
    action_dim: int = A.ACTION_DIM
    in_channels: int = 1  # coverage; 6 for a wet brush: the window after the stroke and the canvas before

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)


class Discriminator(nn.Module):
    """alpha (N, 1, 64, 64) (or for a wet brush, after and canvas (N, 6, 64, 64)) in [0, 1], actions (N, 12)
    -> score (N,): high for real strokes."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for c in config.channels:
            layers += [spectral_norm(nn.Conv2d(c_in, c, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.out = spectral_norm(nn.Linear(c_in, 1))
        self.embed = spectral_norm(nn.Linear(config.action_dim, c_in))

    def forward(self, alpha: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        h = self.convs(alpha * 2.0 - 1.0).sum(dim=(2, 3))  # (N, C) global sum pooling
        return self.out(h).squeeze(1) + (self.embed(actions) * h).sum(dim=1)

    def save_pretrained(self, path: str | Path, metadata: dict | None = None) -> Path:
        from brushwork.models.painter import write_safetensors

        return write_safetensors(self, path, "brushwork.discriminator", metadata)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu") -> Discriminator:
        from brushwork.models.painter import read_safetensors

        tensors, meta = read_safetensors(path, expected_format="brushwork.discriminator")
        try:
            disc = cls(DiscriminatorConfig(**json.loads(meta["config"])))
            disc.load_state_dict(tensors)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise BrushworkError(f"{path}: weights do not match the Discriminator ({str(e).splitlines()[0]})") from None
        return disc.to(device).eval()
