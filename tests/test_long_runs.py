"""Long paintings are safe (issue 18): a photo's painting is checkpointed after every level, an
interrupted run goes on with --resume to the same bytes as an uninterrupted one, and each level's
line tells the time left. Real painter, real engine, the CLI in fresh processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from brushwork.errors import BrushworkError
from brushwork.painting.outputs import CHECKPOINT
from brushwork.painting.pipeline import PaintPipeline
from brushwork.painting.schedule import Progress

PHOTO = Path(__file__).resolve().parents[1] / "examples" / "castle.png"
ARGS = ["--size", "160", "--strokes", "600", "--steps", "8", "--threads", "1"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("whole") / "castle"
    r = run_cli("paint", str(PHOTO), "-o", str(out), *ARGS)
    assert r.returncode == 0, r.stderr
    return out, r.stderr


def test_each_level_says_how_long_is_left(uninterrupted):
    out, err = uninterrupted
    lines = [line for line in err.splitlines() if "done:" in line]
    assert [line.split("level ")[1].split(" ")[0] for line in lines] == ["1/4", "2/4", "3/4", "4/4"], err
    assert all("left" in line for line in lines[:-1]) and "left" not in lines[-1]
    assert "600 of 600 strokes" in lines[-1]
    assert not (out / CHECKPOINT).exists()  # removed once the files were written


def test_sigterm_between_levels_then_resume_gives_the_same_bytes(uninterrupted, tmp_path):
    whole, _ = uninterrupted
    out = tmp_path / "castle"
    cmd = [sys.executable, "-m", "brushwork.cli", "paint", str(PHOTO), "-o", str(out), *ARGS]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / CHECKPOINT).exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "--resume" in err.splitlines()[-1]
    assert not (out / "painting.png").exists() and not [p for p in out.rglob("*") if ".tmp-" in p.name]
    with np.load(out / CHECKPOINT) as z:
        done = len(json.loads(str(z["meta"]))["level_ends"])
    assert 1 <= done < 4  # stopped between levels, with levels still to paint

    r = run_cli("paint", str(PHOTO), "-o", str(out), *ARGS, "--resume")
    assert r.returncode == 0, r.stderr
    assert f"after level {done}/4" in r.stderr
    names = sorted(p.name for p in whole.iterdir())
    assert sorted(p.name for p in out.iterdir()) == names  # the checkpoint is gone too
    for name in names:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_checkpoint_of_another_painting_is_refused_in_one_line(tmp_path):
    pipe = PaintPipeline.from_pretrained()
    ckpt = tmp_path / CHECKPOINT

    def stop(p: Progress) -> None:
        if p.step == 0 and p.level == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipe(PHOTO, strokes=200, size=96, steps=2, progress=False, checkpoint=ckpt, on_progress=stop)
    with np.load(ckpt) as z:
        assert len(json.loads(str(z["meta"]))["level_ends"]) == 1
    with pytest.raises(BrushworkError, match="another painting's") as e:
        pipe(PHOTO, strokes=200, size=96, steps=2, seed=1, progress=False, checkpoint=ckpt, resume=True)
    assert "\n" not in str(e.value)
    # the same call goes on from it; without resume the checkpoint is only written over
    resumed = pipe(PHOTO, strokes=200, size=96, steps=2, progress=False, checkpoint=ckpt, resume=True)
    whole = pipe(PHOTO, strokes=200, size=96, steps=2, progress=False)
    assert np.array_equal(resumed.image, whole.image) and np.array_equal(resumed.strokes.actions, whole.strokes.actions)
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(BrushworkError, match="not a painting checkpoint"):
        pipe(PHOTO, strokes=200, size=96, steps=2, progress=False, checkpoint=ckpt, resume=True)


def test_the_time_left_is_near_the_time_it_takes():
    """Halfway through, the ETA (levels weighed by the cost model, at the pace so far) is within 2x of
    the painting seconds that are left -- levels counted equally undershot 4x."""
    seen: list[tuple[float, float, float | None]] = []

    def record(p: Progress) -> None:
        seen.append((p.fraction, p.seconds, p.eta))

    PaintPipeline.from_pretrained()(PHOTO, strokes=800, size=192, steps=8, progress=False, on_progress=record)
    end = seen[-1][1]
    mid = next((f, s, eta) for f, s, eta in seen if f >= 0.4 and eta is not None)
    ratio = mid[2] / (end - mid[1])
    assert 0.5 < ratio < 2.0, (mid, end, ratio)


def test_a_canvas_that_cannot_fit_is_refused_before_any_work_saying_what_fits(tmp_path):
    """Under a 6 GB address space a 8192 px painting (about 11 GB) is one line naming a size that fits."""
    import resource

    from brushwork.limits import painting_bytes

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (6_000_000_000, 6_000_000_000))

    out = tmp_path / "big"
    r = subprocess.run([sys.executable, "-m", "brushwork.cli", "paint", str(PHOTO), "-o", str(out), "--size", "8192"],
                       capture_output=True, text=True, timeout=120, preexec_fn=limit)  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "painting needs about" in lines[0] and "GB are free" in lines[0], r.stderr
    fits = int(lines[0].split("--size ")[1].split(")")[0])
    assert 512 <= fits < 8192 and painting_bytes(fits, fits) < 6_000_000_000
    assert not out.exists()  # refused before any folder or file


def test_poster_picks_print_size_settings_unless_given(tmp_path):
    """`--poster` fills in what the user did not give: here the canvas and stroke count are given (a
    small stand-in), so the preset's 16 px smallest window and 30 steps a level must show."""
    out = tmp_path / "poster"
    r = run_cli("paint", str(PHOTO), "-o", str(out), "--poster", "--size", "256", "--strokes", "200",
                "--threads", "1", "--no-video")  # fmt: skip
    assert r.returncode == 0, r.stderr
    strokes = json.loads((out / "strokes.json").read_text())["strokes"]
    assert len(strokes) == 200 and min(s["window"][2] for s in strokes) == 16
    assert "/30" in r.stderr and "/15" not in r.stderr  # every level's progress counts 30 steps
