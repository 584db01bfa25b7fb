"""Brushes for everyone: fine-tuning a painter to a new brush (`train --init`), and several brushes
in one painting (per-level brushes, strokes.json v2, the real render with each stroke's brush)."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import stroke_data
from safetensors import safe_open

from brushwork.actions import FIELDS
from brushwork.engine import EngineCanvas, render_canvas
from brushwork.errors import BrushworkError
from brushwork.models.registry import painter_path
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.plan import Level, assign_brushes
from brushwork.painting.result import render_engine
from brushwork.painting.strokes import StrokeList
from brushwork.painting.strokes_files import load

ROOT = Path(__file__).resolve().parents[1]
CASTLE = ROOT / "examples" / "castle.png"
COARSE, FINE = "classic/charcoal", "classic/pen"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True)


# ----------------------------------------------------------------------------- fine-tuning


@pytest.fixture(scope="module")
def pen_data(tmp_path_factory) -> tuple[Path, Path]:
    return stroke_data(tmp_path_factory.mktemp("pen-data"), FINE, train=512, heldout=128, heldout_seed=1000, shard=256)


def finetune(
    run: Path, data: tuple[Path, Path], *extra: str, init: str = "classic/dry_brush"
) -> subprocess.CompletedProcess:
    return cli("train", "all", "--brush", FINE, "--init", init, "--data", str(data[0]), "--heldout", str(data[1]),
               "--run-dir", str(run), "--threads", "2", "--quiet", "--set", "generator_steps=150",
               "--set", "warmup_steps=10", "--set", "discriminator_steps=4", "--set", "gan_steps=4",
               "--set", "eval_every=75", "--set", "eval_strokes=64", *extra)  # fmt: skip


def test_finetuning_improves_the_held_out_psnr_over_its_starting_painter(pen_data, tmp_path):
    r = finetune(tmp_path / "run", pen_data)
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    start, tuned = summary["metrics"]["init"]["psnr"], summary["metrics"][summary["chosen"]]["psnr"]
    # the dry brush's painter draws wide textured strokes; 150 steps on 512 pen strokes teach it the pen
    assert tuned > start + 2.0, (start, tuned)
    digest = hashlib.sha256(painter_path("classic/dry_brush").read_bytes()).hexdigest()
    assert summary["init"] == {"painter": "classic/dry_brush", "brush": "classic/dry_brush", "sha256": digest}
    with safe_open(str(tmp_path / "run" / "painter.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["brush"] == FINE and json.loads(meta["init"])["sha256"] == digest and "--init" in meta["command"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init"]["sha256"] == digest
    # the fine-tuned painter file can itself be the start of another fine-tune (a painter file by path)
    r = finetune(
        tmp_path / "again", pen_data, "--set", "generator_steps=2", init=str(tmp_path / "run" / "painter.safetensors")
    )
    assert r.returncode == 0, r.stderr


def test_an_interrupted_finetune_resumes_and_refuses_another_start(pen_data, tmp_path):
    run = tmp_path / "run"
    short = ("--set", "generator_steps=20", "--set", "checkpoint_every=10")
    r = finetune(run, pen_data, *short)
    assert r.returncode == 0, r.stderr
    # --resume without the --init the run began with is another run: one line, nothing written
    before = (run / "config.json").read_text()
    r = cli("train", "all", "--brush", FINE, "--preset", "finetune", "--data", str(pen_data[0]), "--heldout",
            str(pen_data[1]), "--run-dir", str(run), "--resume", "--quiet", "--set", "generator_steps=20",
            "--set", "warmup_steps=10", "--set", "discriminator_steps=4", "--set", "gan_steps=4",
            "--set", "eval_every=75", "--set", "eval_strokes=64")  # fmt: skip
    assert r.returncode != 0 and "--init classic/dry_brush -> scratch" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and (run / "config.json").read_text() == before
    # the same command with --resume continues; another warm-up is another run
    r = finetune(run, pen_data, *short, "--resume", "--set", "warmup_steps=5")
    assert r.returncode != 0 and "warmup_steps 10 -> 5" in r.stderr
    r = finetune(run, pen_data, *short, "--resume")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["all", "--init", str(ROOT / "README.md")], "not a readable safetensors file"),
        (["all", "--init", "deevad/liner"], "no painter for brush 'deevad/liner'"),
        (["gan", "--init", "classic/dry_brush"], "--init starts the generator stage"),
        (["all", "--init", "classic/dry_brush", "--set", "painter_channels=8,8,8,8,8"], "drop --set painter_channels"),
    ],
)
def test_bad_init_is_one_line_and_writes_nothing(tmp_path, args, message):
    run = tmp_path / "run"
    r = cli("train", *args, "--brush", FINE, "--run-dir", str(run), "--data", str(tmp_path / "d"), "--quiet")
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not run.exists() and not (tmp_path / "d").exists()


def test_init_from_a_discriminator_file_is_refused(tmp_path):
    from brushwork.models.discriminator import Discriminator

    path = Discriminator().save_pretrained(tmp_path / "d.safetensors", {"brush": FINE})
    r = cli("train", "all", "--brush", FINE, "--init", str(path), "--run-dir", str(tmp_path / "run"), "--quiet")
    assert r.returncode != 0 and "not a brushwork.painter file" in r.stderr and not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- several brushes


def test_levels_get_brushes_coarse_to_fine():
    levels = [Level(i, 64 >> i, 1, 10, 5) for i in range(4)]
    assert [lv.brush for lv in assign_brushes(levels, ("a", "b"))] == ["a", "a", "b", "b"]
    assert [lv.brush for lv in assign_brushes(levels, ("a", "b", "c"))] == ["a", "a", "b", "c"]
    assert [lv.brush for lv in assign_brushes(levels, ("a", "b", "b", "a"))] == ["a", "b", "b", "a"]
    with pytest.raises(BrushworkError, match="5 brushes for a painting of 4 levels"):
        assign_brushes(levels, tuple("abcde"))


@pytest.fixture(scope="module")
def two_brush_painting(tmp_path_factory):
    pipe = PaintPipeline.from_pretrained(f"{COARSE},{FINE}", size=128, strokes=300, level_steps=5)
    painting = pipe(CASTLE, progress=False)
    out = tmp_path_factory.mktemp("two-brushes")
    painting.save(out, video=False)
    return painting, out


def test_two_brush_painting_records_and_renders_each_strokes_brush(two_brush_painting):
    painting, out = two_brush_painting
    s = painting.strokes
    assert painting.real and s.brushes == (COARSE, FINE)
    # the coarse levels are the charcoal's, the fine ones the pen's
    first_fine = int(s.levels[s.brush_ids == 1].min())
    assert (s.brush_ids[s.levels < first_fine] == 0).all() and (s.brush_ids[s.levels >= first_fine] == 1).all()
    doc = json.loads((out / "strokes.json").read_text())
    assert doc["version"] == 2 and doc["brushes"] == [COARSE, FINE]
    assert {st["brush"] for st in doc["strokes"]} == {COARSE, FINE}
    again = load(out / "strokes.json")
    assert again.stroke_brushes() == s.stroke_brushes()

    # the real render paints each stroke with its brush: exactly the two single-brush parts composited in
    # order, and unlike either single-brush render of the same strokes
    mixed = render_engine(again)
    canvas = EngineCanvas(s.width, s.height, None, s.background)
    for i, brush in enumerate(s.brushes):
        idx = np.flatnonzero(s.brush_ids == i)  # the brushes' strokes are consecutive (coarse, then fine)
        canvas.paint(s.actions[idx], s.windows[idx], [brush] * len(idx))
    assert np.array_equal(mixed, canvas.image())
    for brush in s.brushes:
        single = render_canvas(s.actions, s.windows, s.width, s.height, brush, s.background)
        assert np.abs(single - mixed).mean() > 0.005, brush
    # painting.png (engine in the loop) is that render, and the painting is a painting of the photo
    assert np.array_equal(painting.image, mixed) and painting.psnr > 20.0


def test_two_brush_exports_keep_the_brushes(two_brush_painting):
    import zipfile

    _, out = two_brush_painting
    svg = (out / "painting.svg").read_text()
    assert f'data-brush="{COARSE}"' in svg and f'data-brush="{FINE}"' in svg
    stack = zipfile.ZipFile(out / "painting.ora").read("stack.xml").decode()
    assert f"px, {COARSE})" in stack and f"px, {FINE})" in stack
    np_path = out / "strokes.npz"
    load(out / "strokes.json").save(np_path)
    assert load(np_path).stroke_brushes() == load(out / "strokes.json").stroke_brushes()


def test_version_1_files_still_load(tmp_path):
    acts, wins = np.full((2, 12), 0.5, np.float32), np.array([[0, 0, 32], [8, 8, 32]], np.float32)
    header = {"schema": "brushwork.strokes", "version": 1, "brush": FINE, "width": 64, "height": 64,
              "background": [1.0, 1.0, 1.0], "action_fields": list(FIELDS)}  # fmt: skip
    doc = {
        **header,
        "strokes": [{"level": 0, "window": w.tolist(), "action": a.tolist()} for a, w in zip(acts, wins, strict=True)],
    }
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    with open(tmp_path / "v1.npz", "wb") as f:
        np.savez(f, meta=np.array(json.dumps(header)), actions=acts, windows=wins, levels=np.zeros(2, np.int32))
    for name in ("v1.json", "v1.npz"):
        s = load(tmp_path / name)
        assert s.brushes == (FINE,) and s.stroke_brushes() == [FINE, FINE] and np.array_equal(s.actions, acts)
    assert cli("render", str(tmp_path / "v1.json"), "-o", str(tmp_path / "v1.png")).returncode == 0


def test_concat_keeps_each_strokes_brush():
    a = StrokeList(COARSE, 64, 64, (1, 1, 1), np.full((2, 12), 0.5), np.full((2, 3), 8.0), np.zeros(2))
    b = StrokeList(FINE, 64, 64, (1, 1, 1), np.full((1, 12), 0.5), np.full((1, 3), 8.0), np.ones(1))
    both = a.concat(b).concat(a[:1])
    assert both.brushes == (COARSE, FINE) and both.stroke_brushes() == [COARSE, COARSE, FINE, COARSE]
    assert both[2:].stroke_brushes() == [FINE, COARSE] and both.with_brush(FINE).brushes == (FINE,)


@pytest.mark.parametrize(
    "brush, message",
    [
        (f"{FINE},classic/ink_eraser", "erases"),
        (f"{FINE},classic/nonexistent", "unknown brush 'classic/nonexistent'"),
        (f"{FINE},deevad/liner", "no painter for brush 'deevad/liner'"),
        (f"{FINE},", "several separated by commas"),
        (",".join([FINE] * 9), "9 brushes for a painting of"),
    ],
)
def test_bad_brush_lists_are_one_line_and_write_nothing(tmp_path, brush, message):
    out = tmp_path / "out"
    r = cli("paint", str(CASTLE), "-o", str(out), "--size", "128", "--brush", brush, "--quiet")
    assert r.returncode != 0 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_painter_file_goes_with_one_brush():
    with pytest.raises(BrushworkError, match="a painter file goes with one brush"):
        PaintPipeline.from_pretrained(f"{COARSE},{FINE}", painter=painter_path(FINE))


@pytest.mark.parametrize(
    "settings, words",
    [
        ([1, 2, 3], "not a mapping"),
        ({"radius_logarithmic": 3}, "not a mapping with a numeric base_value"),
        ({"opaque": {"base_value": 1.0, "inputs": {"pressure": "steep"}}}, "not lists of [x, y] points"),
        ({"dabs_per_actual_radius": {"base_value": 1e9, "inputs": {}}}, "dabs_per_actual_radius up to 1e+09"),
        ({"dabs_per_second": {"base_value": 1.0, "inputs": {"speed1": [[0, 0], [4, 5e6]]}}}, "dabs_per_second"),
    ],
)
def test_a_hostile_brush_file_is_one_line_before_any_work(settings, words, tmp_path):
    from brushwork.engine import resolve_brush

    path = tmp_path / "bad.myb"
    path.write_text(json.dumps({"version": 3, "settings": settings}))
    with pytest.raises(BrushworkError) as e:
        resolve_brush(path)
    assert words in str(e.value) and "\n" not in str(e.value)
