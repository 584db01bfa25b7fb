"""Wet (smudging) brushes: the real engine over canvases, their data sets, the wet painter, painting.

Real engine and real painters throughout: the shipped wet painters, and small ones trained here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import visible_actions

from brushwork.data.canvases import CONTEXT, sample_canvases, window_of
from brushwork.data.dataset import StrokeShards
from brushwork.data.generate import generate_dataset
from brushwork.data.shards import load_shard
from brushwork.engine import EngineCanvas, render, render_canvas, render_over, resolve_brush
from brushwork.models.painter import LOGIT_FLOOR, Painter, load_painter
from brushwork.models.registry import shipped_brushes
from brushwork.models.wet_painter import WetPainter, WetPainterConfig, mix_laid
from brushwork.painting.backends import composite_wet
from brushwork.painting.canvas import PassGrid, composite_pass, resize_alpha
from brushwork.painting.optimise import KEEP_ACTIVATIONS, painter_alpha
from brushwork.train.evaluate import stroke_metrics

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

WET = "kaerhon_v1/wet_paint_sm"  # an oil-like brush: smudge 0.7, mixes its colour with what it picks up
DRY = "classic/dry_brush"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True)


def test_a_smudging_stroke_depends_on_the_canvas_and_a_dry_one_does_not():
    acts = np.repeat(visible_actions(np.random.default_rng(0), 1), 2, axis=0)
    canvases = np.zeros((2, CONTEXT, CONTEXT, 3), np.float32)
    canvases[0, :, : CONTEXT // 2] = (1.0, 0.0, 0.0)  # red | blue
    canvases[0, :, CONTEXT // 2 :] = (0.0, 0.0, 1.0)
    canvases[1] = (0.0, 0.8, 0.2)  # flat green
    wet = render_over(acts, canvases, WET)
    win = canvases[:, 16:80, 16:80]
    alpha = render(acts, WET)[..., 3:4]  # its dabs with smudging off
    covered = alpha[..., 0] > 0.05
    assert covered.sum() > 100
    # what the stroke laid differs between the canvases: it picked up their paint
    laid = (wet - win * (1 - alpha)) / np.maximum(alpha, 1e-6)
    assert np.abs(laid[0][covered[0]] - laid[1][covered[1]]).mean() > 0.05
    # and it is exactly canvas * (1 - alpha) + alpha * L with L a colour: nothing changes outside the dabs
    assert np.abs(wet - win)[alpha[..., 0] == 0].max() < 1e-4  # the 15-bit tiles round the canvas
    assert laid[covered].min() > -0.01 and laid[covered].max() < 1.01
    # a dry brush over a canvas is its coverage and colour (up to the engine's 15-bit tiles)
    dry = render_over(acts, canvases, DRY)
    d_alpha = render(acts, DRY)[..., 3:4]
    np.testing.assert_allclose(dry, win * (1 - d_alpha) + d_alpha * acts[:, None, None, 6:9], atol=1e-3)


def test_wet_strokes_paint_over_the_painting_in_any_number_of_calls():
    rng = np.random.default_rng(1)
    n = 60
    acts = visible_actions(rng, n)
    win = np.column_stack([rng.uniform(-10, 100, (n, 2)), rng.uniform(24, 64, n)])
    brushes = [DRY] * 30 + [WET] * 20 + [DRY] * 10
    whole = render_canvas(acts, win, 128, 96, brushes, (1.0, 1.0, 1.0))
    canvas = EngineCanvas(128, 96, None, (1.0, 1.0, 1.0))
    for lo, hi in ((0, 25), (25, 40), (40, 60)):
        canvas.paint(acts[lo:hi], win[lo:hi], brushes[lo:hi])
    assert np.array_equal(canvas.image(), whole)
    dry_only = render_canvas(acts[:30], win[:30], 128, 96, DRY, (1.0, 1.0, 1.0))
    under = render_canvas(acts, win, 128, 96, [DRY] * 30 + [DRY] * 20 + [DRY] * 10, (1.0, 1.0, 1.0))
    assert np.abs(whole - dry_only).mean() > 0.01 and not np.array_equal(whole, under)


def test_canvases_are_seeded_and_differ_between_seeds():
    a = sample_canvases(np.random.default_rng([0, 0, 0]), 12)
    b = sample_canvases(np.random.default_rng([0, 0, 0]), 12)
    c = sample_canvases(np.random.default_rng([1000, 0, 0]), 12)
    assert a.shape == (12, CONTEXT, CONTEXT, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert window_of(a).shape == (12, 64, 64, 3)


def test_a_wet_data_set_round_trips_with_its_canvases(tmp_path):
    one = generate_dataset(tmp_path / "one", WET, count=40, seed=3, shard_size=25, workers=1, progress=False)
    two = generate_dataset(tmp_path / "two", WET, count=40, seed=3, shard_size=25, workers=2, progress=False)
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]  # not on the number of workers
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["wet"] is True and manifest["version"] == 2 and "canvases" in manifest
    shard = load_shard(one[0])
    assert shard["canvases"].shape == shard["strokes"].shape == (25, 64, 64, 3)
    # strokes are the windows after the stroke: the engine painting the action over the stored canvas
    # (its 96 px context cropped to the window, so compare where the dabs stay inside it)
    changed = np.abs(shard["strokes"].astype(int) - shard["canvases"]).max(axis=-1)
    assert (changed > 0).mean() > 0.02 and (changed[shard["alphas"] == 0] == 0).all()
    batch = next(iter(StrokeShards(tmp_path / "one", batch_size=8)))
    assert batch["canvases"].shape == (8, 3, 64, 64) and batch["strokes"].shape == (8, 3, 64, 64)
    dry = generate_dataset(tmp_path / "dry", DRY, count=10, seed=3, progress=False, workers=1)
    assert "canvases" not in load_shard(dry[0]) and "canvases" not in next(iter(StrokeShards(tmp_path / "dry", 4)))


def test_wet_painter_keeps_the_dry_painters_coverage_and_round_trips(tmp_path):
    dry = load_painter(DRY)
    wet = WetPainter.from_dry(dry).eval()
    acts, canvas = torch.rand(6, 12), torch.rand(6, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(wet.alpha(acts), dry.alpha(acts))
        after = wet(acts, canvas)
    assert after.shape == (6, 3, 64, 64) and 0 <= after.min() and after.max() <= 1
    path = wet.save_pretrained(tmp_path / "wet.safetensors", {"brush": WET})
    again = Painter.from_pretrained(path)  # the file's architecture picks the class
    assert isinstance(again, WetPainter) and again.wet
    with torch.no_grad():
        assert torch.equal(again(acts, canvas), after)
    with pytest.raises(ValueError, match="canvas_channels"):
        WetPainterConfig(canvas_channels=(8, 16, 100000))


def _mix_by_autograd(canvas, out, color):
    m = torch.sigmoid(out[:, :1])
    return m * color + (1 - m) * (canvas + out[:, 1:]).clamp(0, 1)


def test_the_colour_laid_has_autograds_gradient():
    # mix_laid's backward is written by hand for speed: it must be the gradient of the formula it computes
    g = torch.Generator().manual_seed(0)
    canvas = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64)
    out = torch.randn(2, 4, 5, 6, generator=g, dtype=torch.float64) * 0.6  # some canvas + dS leave [0, 1]
    color = torch.rand(2, 3, 1, 1, generator=g, dtype=torch.float64)
    pre = canvas + out[:, 1:]
    assert ((pre < 0) | (pre > 1)).any() and ((pre > 0) & (pre < 1)).any()  # both sides of the clamp seen
    assert torch.autograd.gradcheck(mix_laid, tuple(t.clone().requires_grad_(True) for t in (canvas, out, color)))
    # on the clamp's bounds themselves (canvas + dS exactly 0 or 1) and with only some inputs needing a
    # gradient: the same values and gradients as autograd's, as the optimiser meets them
    canvas[:, :, 0], out[:, 1:, 0, :3], out[:, 1:, 0, 3:] = 0.5, -0.5, 0.5
    weights = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64)
    for needs in [(True, True, True), (False, True, False), (True, False, True), (False, False, True)]:
        ours = [t.clone().requires_grad_(n) for t, n in zip((canvas, out, color), needs, strict=True)]
        theirs = [t.clone().requires_grad_(n) for t, n in zip((canvas, out, color), needs, strict=True)]
        a, b = mix_laid(*ours), _mix_by_autograd(*theirs)
        torch.testing.assert_close(a, b)
        (a * weights).sum().backward()
        (b * weights).sum().backward()
        for x, y, n in zip(ours, theirs, needs, strict=True):
            assert (x.grad is None) == (not n)
            if n:
                torch.testing.assert_close(x.grad, y.grad)
    with pytest.raises(RuntimeError):  # no second derivative rather than a wrong one
        x = out.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(mix_laid(canvas, x, color).sum(), x, create_graph=True)
        grad.sum().backward()


def test_a_sketch_drawn_once_gives_the_same_coverage_colour_and_gradients():
    # the optimiser draws a wet level's curve sketch once for `alpha` and `laid` (over chunk boundaries)
    painter = load_painter(WET)
    acts = torch.rand(painter.chunk_size + 40, 12, generator=torch.Generator().manual_seed(1))
    canvas = torch.rand(len(acts), 3, 64, 64, generator=torch.Generator().manual_seed(2))
    weights = torch.rand(len(acts), 3, 64, 64, generator=torch.Generator().manual_seed(3))
    results = []
    for shared in (False, True):
        a = acts.clone().requires_grad_(True)
        sketch = painter.sketch(a) if shared else None
        alpha = painter.alpha(a, sketch)
        after = canvas * (1 - alpha) + alpha * painter.laid(a, canvas, sketch)
        (after * weights).sum().backward()
        results.append((after.detach(), a.grad))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-6, rtol=0)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-5, rtol=1e-4)
    assert results[1][1].abs().sum() > 0
    torch.testing.assert_close(painter.paint_over(acts, canvas), results[0][0], atol=1e-6, rtol=0)
    # past KEEP_ACTIVATIONS strokes the optimiser recomputes coverage chunk by chunk, each with its sketch
    many = torch.rand(KEEP_ACTIVATIONS + 100, 12, generator=torch.Generator().manual_seed(4))
    grads = []
    for shared in (False, True):
        a = many.clone().requires_grad_(True)
        alpha = painter_alpha(painter, a, 40, painter.sketch(a) if shared else None)  # (N, 1, 40, 40)
        (alpha * torch.linspace(0, 1, 40)).sum().backward()
        grads.append((alpha.detach(), a.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-6, rtol=0)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-5, rtol=1e-4)


def test_coverage_makes_no_denormal_floats():
    # far from its stroke a wet painter's coverage logit reaches hundreds below zero; the sigmoid of that
    # is a denormal float, which made forward and backward a quarter slower: coverage is floored
    painter = load_painter("classic/blending_knife")
    acts = torch.rand(256, 12, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits, alpha = painter.alpha_logits(acts), painter.alpha(acts)
    assert logits.min() < LOGIT_FLOOR  # the case arises with a shipped painter
    tiny = torch.finfo(torch.float32).tiny
    assert not ((alpha > 0) & (alpha < tiny)).any()
    assert alpha.min() > 0 and torch.equal(1 - alpha.min(), torch.tensor(1.0))  # zero for every output


@pytest.mark.parametrize("window", [64, 24])
def test_a_pass_through_the_wet_painter_equals_its_strokes_one_by_one(window):
    torch.manual_seed(0)
    painter = WetPainter(WetPainterConfig()).eval().requires_grad_(False)
    grid = PassGrid(height=100, width=150, window=window, shift_x=window // 3, shift_y=window // 5)
    cells = torch.randperm(grid.cells)[: grid.cells // 2]
    acts = torch.rand(len(cells), 12)
    canvas = torch.rand(3, 100, 150)
    with torch.no_grad():
        alpha = resize_alpha(painter.alpha(acts), window)
        laid = resize_alpha(painter.laid(acts, resize_alpha(grid.patches(canvas, cells), 64)), window)
        batched = composite_pass(canvas, alpha, laid, cells, grid)
        origins = grid.origins(cells).double()
        windows = torch.cat([origins, torch.full((len(cells), 1), float(window), dtype=torch.float64)], 1)
        one_by_one = composite_wet(canvas, painter, acts, windows, painter.alpha(acts))
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=0)
    assert (batched - canvas).abs().mean() > 1e-3


def test_training_a_wet_painter_runs_every_stage(tmp_path):
    r = cli("train", "all", "--brush", WET, "--preset", "smoke", "--init", DRY, "--run-dir", str(tmp_path / "run"),
            "--data", str(tmp_path / "train"), "--heldout", str(tmp_path / "held"), "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    painter = Painter.from_pretrained(tmp_path / "run" / "painter.safetensors")
    assert isinstance(painter, WetPainter)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]
    gen = metrics["generator"]
    assert {"psnr_canvas_unchanged", "psnr_dry_composite", "fid"} <= set(gen)
    # even a few steps from the dry painter beat leaving the canvas as it was
    assert gen["psnr"] > gen["psnr_canvas_unchanged"]
    assert (tmp_path / "run" / "generator").is_dir()


SHIPPED_WET = [b for b in shipped_brushes() if resolve_brush(b).wet]


def test_four_wet_painters_ship():
    assert len(SHIPPED_WET) >= 4, SHIPPED_WET


@pytest.mark.parametrize("brush", SHIPPED_WET)
def test_a_shipped_wet_painter_follows_the_engine_on_new_canvases(brush):
    acts = np.random.default_rng(77).random((160, 12)).astype(np.float32)
    canvases = sample_canvases(np.random.default_rng([77, 1, 2]), len(acts))  # seeds no data set used
    after = render_over(acts, canvases, brush)
    data = {"actions": acts, "strokes": np.rint(after * 255).astype(np.uint8),
            "alphas": np.rint(render(acts, brush)[..., 3] * 255).astype(np.uint8),
            "canvases": window_of(canvases)}  # fmt: skip
    m = stroke_metrics(load_painter(brush), data)
    assert m["psnr"] > max(m["psnr_canvas_unchanged"], m["psnr_dry_composite"]) + 1.5, m


def test_painting_with_a_wet_brush_in_the_list_is_its_strokes_rendered(tmp_path):
    brush = f"{DRY},{SHIPPED_WET[0]}"
    out = tmp_path / "out"
    r = cli("paint", str(EXAMPLES / "castle.png"), "-o", str(out), "--size", "96", "--strokes", "120", "--brush",
            brush, "--steps", "4", "--no-video", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    strokes = json.loads((out / "strokes.json").read_text())
    assert set(strokes["brushes"]) == {DRY, SHIPPED_WET[0]}
    r = cli("render", str(out / "strokes.json"), "-o", str(tmp_path / "again.png"))
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out / "painting.png")), np.asarray(Image.open(tmp_path / "again.png")))
    assert (out / "painting.ora").stat().st_size > 0


def test_a_film_painted_dry_then_wet_goes_on_wet_and_each_frame_is_its_strokes(tmp_path, clip):
    """Later frames add strokes at the finest levels only: they take those levels' brush (the wet one);
    a brush list used to fail there ("2 brushes for a painting of 1 level")."""
    out = tmp_path / "film"
    r = cli("paint", str(clip), "-o", str(out), "--brush", f"{DRY},{SHIPPED_WET[0]}", "--strokes", "120",
            "--steps", "3", "--frames", "0:4", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    frames = sorted((out / "strokes").iterdir())
    assert len(frames) == 4
    from brushwork.painting.strokes_files import load

    assert SHIPPED_WET[0] in load(frames[-1]).brushes
    r = cli("render", str(frames[-1]), "-o", str(tmp_path / "last.png"))
    assert r.returncode == 0, r.stderr[-2000:]
    from PIL import Image

    png = sorted((out / "frames").iterdir())[-1]
    assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(tmp_path / "last.png")))
