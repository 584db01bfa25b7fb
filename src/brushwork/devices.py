"""The torch device a painter runs on, from its name: one clear BrushworkError for one that is not there."""

from __future__ import annotations

import torch

from brushwork.errors import BrushworkError


def resolve_device(device: str | torch.device) -> torch.device:
    """A torch device from its name, or one clear BrushworkError."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise BrushworkError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BrushworkError(f"device {device!r} asked for, but this torch has no CUDA device; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise BrushworkError(f"unsupported device {device!r}; use cpu or cuda")
    return dev


__all__ = ["resolve_device"]
