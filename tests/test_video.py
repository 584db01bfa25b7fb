"""Painting a clip: real PyAV clips made here, the real engine, the shipped painter, OpenCV's flow.

The clips are small (96 x 64 px, a dozen frames) so the file runs in a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.strokes import load as load_strokes
from brushwork.video.clip import probe, read_frames
from brushwork.video.flow import frame_flow, warping_error
from brushwork.video.pipeline import VideoPipeline

torch.set_num_threads(1)

W, H = 96, 64


def scene(k: int, shift: float = 2.0, cut_at: int | None = None) -> np.ndarray:
    """Frame k of a pan over a textured landscape with a disc moving the other way; (H, W, 3) uint8."""
    x = np.arange(W)[None, :] + k * shift
    y = np.arange(H)[:, None]
    if cut_at is not None and k >= cut_at:  # another shot: other colours, other shapes
        img = np.stack([0.2 + 0.1 * np.sin(y / 5.0) + 0 * x, 0.5 + 0.3 * np.cos(x / 9.0) + 0 * y,
                        0.8 - 0.004 * y + 0 * x], -1)  # fmt: skip
    else:
        img = np.stack([0.5 + 0.35 * np.sin(x / 11.0) + 0 * y, 0.4 + 0.3 * np.cos(y / 7.0 + x / 17.0),
                        0.3 + 0.2 * np.sin((x + y) / 13.0)], -1)  # fmt: skip
        cx, cy = 70 - 3 * k, 30 + k
        disc = (np.arange(W)[None, :] - cx) ** 2 + (y - cy) ** 2 < 12**2
        img[disc] = (0.9, 0.85, 0.2)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_clip(path: Path, frames: int = 12, fps: int = 12, audio: bool = True, rotation: int = 0,
              cut_at: int | None = None) -> Path:  # fmt: skip
    """An H.264 clip (with an AAC tone) encoded by PyAV."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.codec_context.options = {"crf": "12", "threads": "1"}
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(scene(k, cut_at=cut_at), format="rgb24")
            frame.pts = k
            frame.time_base = Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(int(16000 * frames / fps)) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for s in range(0, tone.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, s : s + 1024]), format="fltp",
                                                layout="mono")  # fmt: skip
                af.sample_rate, af.pts, af.time_base = 16000, s, Fraction(1, 16000)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("brushwork: error:") and all(w in lines[0] for w in words), lines[0]


def streams(path: Path) -> dict[str, tuple]:
    with av.open(str(path)) as c:
        out = {"video": (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height,
                         sum(1 for _ in c.decode(video=0)))}  # fmt: skip
    with av.open(str(path)) as c:
        if c.streams.audio:
            out["audio"] = (c.streams.audio[0].codec_context.name, float(c.streams.audio[0].duration
                                                                           * c.streams.audio[0].time_base))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "pan.mp4")


@pytest.fixture(scope="module")
def painted(clip, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("painted") / "film"
    r = run_cli("paint", str(clip), "-o", str(out), "--size", "96", "--strokes", "150", "--threads", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "12 frames" in r.stdout and "warping error" in r.stdout
    return out


def test_clip_paints_end_to_end_with_its_sound(painted):
    files = {p.name for p in painted.iterdir()}
    assert {"painting.mp4", "comparison.mp4", "frames.jsonl", "strokes", "frames", "video.json"} <= files
    film = streams(painted / "painting.mp4")
    assert film["video"] == (W, H, 12)
    assert film["audio"][0] == "aac" and abs(film["audio"][1] - 1.0) < 0.15  # 12 frames at 12 fps
    side = streams(painted / "comparison.mp4")
    assert side["video"][:2] == (2 * W + 8, H) and side["video"][2] == 12
    rows = [json.loads(line) for line in (painted / "frames.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in rows] == list(range(12))
    for r in rows:
        assert {"seconds", "added", "moved", "removed", "psnr", "strokes", "source", "time"} <= set(r)
        assert r["psnr"] > 18
    assert all(abs(r["strokes"] - 150) <= 15 for r in rows)  # later frames keep about N alive


def test_frame_strokes_render_to_the_frame(painted, tmp_path):
    """Each frame's strokes file loads as a strokes file, and the real brush repaints the frame's PNG."""
    out = tmp_path / "f7.png"
    r = run_cli("render", str(painted / "strokes" / "000007.npz"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(painted / "frames" / "000007.png")))


def test_strokes_persist_and_flicker_less_than_independent_frames(painted, clip):
    ids = [np.load(painted / "strokes" / f"{k:06d}.npz")["ids"] for k in range(12)]
    for k in range(1, 12):
        assert np.isin(ids[k], ids[k - 1]).mean() > 0.7  # most strokes of frame t descend from t-1's
    rows = [json.loads(line) for line in (painted / "frames.jsonl").read_text().splitlines()]
    assert sum(r["moved"] for r in rows[1:]) > 0  # the pan moves strokes
    # the same frames painted one by one, with the same strokes a frame
    info = probe(clip)
    frames = [f for _, f in read_frames(info, list(range(4, 8)), size=96)]
    pipe = PaintPipeline.from_pretrained("classic/dry_brush", size=96)
    alone = [pipe(f, strokes=150, seed=k, progress=False).image for k, f in enumerate(frames)]
    coherent = [np.asarray(Image.open(painted / "frames" / f"{k:06d}.png"), np.float32) / 255 for k in range(4, 8)]
    pairs = [frame_flow(frames[k - 1], frames[k]) for k in range(1, 4)]
    we_alone = np.mean([warping_error(alone[k - 1], alone[k], pairs[k - 1]) for k in range(1, 4)])
    we_coherent = np.mean([warping_error(coherent[k - 1], coherent[k], pairs[k - 1]) for k in range(1, 4)])
    assert we_coherent < 0.5 * we_alone, (we_coherent, we_alone)


def test_scene_cut_starts_afresh(tmp_path):
    clip = make_clip(tmp_path / "cut.mp4", frames=8, audio=False, cut_at=5)
    film = VideoPipeline.from_pretrained("classic/dry_brush", size=96)(clip, tmp_path / "o", strokes=100,
                                                                      progress=False)  # fmt: skip
    cuts = [r["frame"] for r in film.rows if r["cut"]]
    assert cuts == [5]
    before = np.load(tmp_path / "o" / "strokes" / "000004.npz")["ids"]
    after = np.load(tmp_path / "o" / "strokes" / "000005.npz")["ids"]
    assert not np.isin(after, before).any()
    assert "audio" not in streams(tmp_path / "o" / "painting.mp4")


def test_rotation_metadata_is_honoured(tmp_path):
    """A phone clip stored sideways comes out the way FFmpeg's own player shows it."""
    clip = make_clip(tmp_path / "phone.mp4", frames=3, audio=False, rotation=90)
    info = probe(clip)
    assert (info.width, info.height, info.rotation) == (H, W, 90)
    ours = next(read_frames(info, [0]))[1]
    ref = tmp_path / "ref.png"
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg (apt) is installed by scripts/bootstrap.sh"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(clip), "-frames:v", "1", str(ref)], check=True)
    theirs = np.asarray(Image.open(ref).convert("RGB"), np.float32) / 255
    assert ours.shape == theirs.shape == (W, H, 3)
    assert np.abs(ours - theirs).mean() < 0.02
    assert np.abs(ours - np.rot90(theirs, 2)).mean() > 0.05  # not the other way up


def test_sigterm_then_resume_gives_the_same_bytes(clip, painted, tmp_path):
    out = tmp_path / "film"
    args = ["paint", str(clip), "-o", str(out), "--size", "96", "--strokes", "150", "--threads", "1", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-m", "brushwork.cli", *args], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "strokes" / "000004.npz").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "--resume" in err
    kept = sorted(p.name for p in (out / "strokes").iterdir())
    assert 5 <= len(kept) < 12 and not (out / "painting.mp4").exists()
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]  # nothing half-written
    r = run_cli(*args, "--resume")
    assert r.returncode == 0, r.stderr
    for k in range(12):
        name = f"{k:06d}.npz"
        assert (out / "strokes" / name).read_bytes() == (painted / "strokes" / name).read_bytes(), name
    assert (out / "painting.mp4").read_bytes() == (painted / "painting.mp4").read_bytes()


def test_corrupt_frame_is_named_and_held(tmp_path):
    """A frame FFmpeg cannot decode: one note naming it, the frame before it painted in its place."""
    path = tmp_path / "mj.avi"
    with av.open(str(path), "w", format="avi") as out:
        s = out.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = W, H, "yuvj420p"
        for k in range(8):
            out.mux(s.encode(av.VideoFrame.from_ndarray(scene(k), format="rgb24")))
        out.mux(s.encode(None))
    data = bytearray(path.read_bytes())
    soi = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[soi[4] : soi[5] - 8] = bytes(soi[5] - 8 - soi[4])  # frame 4's JPEG data, the AVI chunk kept
    path.write_bytes(data)
    r = run_cli("paint", str(path), "-o", str(tmp_path / "o"), "--size", "48", "--strokes", "40", "--steps", "3",
                "--threads", "1", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "frame 4" in line]
    assert len(notes) == 1 and "could not be decoded" in notes[0]
    assert streams(tmp_path / "o" / "painting.mp4")["video"][2] == 8


def test_bad_clips_give_one_line_and_write_nothing(tmp_path, clip, monkeypatch):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video\n")
    out = tmp_path / "o"
    one_line_error(run_cli("paint", str(fake), "-o", str(out)), "notes.mp4", "not a video")
    sound = tmp_path / "sound.mp4"
    with av.open(str(sound), "w") as c:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for s in range(0, 16000, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, s, Fraction(1, 16000)
            c.mux(a.encode(af))
        c.mux(a.encode(None))
    one_line_error(run_cli("paint", str(sound), "-o", str(out)), "no video stream")
    empty = tmp_path / "empty.mkv"
    with av.open(str(empty), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        c.mux(v.encode(None))
    one_line_error(run_cli("paint", str(empty), "-o", str(out)), "empty.mkv")
    one_line_error(run_cli("paint", str(clip), "-o", str(out), "--frames", "5:40"), "outside", "12 frames")
    one_line_error(run_cli("paint", str(clip), "-o", str(out), "--frames", "x"), "--frames must be A:B")
    one_line_error(run_cli("paint", str(clip), "-o", str(out), "--fps", "50"), "--fps 50")
    one_line_error(run_cli("paint", str(clip), "-o", str(out), "--resume"), "nothing to resume")
    assert not out.exists() or not any(out.iterdir())
    # a clip too long or too large for the limits, checked before any work (the limits made small here)
    from brushwork.errors import BrushworkError
    from brushwork.video import clip as clip_module

    monkeypatch.setattr(clip_module, "MAX_CLIP_FRAMES", 5)
    with pytest.raises(BrushworkError, match="more than the limit of 5"):
        probe(clip).select()
    assert len(probe(clip).select(frames=(0, 10), fps=6)) == 5  # --fps 6 halves the frames: fits
    monkeypatch.setattr(clip_module, "MAX_CANVAS", 64)
    with pytest.raises(BrushworkError, match="larger than the limit"):
        probe(clip)


def test_photos_and_clips_in_one_command(clip, tmp_path):
    photo = tmp_path / "still.png"
    Image.fromarray(scene(0)).save(photo)
    r = run_cli("paint", str(photo), str(clip), "-o", str(tmp_path / "o"), "--size", "64", "--strokes", "60",
                "--steps", "3", "--frames", "0:3", "--no-video", "--threads", "1", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o" / "still" / "painting.png").is_file()
    assert (tmp_path / "o" / "pan" / "painting.mp4").is_file()
    assert os.path.getsize(tmp_path / "o" / "pan" / "frames.jsonl") > 0
    assert len(load_strokes(tmp_path / "o" / "pan" / "strokes" / "000002.npz")) > 0
