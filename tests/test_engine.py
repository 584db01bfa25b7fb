"""The real MyPaint engine through brushwork.engine: geometry, colour, coverage, determinism, errors."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import visible_actions

from brushwork import actions as A
from brushwork.engine import render, render_canvas, require_learnable, resolve_brush
from brushwork.engine.stroke import bezier_control
from brushwork.errors import BrushworkError


def curve_points(a: np.ndarray, size: int = 64, n: int = 200) -> np.ndarray:
    s, c, e = (np.array([a[i], a[j]]) * size for i, j in ((9, 10), (2, 3), (4, 5)))
    q = bezier_control(s, c, e)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * s + 2 * (1 - t) * t * q + t**2 * e


def test_shape_dtype_range(rng):
    out = render(rng.random((3, 12)))
    assert out.shape == (3, 64, 64, 4) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


def test_stroke_lands_on_its_curve(rng):
    for a in visible_actions(rng, 12):
        alpha = render(a)[0, ..., 3]
        ys, xs = np.mgrid[0:64, 0:64] + 0.5
        w = alpha / alpha.sum()
        centroid = np.array([(w * xs).sum(), (w * ys).sum()])
        pts = curve_points(a)
        # the alpha centroid lies near the curve's centroid (pressure and speed vary along it)
        assert np.linalg.norm(centroid - pts.mean(0)) < 10.0
        # and nearly all paint lies within a few radii of the curve
        d = np.min(np.hypot(xs[..., None] - pts[:, 0], ys[..., None] - pts[:, 1]), axis=-1)
        radius = np.exp(a[A.SIZE] * A.SIZE_SCALE)
        assert (alpha * (d > 3 * radius + 3)).sum() < 0.05 * alpha.sum()


def test_colour_matches_action(rng):
    acts = visible_actions(rng, 10)
    out = render(acts)
    for a, px in zip(acts, out, strict=True):
        mask = px[..., 3] > 0.3
        assert mask.sum() > 10
        assert np.abs(px[mask, :3].mean(0) - a[A.COLOR]).max() < 0.02


@pytest.mark.parametrize("field", [A.SIZE, A.PRESSURE])
def test_more_size_or_pressure_more_coverage(rng, field):
    acts = visible_actions(rng, 12)
    lo, hi = acts.copy(), acts.copy()
    lo[:, field], hi[:, field] = 0.3, 0.9
    if field == A.PRESSURE:
        lo[:, A.ENTRY_PRESSURE], hi[:, A.ENTRY_PRESSURE] = 0.3, 0.9
    cov_lo = render(lo)[..., 3].sum(axis=(1, 2))
    cov_hi = render(hi)[..., 3].sum(axis=(1, 2))
    assert (cov_hi > cov_lo).mean() >= 0.9
    assert cov_hi.sum() > 1.3 * cov_lo.sum()


def test_zero_pressure_is_a_jump(rng):
    a = visible_actions(rng, 1)
    a[0, A.PRESSURE] = 0.0
    assert render(a)[0, ..., 3].max() == 0.0


def test_deterministic_in_any_order_and_process(rng):
    acts = rng.random((30, 12))
    first = render(acts)
    again = render(acts[::-1])[::-1]
    assert np.array_equal(first, again)
    code = (
        "import numpy as np, sys; from brushwork.engine import render;"
        "a = np.random.default_rng(1234).random((30, 12)); a = np.random.default_rng(7).random((30, 12));"
        "sys.stdout.buffer.write(render(a[5:9]).tobytes())"
    )
    acts = np.random.default_rng(7).random((30, 12))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    other = np.frombuffer(out, dtype=np.float32).reshape(4, 64, 64, 4)
    assert np.array_equal(other, render(acts)[5:9])


def test_high_resolution_looks_the_same(rng):
    acts = visible_actions(rng, 6)
    small = render(acts, size=64)[..., 3]
    big = render(acts, size=256)[..., 3].reshape(6, 64, 4, 64, 4).mean(axis=(2, 4))
    # same coverage and the same place; texture differs in detail only
    ratio = big.sum(axis=(1, 2)) / small.sum(axis=(1, 2))
    assert np.all((ratio > 0.7) & (ratio < 1.4))
    assert np.abs(big - small).mean() < 0.05


def test_canvas_render_composites_strokes_in_order(rng):
    acts = visible_actions(rng, 3)
    windows = np.array([[0, 0, 64], [32, 0, 64], [0, 32, 64]], dtype=np.float64)
    canvas = render_canvas(acts, windows, 96, 96, background=(1.0, 1.0, 1.0))
    expected = np.ones((96, 96, 3), np.float32)
    for (x0, y0, _), px in zip(windows.astype(int), render(acts), strict=True):
        region = expected[y0 : y0 + 64, x0 : x0 + 64]
        region[:] = region * (1 - px[..., 3:]) + px[..., 3:] * px[..., :3]
    # a jittery brush's texture is not translation invariant (float32 positions shift a dab and
    # with it the random sequence), so compare 4 x 4 block means: same strokes, same places
    blocks = lambda im: im.reshape(24, 4, 24, 4, 3).mean(axis=(1, 3))  # noqa: E731
    assert np.abs(blocks(canvas) - blocks(expected)).mean() < 0.01


def test_brush_names_and_errors():
    assert resolve_brush("classic/dry_brush").learnable
    assert resolve_brush("classic/dry_brush.myb").name == "classic/dry_brush"
    with pytest.raises(BrushworkError, match="did you mean classic/charcoal"):
        resolve_brush("classic/charcol")
    with pytest.raises(BrushworkError, match="erases"):
        require_learnable(resolve_brush("classic/ink_eraser"))
    assert resolve_brush("classic/blend+paint").learnable and resolve_brush("classic/blend+paint").wet
    assert not resolve_brush("classic/dry_brush").wet
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        render(np.full((1, 12), 1.5))
    with pytest.raises(ValueError, match="shape"):
        render(np.zeros((2, 11)))


def test_user_brush_file(tmp_path, rng):
    src = resolve_brush("classic/pen").path
    own = tmp_path / "mine.myb"
    own.write_bytes(src.read_bytes())
    a = visible_actions(rng, 2)
    assert np.array_equal(render(a, brush=str(own)), render(a, brush="classic/pen"))


def test_import_without_libmypaint():
    code = (
        "import ctypes, ctypes.util; ctypes.util.find_library = lambda n: None\n"
        "import brushwork, brushwork.engine\n"
        "from brushwork.engine import libmypaint as L\n"
        "assert L.lib.cache_info().currsize == 0, 'engine loaded at import'\n"
        "L._LIB_NAMES = ('libdoesnotexist.so',)\n"
        "try:\n    L.lib()\nexcept brushwork.BrushworkError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1 and "apt-get install libmypaint" in out


class _Stop(Exception):
    pass


@pytest.mark.parametrize("repeat", range(12))
def test_a_signal_during_rendering_is_not_lost(rng, repeat):
    """SIGTERM's handler raises, and it must reach the caller even when it fires inside a tile callback.

    ctypes prints and drops exceptions raised in callbacks, and the garbage collector those raised
    in a `__del__` (a brush freed after its stroke); the CLI's Ctrl-C / SIGTERM once went unnoticed
    that way and a film went on painting to its end. Twelve moments, inside and between strokes.
    """
    import os
    import signal
    import threading

    def stop(_signum, _frame):
        raise _Stop()

    acts = visible_actions(rng, 400)
    previous = signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(0.05 + 0.011 * repeat, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        timer.start()
        with pytest.raises(_Stop):
            for _ in range(50):  # far longer than the timer, whatever the machine
                render(acts, size=128)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_painting_leaves_no_reference_cycles_holding_tiles(rng):
    """Each tile libmypaint asks for is handed over by address: `ndarray.ctypes.data_as` made a
    reference cycle per request that held the 32 KB tile until a full garbage collection (a poster's
    level left ~0.8 GB of them)."""
    import gc

    from brushwork.engine import stroke_alphas

    acts = visible_actions(rng, 10)
    windows = np.array([[0.0, 0.0, 320.0]] * len(acts), np.float32)  # strokes across many 64 px tiles
    gc.collect()
    gc.disable()
    try:
        stroke_alphas(acts, windows, "classic/dry_brush")
        found = gc.collect()
    finally:
        gc.enable()
    assert found < 6 * len(acts), found  # 4 a stroke are the brush objects' own; with data_as: 26 a stroke
