"""Painting a photo: compositing ops, the optimiser, the pipeline's files, odd inputs and the CLI.

Real components throughout (the shipped painter, MobileNetV2, libmypaint, ffmpeg), at small sizes so the
file runs in about a minute on 2 CPU cores. Set BRUSHWORK_TEST_PAINTER to a painter .safetensors to test
with another painter (e.g. before the shipped weights exist).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork import images
from brushwork.errors import BrushworkError
from brushwork.metrics import psnr, ssim
from brushwork.models.painter import Painter
from brushwork.painting.backends import paint_strokes
from brushwork.painting.canvas import PassGrid, composite_pass, composite_strokes, reduce, resize_alpha
from brushwork.painting.config import PaintConfig
from brushwork.painting.outputs import OUTPUT_FILES
from brushwork.painting.pipeline import paint
from brushwork.painting.plan import plan_levels
from brushwork.painting.result import render_engine
from brushwork.painting.strokes import StrokeList
from brushwork.painting.strokes_files import load as load_strokes

# One thread: another process (e.g. painter training) may share the 2 cores, and two OpenMP threads
# competing with it for a core spin-wait on each other (measured 20x slower); one thread is unaffected.
torch.set_num_threads(1)


def _painter_file() -> str | None:
    env = os.environ.get("BRUSHWORK_TEST_PAINTER")
    if env:
        return env
    from brushwork.models.registry import WEIGHTS_DIR

    path = WEIGHTS_DIR / "classic__dry_brush.safetensors"
    return str(path) if path.is_file() else None


PAINTER = _painter_file()
assert PAINTER is not None, "the shipped classic/dry_brush painter is missing (or set BRUSHWORK_TEST_PAINTER)"
SEED_IMAGES = Path(__file__).resolve().parent.parent / "examples"  # the four seed photos


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True, timeout=300)


def painter_args() -> list[str]:
    return ["--threads", "1", *(["--painter", PAINTER] if PAINTER else [])]


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A small colourful test photo: a seed photo if present, else a synthetic scene."""
    path = tmp_path_factory.mktemp("img") / "photo.png"
    src = SEED_IMAGES / "castle.png"
    if src.is_file():
        Image.open(src).convert("RGB").resize((96, 96), Image.Resampling.LANCZOS).save(path)
    else:
        y, x = np.mgrid[0:96, 0:96] / 96.0
        rgb = np.stack([x, y, 1 - x * y], axis=2)
        rgb[30:70, 40:60] = (0.9, 0.5, 0.1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def painted(photo, tmp_path_factory):
    """One painting through the CLI with every output: (out folder, Painting-free facts)."""
    out = tmp_path_factory.mktemp("run") / "new" / "nested"  # does not exist yet: must be created
    from brushwork.cli import main

    code = main(["paint", str(photo), "-o", str(out), "--size", "96", "--strokes", "60", "--steps", "8",
                 "--quiet", "--video-seconds", "1", "--fps", "5", *painter_args()])  # fmt: skip
    assert code == 0
    return out


# -- compositing -------------------------------------------------------------------------------------


def random_pass(seed: int, dtype=torch.float32, h=37, w=50, win=16, p=7, channels=3):
    g = torch.Generator().manual_seed(seed)
    sx, sy = (int(v) for v in torch.randint(0, win, (2,), generator=g))
    grid = PassGrid(h, w, win, sx, sy)
    cells = torch.randperm(grid.cells, generator=g)[:p]
    alpha = torch.rand(p, 1, win, win, generator=g, dtype=dtype)
    color = torch.rand(p, channels, generator=g, dtype=dtype)
    canvas = torch.rand(channels, h, w, generator=g, dtype=dtype)
    return grid, cells, alpha, color, canvas


@pytest.mark.parametrize("seed", range(4))
def test_pass_equals_sequential_compositing(seed):
    grid, cells, alpha, color, canvas = random_pass(seed, torch.float64)
    fast = composite_pass(canvas, alpha, color, cells, grid)
    windows = torch.cat([grid.origins(cells).double(), torch.full((len(cells), 1), float(grid.window))], dim=1)
    slow, _ = composite_strokes(canvas, alpha, color, windows)
    assert torch.equal(fast, slow)
    # order inside a pass does not matter: windows do not overlap
    rev, _ = composite_strokes(canvas, alpha.flip(0), color.flip(0), windows.flip(0))
    assert torch.allclose(rev, slow, atol=1e-12)


def test_pass_grid_partitions_the_canvas():
    for shift in [(0, 0), (5, 11), (15, 15)]:
        grid = PassGrid(37, 50, 16, *shift)
        ones = torch.ones(grid.cells, 1, 16, 16)
        cover = composite_pass(torch.zeros(1, 37, 50), ones, torch.ones(grid.cells, 1), torch.arange(grid.cells), grid)
        assert torch.equal(cover, torch.ones(1, 37, 50))  # every pixel in exactly one window
        assert grid.cell_areas().sum() == 37 * 50


def test_composite_pass_gradcheck():
    grid, cells, alpha, color, canvas = random_pass(0, torch.float64, h=9, w=7, win=4, p=3)
    inputs = tuple(t.clone().requires_grad_(True) for t in (canvas, alpha, color))
    assert torch.autograd.gradcheck(lambda c, a, k: composite_pass(c, a, k, cells, grid), inputs)


def test_composite_strokes_gradcheck():
    g = torch.Generator().manual_seed(3)
    canvas = torch.rand(3, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    alpha = torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    color = torch.rand(3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    windows = torch.tensor([[-1.0, 0.0, 4.0], [2.0, 1.0, 4.0], [3.0, 3.0, 4.0]], dtype=torch.float64)  # overlapping
    assert torch.autograd.gradcheck(lambda c, a, k: composite_strokes(c, a, k, windows)[0], (canvas, alpha, color))


def test_composite_pass_rejects_bad_shapes():
    grid, cells, alpha, color, canvas = random_pass(1)
    with pytest.raises(ValueError, match="alpha"):
        composite_pass(canvas, alpha[:, :, :8], color, cells, grid)


def test_reduce_and_resize():
    x = torch.arange(2 * 5 * 7, dtype=torch.float64).view(2, 5, 7)
    r = reduce(x, 2)
    assert r.shape == (2, 3, 4) and r[0, 0, 0] == x[0, :2, :2].mean()
    assert r[1, 2, 3] == x[1, 4, 6]  # the padded edge repeats the last row/column
    a = torch.rand(3, 1, 64, 64)
    assert resize_alpha(a, 64) is a and resize_alpha(a, 16).shape == (3, 1, 16, 16)
    assert torch.allclose(resize_alpha(a, 16).mean(), a.mean(), atol=1e-6)  # area keeps total coverage


def test_plan_levels():
    cfg = PaintConfig()
    levels = plan_levels(384, 512, 1000, cfg)
    assert [lv.window for lv in levels] == [256, 128, 64, 32] and sum(lv.strokes for lv in levels) == 1000
    assert all(lv.work_window == cfg.work_window for lv in levels) and [lv.factor for lv in levels] == [8, 4, 2, 1]
    assert [lv.strokes for lv in levels] == sorted(lv.strokes for lv in levels)  # most strokes are small
    small = plan_levels(60, 96, 7, cfg, steps=3)
    assert sum(lv.strokes for lv in small) == 7 and all(lv.steps == 3 for lv in small)
    assert all(8 <= lv.window <= 64 for lv in small) and small[-1].factor == 1
    more = plan_levels(384, 512, 100, cfg, max_window=64, first_index=4)  # continuing: detail only
    assert [lv.window for lv in more] == [64, 32] and more[0].index == 4 and sum(lv.strokes for lv in more) == 100
    # only a budget's plan covers first (test_few_strokes_cover_the_canvas_before_detail): a count keeps the shares
    assert [lv.strokes for lv in plan_levels(512, 512, 156, cfg)] == [7, 16, 39, 94]


# -- painting ------------------------------------------------------------------------------------------


def test_painting_beats_the_blank_canvas(photo):
    p = paint(photo, strokes=60, size=64, steps=10, painter=PAINTER, progress=False)
    blank = np.broadcast_to(np.asarray(p.strokes.background, np.float32), p.target.shape)
    assert p.image.shape == p.target.shape == (64, 64, 3) and len(p.strokes) == 60
    assert p.psnr > psnr(blank, p.target) + 1.0
    assert p.ssim > ssim(blank, p.target)
    assert all(lv["loss_end"] < lv["loss_start"] for lv in p.levels)  # each level's optimisation helps
    assert p.strokes.actions.min() >= 0 and p.strokes.actions.max() <= 1
    # the painting is the real brush's: exactly the engine's render of the saved stroke list
    assert p.real and np.array_equal(p.image, render_engine(p.strokes))
    # and the painter's canvas is the stroke-by-stroke replay of the same strokes through the painter
    replay, _ = paint_strokes(p.painter, p.strokes)
    assert np.allclose(replay.permute(1, 2, 0).numpy(), p.neural_image(), atol=1e-6)


def test_outputs_written_and_strokes_round_trip(painted, tmp_path):
    names = {p.name for p in painted.iterdir()}
    have_mp4 = any(os.access(os.path.join(d, "ffmpeg"), os.X_OK) for d in os.environ["PATH"].split(os.pathsep))
    expected = set(OUTPUT_FILES) - {"painting_engine.png"} - (set() if have_mp4 else {"process.mp4"})
    assert expected <= names and not [n for n in names if n.startswith(".")]  # no temp files left
    png = np.asarray(Image.open(painted / "painting.png"))
    assert png.shape == (96, 96, 3)
    assert np.asarray(Image.open(painted / "comparison.png")).shape[1] > 2 * 96
    with zipfile.ZipFile(painted / "painting.ora") as z:
        layers = [n for n in z.namelist() if n.startswith("data/layer")]
        assert len(layers) == len(set(load_strokes(painted / "strokes.json").levels))
    s = load_strokes(painted / "strokes.json")
    assert (s.width, s.height, len(s)) == (96, 96, 60) and s.brush == "classic/dry_brush"
    assert np.all(s.windows[:, 2] > 0) and s.levels.min() == 0
    # painting.png is byte for byte the real brush's render of strokes.json at the canvas size
    out = tmp_path / "sub" / "again.png"
    result = run_cli("render", str(painted / "strokes.json"), "-o", str(out), "--size", "96")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (painted / "painting.png").read_bytes()
    neural = np.asarray(Image.open(painted / "painting_neural.png"))
    assert neural.shape == png.shape and psnr(neural / 255.0, png / 255.0) > 20.0
    big = tmp_path / "big.png"
    assert run_cli("render", str(painted / "strokes.json"), "-o", str(big), "--size", "150").returncode == 0
    assert Image.open(big).size == (150, 150)


def test_init_continues_a_painting(painted, photo):
    first = load_strokes(painted / "strokes.json")
    more = paint(photo, strokes=30, size=96, steps=8, init=painted / "strokes.json", painter=PAINTER, progress=False)
    s = more.strokes
    assert len(s) == 90 and np.array_equal(s.actions[:60], first.actions)
    assert np.array_equal(s.windows[:60], first.windows)
    assert s.levels[60:].min() > first.levels.max() and s.background == first.background
    before = np.asarray(Image.open(painted / "painting.png")) / 255.0
    assert more.psnr > psnr(before, more.target) - 0.1  # new strokes do not make it worse
    with pytest.raises(BrushworkError, match="brush"):
        paint(photo, strokes=5, size=96, steps=1, init=first, brush="classic/pen", painter=PAINTER, progress=False)


def test_refine_optimises_the_earlier_strokes_again(painted, photo):
    first = load_strokes(painted / "strokes.json")
    before = psnr(np.asarray(Image.open(painted / "painting.png")) / 255.0, np.asarray(Image.open(photo)) / 255.0)
    # each level starts from its strokes as painted, pass by pass: with no step size, the same painting
    same = paint(photo, size=96, steps=1, lr=1e-6, init=first, refine=True, painter=PAINTER, progress=False)
    assert abs(same.psnr - before) < 0.05, (same.psnr, before)
    better = paint(photo, size=96, steps=15, init=first, refine=True, painter=PAINTER, progress=False)
    s = better.strokes
    assert len(s) == len(first) and np.array_equal(s.windows, first.windows)
    assert np.array_equal(s.levels, first.levels) and s.stroke_brushes() == first.stroke_brushes()
    assert not np.allclose(s.actions, first.actions, atol=1e-3)
    assert better.psnr > before + 0.2, (better.psnr, before)  # the real brush's painting, closer to the photo
    more = paint(photo, size=96, steps=2, strokes=20, init=first, refine=True, painter=PAINTER, progress=False)
    assert len(more.strokes) == 80 and more.strokes.levels[60:].min() > first.levels.max()
    with pytest.raises(BrushworkError, match="init"):
        paint(photo, size=96, steps=1, refine=True, painter=PAINTER, progress=False)
    shift = np.array([0.5, 0.0, 0.0], np.float32)  # a film frame's strokes, moved off the stroke grid by the flow
    moved = StrokeList(first.brushes, first.width, first.height, first.background, first.actions,
                       first.windows + shift, first.levels, first.brush_ids)  # fmt: skip
    with pytest.raises(BrushworkError, match="grid"):
        paint(photo, size=96, steps=1, init=moved, refine=True, painter=PAINTER, progress=False)


def test_several_images_get_their_own_folders(photo, tmp_path):
    other = tmp_path / "gray.png"
    Image.fromarray(np.linspace(0, 255, 40 * 30).reshape(30, 40).astype(np.uint8), "L").save(other)
    out = tmp_path / "out"
    r = run_cli("paint", str(photo), str(other), "-o", str(out), "--size", "48", "--strokes", "12", "--steps", "2",
                "--no-engine", "--no-video", "--quiet", *painter_args())  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (out / "photo" / "painting.png").is_file() and (out / "gray" / "painting.png").is_file()
    assert Image.open(out / "gray" / "painting.png").size == (48, 36)  # aspect ratio kept
    assert r.stdout.count("PSNR") == 2


# -- odd inputs ----------------------------------------------------------------------------------------


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("brushwork: error:") and all(w in lines[0] for w in words), lines[0]


def test_cli_bad_inputs_give_one_line(tmp_path, photo):
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    one_line_error(run_cli("paint", str(text), "-o", str(tmp_path / "o")), "notes.png", "not an image")
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(dot)
    one_line_error(run_cli("paint", str(dot), "-o", str(tmp_path / "o")), "1x1", "at least")
    one_line_error(run_cli("paint", str(tmp_path / "missing.jpg")), "no such file")
    one_line_error(run_cli("paint", str(photo), "--brush", "classic/nosuchbrush"), "unknown brush")
    one_line_error(run_cli("render", str(text), "-o", str(tmp_path / "x.png")), "notes.png")
    assert not (tmp_path / "o").exists()


def test_image_modes_load_correctly(tmp_path):
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[:, :8] = (200, 30, 10)
    rgb[:, 8:] = (10, 120, 250)
    ref = rgb / 255.0
    cases = {
        "gray.png": Image.fromarray(rgb[..., 0], "L"),
        "palette.png": Image.fromarray(rgb).quantize(4),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full((12, 16), 255, np.uint8)]), "RGBA"),
    }
    for name, im in cases.items():
        im.save(tmp_path / name, quality=100) if name.endswith(".jpg") else im.save(tmp_path / name)
        out = images.load_image(tmp_path / name)
        assert out.shape == (12, 16, 3) and out.dtype == np.float32, name
        want = np.repeat(ref[..., :1], 3, 2) if name.startswith("gray") else ref
        assert np.abs(out - want).mean() < 0.05, name
    # RGBA: transparent pixels become white
    rgba = np.dstack([rgb, np.zeros((12, 16), np.uint8)])
    rgba[:, :8, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    notes: list[str] = []
    out = images.load_image(tmp_path / "clear.png", notify=notes.append)
    assert np.allclose(out[:, 8:], 1.0) and np.allclose(out[:, :8], ref[:, :8]) and "transparent" in notes[0]
    # 16-bit greyscale keeps its full range
    g16 = (np.linspace(0, 65535, 12 * 16).reshape(12, 16)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    out = images.load_image(tmp_path / "g16.png")
    assert np.allclose(out[..., 0], g16 / 65535.0, atol=1e-4) and out.max() > 0.99


def test_exif_rotation_is_applied(tmp_path):
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[:, :10] = (255, 0, 0)  # red on the left as stored
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    im.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    out = images.load_image(tmp_path / "rotated.jpg")
    assert out.shape == (20, 10, 3)  # upright: portrait
    assert out[2, 5, 0] > 0.8 and out[17, 5, 0] < 0.2  # the red half is now on top


def test_small_huge_and_odd_images(tmp_path, monkeypatch):
    notes: list[str] = []
    small = images.load_image(np.full((20, 20), 128, np.uint8), notify=notes.append)
    up = images.fit_to_canvas(small, 64, notify=notes.append)
    assert up.shape == (64, 64, 3) and np.allclose(up, 128 / 255, atol=1e-5) and "upscaled" in notes[-1]
    with pytest.raises(BrushworkError, match="at least 8 px"):
        images.load_image(np.zeros((5, 40, 3)))
    with pytest.raises(BrushworkError, match="short side"):
        images.fit_to_canvas(np.zeros((10, 1000, 3), np.float32), 100)
    with pytest.raises(BrushworkError, match="folder"):
        images.load_image(tmp_path)
    Image.new("RGB", (300, 200), (10, 20, 30)).save(tmp_path / "big.jpg")
    reduced = images.load_image(tmp_path / "big.jpg", max_side=100, notify=notes.append)
    assert reduced.shape == (67, 100, 3) and "reduced" in notes[-1]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow's own guard, made small
    with pytest.raises(BrushworkError, match="decompression-bomb"):
        images.load_image(tmp_path / "big.jpg")
    with pytest.raises(BrushworkError, match="must lie in"):
        images.load_image(np.full((10, 10, 3), 2.0))


def test_public_api(photo):
    import brushwork

    arr = np.asarray(Image.open(photo).convert("RGB"))
    first = brushwork.paint(arr, strokes=6, size=32, steps=1, painter=PAINTER, progress=False)
    assert first.image.shape == (32, 32, 3) and first.target.dtype == np.float32 and len(first.strokes) == 6
    # `brushwork.paint` stays callable after the painting sub-package has been imported
    second = brushwork.paint(arr, strokes=6, size=32, steps=1, painter=PAINTER, progress=False)
    assert np.array_equal(first.image, second.image)  # same seed, same painting


def test_paint_checks_arguments(photo):
    with pytest.raises(BrushworkError, match="loss"):
        paint(photo, loss="fancy")
    with pytest.raises(BrushworkError, match="either steps or"):
        paint(photo, steps=3, time_budget=2.0)
    with pytest.raises(BrushworkError, match="strokes"):
        paint(photo, strokes=0)


def test_time_budget_is_kept(photo):
    p = paint(photo, strokes=40, size=64, time_budget=2.0, painter=Painter.from_pretrained(PAINTER), progress=False)
    assert p.timings["paint"] < 2 * 2.0 + 4.0  # the last level's placement and painting come on top (and noise)
    assert all(lv["steps"] >= 1 for lv in p.levels)


def test_few_strokes_cover_the_canvas_before_detail():
    """A small time budget plans ~150 strokes: the shares alone gave 60 % of them to 32 px strokes and
    left a quarter of the canvas as flat ground; the coarse levels now get enough to cover it first,
    and each finer level gives at most half of its strokes."""
    from brushwork.painting.config import PaintConfig
    from brushwork.painting.plan import COVER_PER_CELL, plan_levels

    few = plan_levels(512, 512, 156, PaintConfig(), cover=True)
    assert [(lv.window, lv.strokes) for lv in few][:2] == [(256, 4 * COVER_PER_CELL), (128, 16 * COVER_PER_CELL)]
    assert sum(lv.strokes for lv in few) == 156 and few[-1].strokes >= 94 // 2  # the finest keeps half its 94
    # the default plans already cover: unchanged
    assert [(lv.window, lv.strokes) for lv in plan_levels(512, 512, 1000, PaintConfig(), cover=True)] == \
        [(256, 44), (128, 104), (64, 251), (32, 601)]  # fmt: skip
    assert [lv.strokes for lv in plan_levels(512, 512, 10, PaintConfig(), cover=True)] == [4, 1, 2, 3]
