"""A torch IterableDataset over a folder of stroke shards that never holds the whole set in RAM.

One shard is loaded at a time (a Kaggle shard unpacks to 1.2 GB; ours default to 10,000 strokes,
123 MB), shuffled inside, and served as ready batches. Shard order is shuffled per epoch.
Under DistributedDataParallel each rank reads its own shards (rank::world_size), and DataLoader
workers split a rank's shards again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from brushwork.data.shards import load_shard, shard_files


def batch_to_tensors(shard: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, torch.Tensor]:
    """Select rows `idx` of a loaded shard as float tensors.

    Returns actions (B, 12), strokes (B, 3, 64, 64) RGB on white, alphas (B, 1, 64, 64), all
    float32 in [0, 1], and alpha_valid (B,) bool; for a wet brush also canvases (B, 3, 64, 64), the
    paint under each stroke (its `strokes` are then the window after the stroke).
    """
    extra = {}
    if "canvases" in shard:
        extra["canvases"] = torch.from_numpy(shard["canvases"][idx]).permute(0, 3, 1, 2).float().div_(255.0)
    return {**extra,
        "actions": torch.from_numpy(shard["actions"][idx]),
        "strokes": torch.from_numpy(shard["strokes"][idx]).permute(0, 3, 1, 2).float().div_(255.0),
        "alphas": torch.from_numpy(shard["alphas"][idx]).unsqueeze(1).float().div_(255.0),
        "alpha_valid": torch.from_numpy(shard["alpha_valid"][idx]),
    }


class StrokeShards(IterableDataset):
    """Batches of strokes from a folder of npz shards (ours or Kaggle's MyPaintBrushstrokes).

    Args:
        folder: a folder of `*.npz` shards, or a list of shard paths.
        batch_size: strokes per yielded batch.
        shuffle: shuffle shard order and strokes within a shard, per epoch.
        seed: base seed; epoch e uses seed + e.
        rank, world_size: this process's share of the shards under DDP.
        drop_last: drop a shard's last incomplete batch.
    """

    def __init__(
        self,
        folder: str | os.PathLike | list[Path],
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> None:
        super().__init__()
        self.files = list(folder) if isinstance(folder, list) else shard_files(folder)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _my_files(self) -> list[Path]:
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(len(self.files)) if self.shuffle else np.arange(len(self.files))
        files = [self.files[i] for i in order]
        if len(files) >= self.world_size:
            files = files[self.rank :: self.world_size]
        worker = get_worker_info()
        if worker is not None and len(files) >= worker.num_workers:
            files = files[worker.id :: worker.num_workers]
        return files

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, self.epoch, self.rank])
        for path in self._my_files():
            shard = load_shard(path)
            n = len(shard["actions"])
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            stop = n - n % self.batch_size if self.drop_last else n
            for lo in range(0, stop, self.batch_size):
                yield batch_to_tensors(shard, order[lo : lo + self.batch_size])
