"""Stroke shards: generation, the Kaggle layout, the torch Dataset and every bad input."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brushwork.data.dataset import StrokeShards
from brushwork.data.generate import generate_dataset
from brushwork.data.shards import derive_alpha, load_shard, rgba_to_shard_arrays, write_shard
from brushwork.engine import render
from brushwork.errors import BrushworkError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(out, "classic/dry_brush", count=300, seed=3, shard_size=120, workers=2, progress=False)
    return out


def test_generate_layout_and_kaggle_keys(dataset):
    files = sorted(dataset.glob("shard_*.npz"))
    assert [f.name for f in files] == ["shard_00000.npz", "shard_00001.npz", "shard_00002.npz"]
    shard = np.load(files[0])
    assert shard["strokes"].shape == (120, 64, 64, 3) and shard["strokes"].dtype == np.uint8
    assert shard["actions"].shape == (120, 12) and shard["alphas"].shape == (120, 64, 64)
    # the stored pixels are what the engine paints for the stored actions
    rgba = render(shard["actions"][:5])
    strokes, alphas = rgba_to_shard_arrays(rgba)
    assert np.array_equal(strokes, shard["strokes"][:5]) and np.array_equal(alphas, shard["alphas"][:5])
    assert not list(dataset.glob(".*"))  # no temporary files left


def test_bytes_do_not_depend_on_workers_or_machines(dataset, tmp_path):
    one = tmp_path / "one"
    generate_dataset(one, "classic/dry_brush", count=300, seed=3, shard_size=120, workers=1, progress=False)
    split = tmp_path / "split"
    for i in range(2):  # two "machines"
        generate_dataset(split, "classic/dry_brush", count=300, seed=3, shard_size=120, workers=1,
                         shard_index=i, num_shards=2, progress=False)  # fmt: skip
    for f in sorted(dataset.glob("*.npz")):
        assert digest(f) == digest(one / f.name) == digest(split / f.name)


def test_other_folder_content_is_refused(dataset):
    with pytest.raises(BrushworkError, match="different data set"):
        generate_dataset(dataset, "classic/dry_brush", count=300, seed=4, shard_size=120, progress=False)


@pytest.mark.parametrize("brush, why", [("classic/ink_eraser", "erases"), ("Dieterle/HalfTone#1", "locks alpha")])
def test_erasing_and_alpha_locking_brushes_are_refused(tmp_path, brush, why):
    with pytest.raises(BrushworkError, match=why):
        generate_dataset(tmp_path, brush, count=10, progress=False)


def test_dataset_batches_and_ranks(dataset):
    ds = StrokeShards(dataset, batch_size=40, seed=1)
    batches = list(ds)
    assert len(batches) == 7  # 120 // 40 * 2 + 60 // 40
    b = batches[0]
    assert b["strokes"].shape == (40, 3, 64, 64) and b["alphas"].shape == (40, 1, 64, 64)
    assert b["actions"].shape == (40, 12) and 0 <= b["strokes"].min() and b["strokes"].max() <= 1
    seen = [set(map(tuple, torch_rows(StrokeShards(dataset, batch_size=20, rank=r, world_size=3)))) for r in range(3)]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])
    assert sum(map(len, seen)) == 300


def torch_rows(ds):
    for b in ds:
        yield from (tuple(np.round(r, 6)) for r in b["actions"].numpy())


def test_kaggle_layout_loads_and_alpha_is_derived(dataset, tmp_path):
    src = np.load(dataset / "shard_00000.npz")
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    np.savez_compressed(kaggle / "episodes_0.npz", strokes=src["strokes"], actions=src["actions"].astype(np.float64))
    shard = load_shard(kaggle / "episodes_0.npz")
    true = src["alphas"].astype(np.float32) / 255
    err = np.abs(shard["alphas"].astype(np.float32) / 255 - true)[shard["alpha_valid"]]
    assert err.mean() < 0.01
    assert next(iter(StrokeShards(kaggle, batch_size=8)))["strokes"].shape == (8, 3, 64, 64)


def test_derive_alpha_masks_colours_near_white():
    strokes = np.full((2, 64, 64, 3), 255, np.uint8)
    actions = np.zeros((2, 12))
    actions[0, 6:9] = 0.995  # nearly white: cannot tell coverage from background
    actions[1, 6:9] = 0.2
    _, valid = derive_alpha(strokes, actions)
    assert valid.tolist() == [False, True]


def test_bad_inputs_name_file_and_key(tmp_path):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(BrushworkError, match="corrupt.npz"):
        load_shard(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, images=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(BrushworkError, match=r"foreign.npz.*missing key 'strokes'"):
        load_shard(foreign)
    out_of_range = tmp_path / "range.npz"
    np.savez(out_of_range, strokes=np.zeros((2, 64, 64, 3), np.uint8), actions=np.full((2, 12), 1.2))
    with pytest.raises(BrushworkError, match=r"range.npz.*\[0, 1\]"):
        load_shard(out_of_range)


def test_full_disk_leaves_no_partial_shard(tmp_path, monkeypatch):
    def disk_full(file, **arrays):
        file.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", disk_full)
    target = tmp_path / "shard_00000.npz"
    with pytest.raises(BrushworkError, match="No space left"):
        write_shard(target, np.zeros((1, 64, 64, 3), np.uint8), np.zeros((1, 12)), np.zeros((1, 64, 64), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_cli_generate_preview_and_errors(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "brushwork.cli", *a], capture_output=True, text=True)  # noqa: E731
    r = run("dataset", "generate", "--brush", "classic/pen", "--count", "20", "--out", str(tmp_path / "d"), "--quiet")
    assert r.returncode == 0, r.stderr
    r = run("dataset", "preview", str(tmp_path / "d"), "-o", str(tmp_path / "grid.png"))
    assert r.returncode == 0 and (tmp_path / "grid.png").stat().st_size > 1000
    r = run("dataset", "generate", "--brush", "classic/charcol", "--count", "5", "--out", str(tmp_path / "e"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "did you mean classic/charcoal" in r.stderr
    r = run("dataset", "preview", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "no such data set folder" in r.stderr
