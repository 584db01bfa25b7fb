"""Stroke files (JSON / NPZ) and exports (PNG, ORA, SVG, GIF, MP4), including atomic writes."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.actions import ACTION_DIM, FIELDS, REFERENCE_SIZE
from brushwork.errors import BrushworkError
from brushwork.io import TEMP_MARKER, atomic_write
from brushwork.painting import exports, video
from brushwork.painting.exports import save_ora, save_png, save_svg
from brushwork.painting.strokes import SCHEMA, VERSION, StrokeList
from brushwork.painting.strokes_files import load
from brushwork.painting.video import frame_schedule, save_gif, save_mp4

SVG = "{http://www.w3.org/2000/svg}"


def make_strokes(n: int = 40, seed: int = 0) -> StrokeList:
    rng = np.random.default_rng(seed)
    w, h = 96, 64
    sizes = rng.uniform(8, 48, n)
    windows = np.stack([rng.uniform(-8, w - 8, n), rng.uniform(-8, h - 8, n), sizes], axis=1)
    levels = np.sort(rng.integers(0, 3, n))
    actions = rng.random((n, ACTION_DIM))
    return StrokeList("classic/dry_brush", w, h, (0.9, 0.85, 0.8), actions, windows, levels)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if TEMP_MARKER in p.name]


def frames_of(n: int, h: int = 30, w: int = 41) -> list[np.ndarray]:
    """n distinct frames: a bar that grows from left to right."""
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 240, np.uint8)
        f[:, : (i + 1) * w // n] = (200, 40, 30)
        f[: h // 3, : (i + 1) * w // n] = (30, 60, 200)
        out.append(f)
    return out


# -- StrokeList ----------------------------------------------------------------------------------------


def test_dtypes_and_validate():
    s = make_strokes()
    assert s.actions.dtype == np.float32 and s.windows.dtype == np.float32 and s.levels.dtype == np.int32
    assert len(s) == 40 and s.validate() is s
    assert len(s[:5]) == 5 and len(s[3]) == 1 and len(StrokeList.empty("b", 4, 4, (0, 0, 0)).validate()) == 0
    bad = make_strokes()
    bad.actions[0, 0] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bad.validate()
    bad = make_strokes()
    bad.windows = bad.windows[:, :2]
    with pytest.raises(ValueError, match="windows"):
        bad.validate()
    with pytest.raises(ValueError, match="background"):
        StrokeList("b", 4, 4, (0, 0, 2), np.zeros((0, 12)), np.zeros((0, 3)), np.zeros(0)).validate()


def test_geometry_and_scaled():
    s = make_strokes()
    g = s.geometry()
    x0, y0, w = s.windows[:, 0:1], s.windows[:, 1:2], s.windows[:, 2:3]
    np.testing.assert_allclose(g.start, np.concatenate([x0, y0], 1) + s.actions[:, 9:11] * w, rtol=1e-6)
    # the quadratic Bezier passes through the action's control point halfway
    mid = 0.25 * g.start + 0.5 * g.control + 0.25 * g.end
    np.testing.assert_allclose(mid, g.through, rtol=1e-9, atol=1e-9)
    radius = np.exp(2 * s.actions[:, 1]) * s.windows[:, 2] / REFERENCE_SIZE
    np.testing.assert_allclose(g.radius, radius, rtol=1e-6)
    assert g.mean_pressure.max() <= 0.8
    s2 = s.scaled(2.0)
    assert (s2.width, s2.height) == (192, 128)
    g2 = s2.geometry()
    np.testing.assert_allclose(g2.end, s.geometry(2.0).end, rtol=1e-6)
    np.testing.assert_allclose(g2.radius, 2 * g.radius, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_round_trip_exact(tmp_path, suffix):
    s = make_strokes(100, seed=3)
    path = tmp_path / f"painting{suffix}"
    s.save(path)
    r = load(path)
    assert (r.brush, r.width, r.height, r.background) == (s.brush, s.width, s.height, s.background)
    for name in ("actions", "windows", "levels", "brush_ids"):
        a, b = getattr(s, name), getattr(r, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert leftovers(tmp_path) == []


def test_json_schema_layout(tmp_path):
    path = tmp_path / "p.json"
    make_strokes(3).to_json(path)
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and doc["version"] == VERSION == 2
    assert doc["action_fields"] == list(FIELDS) and doc["brushes"] == ["classic/dry_brush"]
    assert set(doc["strokes"][0]) == {"level", "brush", "window", "action"} and len(doc["strokes"][0]["action"]) == 12
    assert doc["strokes"][0]["brush"] == "classic/dry_brush"
    empty = tmp_path / "e.json"
    StrokeList.empty("b", 8, 8, (1, 1, 1)).to_json(empty)
    assert len(load(empty)) == 0


def test_invalid_strokes_are_not_written(tmp_path):
    s = make_strokes()
    s.actions[2, 3] = np.nan
    with pytest.raises(ValueError):
        s.to_json(tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


def rewrite(path: Path, **changes) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


B = "classic/dry_brush"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"schema": "someone.else"}, "not a brushwork strokes file"),
        ({"version": 3}, "version 3 is newer"),
        ({"version": "1"}, "invalid strokes schema version"),
        ({"action_fields": list(FIELDS)[::-1]}, "action_fields"),
        ({"width": "wide"}, "width"),
        ({"strokes": [{"level": 0, "brush": B, "window": [0, 0, 8], "action": [0.5] * 11}]}, "12-number"),
        ({"strokes": [{"level": 0, "brush": B, "window": [0, 0, 8], "action": [2.0] * 12}]}, r"\[0, 1\]"),
        ({"strokes": [{"level": 0, "window": [0, 0, 8], "action": [0.5] * 12}]}, "needs 'level', 'brush'"),
        (
            {"strokes": [{"level": 0, "brush": "classic/pen", "window": [0, 0, 8], "action": [0.5] * 12}]},
            "'classic/pen' is not one of 'brushes'",
        ),
        ({"strokes": [{"level": 0, "brush": None, "window": [0, 0, 8], "action": [0.5] * 12}]}, "None is not one"),
        ({"brushes": [], "strokes": []}, "non-empty list"),
        ({"brushes": [B, B]}, "must not repeat"),
    ],
)
def test_json_checks(tmp_path, changes, message):
    path = tmp_path / "p.json"
    make_strokes(3).to_json(path)
    rewrite(path, **changes)
    with pytest.raises(BrushworkError, match=message) as e:
        load(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_foreign_and_missing_files(tmp_path):
    for name, content in [("a.json", "[1, 2]"), ("b.json", '{"hello": 1}'), ("c.json", "not json {")]:
        (tmp_path / name).write_text(content)
        with pytest.raises(BrushworkError, match=name):
            load(tmp_path / name)
    with pytest.raises(BrushworkError, match="no such file"):
        load(tmp_path / "missing.json")
    with pytest.raises(BrushworkError, match="unknown strokes file type"):
        load(tmp_path / "a.txt")


def test_corrupt_and_foreign_npz(tmp_path):
    good = tmp_path / "good.npz"
    make_strokes(50).to_npz(good)
    data = good.read_bytes()
    cases = {
        "random.npz": np.random.default_rng(0).bytes(500),
        "truncated.npz": data[: len(data) // 2],
        "empty.npz": b"",
    }
    foreign = io.BytesIO()
    np.savez(foreign, x=np.zeros(3))
    cases["foreign.npz"] = foreign.getvalue()
    newer = io.BytesIO()
    with np.load(good) as z:
        meta = json.loads(str(z["meta"]))
        meta["version"] = 7
        arrays = {k: z[k] for k in ("actions", "windows", "levels")}
        np.savez(newer, meta=np.array(json.dumps(meta)), **arrays)
    cases["newer.npz"] = newer.getvalue()
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(BrushworkError, match=name) as e:
            load(tmp_path / name)
        assert "\n" not in str(e.value)
    with pytest.raises(BrushworkError, match="version 7"):
        load(tmp_path / "newer.npz")


# -- atomic writes -------------------------------------------------------------------------------------


def test_atomic_write(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path) as f:
        f.write(b"first")
    assert path.read_bytes() == b"first" and leftovers(tmp_path) == []

    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"second, half")
        raise RuntimeError("writer failed midway")
    assert path.read_bytes() == b"first"  # the old file survives
    assert leftovers(tmp_path) == []

    fresh = tmp_path / "fresh.txt"
    with pytest.raises(RuntimeError), atomic_write(fresh, "w") as f:
        f.write("partial")
        raise RuntimeError
    assert not fresh.exists() and leftovers(tmp_path) == []
    with pytest.raises(BrushworkError, match="does not exist"):
        save_png(tmp_path / "nope" / "x.png", np.zeros((2, 2, 3)))


def failing_frames(n_good: int):
    yield from frames_of(n_good)
    raise RuntimeError("renderer crashed")


def test_video_writers_leave_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        save_gif(tmp_path / "t.gif", failing_frames(3))
    if shutil.which("ffmpeg"):
        with pytest.raises(RuntimeError):
            save_mp4(tmp_path / "t.mp4", failing_frames(3))
    assert list(tmp_path.iterdir()) == []


# -- PNG / ORA -----------------------------------------------------------------------------------------


def test_save_png(tmp_path):
    img = np.random.default_rng(0).random((20, 30, 3))
    save_png(tmp_path / "a.png", img)
    back = np.asarray(Image.open(tmp_path / "a.png"))
    assert back.shape == (20, 30, 3) and np.abs(back / 255.0 - img).max() <= 0.5 / 255 + 1e-6
    save_png(tmp_path / "b.png", (img * 255).astype(np.uint8))
    assert leftovers(tmp_path) == []


def test_save_ora(tmp_path):
    h, w = 33, 47
    rng = np.random.default_rng(1)
    layers = []
    for _ in range(3):
        layer = rng.random((h, w, 4)).astype(np.float32)
        layer[..., 3] = (rng.random((h, w)) > 0.5) * rng.random((h, w))
        layers.append(layer)
    bg = (0.2, 0.4, 0.6)
    path = tmp_path / "p.ora"
    save_ora(path, bg, layers, ["level 0", "level 1", "level <2> & co"])
    raw = path.read_bytes()
    assert raw[30:38] == b"mimetype" and raw[38:54] == b"image/openraster"  # sniffable at offset 38

    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert first.extra == b""
        assert z.read("mimetype") == b"image/openraster"
        root = ET.fromstring(z.read("stack.xml"))
        assert root.tag == "image" and root.get("version")
        assert (root.get("w"), root.get("h")) == (str(w), str(h))
        stack = root.find("stack")
        entries = stack.findall("layer")
        assert [e.get("name") for e in entries] == ["level <2> & co", "level 1", "level 0", "background"]
        for e in entries:
            assert e.get("composite-op") == "svg:src-over" and e.get("visibility") == "visible"
            assert (e.get("x"), e.get("y"), float(e.get("opacity"))) == ("0", "0", 1.0)
            im = Image.open(io.BytesIO(z.read(e.get("src"))))
            assert im.size == (w, h) and im.mode == "RGBA"
        # top of stack first: the first entry is the last (finest) level, alpha preserved
        top = np.asarray(Image.open(io.BytesIO(z.read(entries[0].get("src")))))
        assert np.abs(top[..., 3].astype(int) - np.round(layers[2][..., 3] * 255)).max() <= 1
        back = np.asarray(Image.open(io.BytesIO(z.read(entries[-1].get("src")))))
        assert (back[..., 3] == 255).all() and (back[0, 0, :3] == np.round(np.array(bg) * 255)).all()
        merged = Image.open(io.BytesIO(z.read("mergedimage.png")))
        assert merged.size == (w, h)
        expected = exports.composite(bg, layers)
        assert np.abs(np.asarray(merged.convert("RGB")) / 255.0 - expected).max() < 1 / 255 + 1e-6
        thumb = Image.open(io.BytesIO(z.read("Thumbnails/thumbnail.png")))
        assert max(thumb.size) <= 256
    with pytest.raises(ValueError):
        save_ora(tmp_path / "bad.ora", bg, layers, ["only one name"])
    assert leftovers(tmp_path) == [] and not (tmp_path / "bad.ora").exists()


# -- SVG -----------------------------------------------------------------------------------------------


def test_save_svg(tmp_path):
    s = make_strokes(25)
    path = tmp_path / "p.svg"
    save_svg(path, s, scale=2.0)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg" and root.get("viewBox") == "0 0 192 128"
    rect = root.find(f"{SVG}rect")
    assert rect.get("fill") == "#e6d9cc"  # (0.9, 0.85, 0.8)
    paths = list(root.iter(f"{SVG}path"))
    assert len(paths) == len(s)
    expected = ["#{:02x}{:02x}{:02x}".format(*(int(c * 255 + 0.5) for c in rgb)) for rgb in s.actions[:, 6:9]]
    assert [p.get("stroke") for p in paths] == expected  # painting order kept
    g = s.geometry(2.0)
    for p, sx in zip(paths, g.start[:, 0], strict=True):
        d = p.get("d").split()
        assert d[0] == "M" and d[3] == "Q" and len(d) == 8 and abs(float(d[1]) - sx) <= 0.006
        assert p.get("fill") == "none" and p.get("stroke-linecap") == "round"
        assert float(p.get("stroke-width")) > 0 and 0 < float(p.get("stroke-opacity")) <= 1


# -- time-lapse ----------------------------------------------------------------------------------------


def test_frame_schedule():
    sched = frame_schedule(5000, seconds=6, fps=10)
    assert sched[0] == 0 and sched[-1] == 5000 and len(sched) <= 61
    assert all(a < b for a, b in zip(sched, sched[1:], strict=False))
    gaps = np.diff(sched)
    assert gaps[0] < gaps[-1]  # denser early
    assert frame_schedule(7, seconds=6, fps=10) == list(range(8))
    assert frame_schedule(7, include_start=False)[0] == 1
    assert frame_schedule(0) == [0]


def test_save_gif(tmp_path):
    frames = frames_of(12, h=300, w=410)
    path = tmp_path / "t.gif"
    save_gif(path, iter(frames), fps=10, max_size=200)
    with Image.open(path) as im:
        assert im.n_frames == 12 and max(im.size) <= 200 and im.info.get("loop") == 0
        im.seek(0)
        first = im.info["duration"]
        im.seek(11)
        assert im.info["duration"] >= first + 1400  # the last frame is held
    assert leftovers(tmp_path) == []


def test_mp4_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(video.shutil, "which", lambda name: None)
    with pytest.raises(BrushworkError, match="ffmpeg"):
        save_mp4(tmp_path / "t.mp4", frames_of(3))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_save_mp4(tmp_path):
    frames = frames_of(20, h=31, w=41)  # odd sizes: must become even
    path = tmp_path / "t.mp4"
    save_mp4(path, frames, fps=10, hold_last=1.0)
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart
    assert leftovers(tmp_path) == []
    if shutil.which("ffprobe") is None:
        return
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=width,height,nb_read_frames,pix_fmt,codec_name", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    stream = json.loads(out.stdout)["streams"][0]
    assert (stream["width"], stream["height"]) == (40, 30)
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert int(stream["nb_read_frames"]) == 20 + 10  # frames + 1 s held at 10 fps


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_save_mp4_downscales(tmp_path):
    path = tmp_path / "big.mp4"
    save_mp4(path, frames_of(3, h=101, w=300), fps=5, max_size=150, hold_last=0)
    if shutil.which("ffprobe"):
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        w, h = map(int, out.stdout.strip().split(","))
        assert w == 150 and h % 2 == 0 and abs(h - 50) <= 2
