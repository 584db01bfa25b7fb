import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 12-frame 96 x 64 H.264 pan with an AAC tone (`clips.make_clip`), for the video and Ray tests."""
    from clips import make_clip

    return make_clip(tmp_path_factory.mktemp("clip") / "pan.mp4")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def visible_actions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random actions with enough pressure and size to be clearly visible, inside the window."""
    a = rng.random((n, 12))
    a[:, [0, 11]] = 0.6 + 0.4 * a[:, [0, 11]]  # pressure
    a[:, 1] = 0.3 + 0.4 * a[:, 1]  # size
    a[:, 2:6] = 0.2 + 0.6 * a[:, 2:6]
    a[:, 9:11] = 0.2 + 0.6 * a[:, 9:11]
    a[:, 6:9] = 0.7 * a[:, 6:9]  # colours away from white
    return a


def stroke_data(root: Path, brush: str, train: int, heldout: int, heldout_seed: int, shard: int) -> tuple[Path, Path]:
    """A small training set (seed 0, `shard` strokes a shard) and a held-out set of another seed, with
    the real brush: (train folder, held-out folder)."""
    from brushwork.data.generate import generate_dataset

    generate_dataset(root / "train", brush, count=train, seed=0, shard_size=shard, workers=2, progress=False)
    generate_dataset(root / "heldout", brush, count=heldout, seed=heldout_seed, shard_size=heldout, workers=2,
                     progress=False)  # fmt: skip
    return root / "train", root / "heldout"
