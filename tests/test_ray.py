"""`brushwork paint --ray`: real Ray (a local one and a two-node cluster), real engine, real painter.

Ray binds the machine's own address; these tests run it inside a network namespace with only
loopback (`unshare -n`, then `ip link set lo up`), so its traffic stays on 127.0.0.1, and stop every
Ray process they start.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples"  # the four seed photos, bundled with the project
BIN = Path(sys.executable).parent
PAINT = ["paint", "--size", "96", "--strokes", "100", "--steps", "3", "--threads", "1", "--quiet"]

# Ray is looked up, not imported: importing it here would change this test process for later tests
pytestmark = [
    pytest.mark.skipif(
        shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode,
        reason="needs a network namespace (unshare -n) to keep Ray on loopback",
    ),
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the ray extra"),
]


def in_namespace(script: str, timeout: float = 400) -> subprocess.CompletedProcess:
    """Run a bash script in a network namespace with only loopback, brushwork's venv first on PATH."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_AUTH_MODE": "token", "OMP_WAIT_POLICY": "PASSIVE"}  # fmt: skip
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(["unshare", "-n", "bash", "-c", "ip link set lo up\n" + script], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Four small photos (crops of the seed photos) in one folder."""
    d = tmp_path_factory.mktemp("photos")
    paths = []
    for k, src in enumerate(sorted(SEED.iterdir())[:4]):
        im = np.asarray(Image.open(src).convert("RGB"))
        h, w = im.shape[:2]
        crop = im[h // 4 : h // 4 + min(h, w) // 2, w // 4 : w // 4 + min(h, w) // 2]
        Image.fromarray(crop).save(d / f"p{k}.png")
        paths.append(d / f"p{k}.png")
    return paths


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory) -> Path:
    """The same photos painted by one process, one thread (what every Ray run must equal byte for byte)."""
    out = tmp_path_factory.mktemp("sequential")
    r = subprocess.run([str(BIN / "brushwork"), *PAINT, *map(str, photos), "-o", str(out)], capture_output=True,
                       text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def clip_reference(clip, tmp_path_factory) -> Path:
    """The clip in chunks of 6 frames, painted by one process with one thread."""
    out = tmp_path_factory.mktemp("sequential-clip") / "pan"
    r = subprocess.run([str(BIN / "brushwork"), *PAINT, str(clip), "--chunk-frames", "6", "-o", str(out)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def same_film(a: Path, b: Path) -> None:
    """Same frames, strokes, films and settings (frames.jsonl differs: it holds each frame's seconds)."""
    for sub in ("frames", "strokes"):
        same_files(a / sub, b / sub)
    names = ["painting.mp4", "comparison.mp4", "video.json"]
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
    def rows(folder: Path) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in (folder / "frames.jsonl").read_text().splitlines()]  # fmt: skip

    assert rows(a) == rows(b)


def same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def test_local_ray_paints_the_same_bytes_reports_a_bad_photo_and_resumes(photos, reference, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image\n")
    out = tmp_path / "out"
    args = " ".join([*PAINT, str(photos[0]), str(bad), str(photos[1]), "-o", str(out), "--ray"])
    r = in_namespace(f"brushwork {args}; echo rc=$?")
    assert "rc=2" in r.stdout, r.stdout + r.stderr
    failures = [line for line in r.stderr.splitlines() if line.startswith("brushwork: failed:")]
    assert len(failures) == 1 and "bad.png" in failures[0] and "not an image" in failures[0]
    assert "2 painted, 0 skipped, 1 failed" in r.stdout
    assert "Traceback" not in r.stderr
    for k in (0, 1):
        same_files(reference / f"p{k}", out / f"p{k}")
    assert not (out / "bad").exists()  # a photo that failed leaves no folder

    # the driver killed after one photo: --resume paints only what is missing
    shutil.rmtree(out / "p1")
    args = " ".join([*PAINT, str(photos[0]), str(photos[1]), "-o", str(out), "--ray", "--resume"])
    r = in_namespace(f"brushwork {args}; echo rc=$?")
    assert "rc=0" in r.stdout, r.stdout + r.stderr
    assert "1 painted, 1 skipped, 0 failed" in r.stdout
    same_files(reference / "p1", out / "p1")


def test_two_node_cluster_survives_a_killed_worker(photos, clip, reference, clip_reference, tmp_path):
    """Four photos and a clip in two chunks on two nodes, one worker's process killed mid-run."""
    out = tmp_path / "out"
    port = 26379
    args = " ".join([*PAINT, *map(str, photos), str(clip), "--chunk-frames", "6", "-o", str(out), "--ray",
                     f"127.0.0.1:{port}"])  # fmt: skip
    script = f"""
trap 'ray stop --force >/dev/null 2>&1' EXIT
ray start --head --port {port} --num-cpus 1 --include-dashboard false --disable-usage-stats >/dev/null 2>&1
ray start --address 127.0.0.1:{port} --num-cpus 1 --disable-usage-stats >/dev/null 2>&1
brushwork {args} > {tmp_path}/log 2>&1 &
paint=$!
for i in $(seq 1 1200); do  # once a first photo is written, kill a painter's process mid-photo
  if ls {out}/*/painting.png >/dev/null 2>&1; then break; fi; sleep 0.1
done
pkill -9 -o -f '^ray::PainterActor' && echo killed
wait $paint; echo rc=$?
cat {tmp_path}/log
"""
    t = time.time()
    r = in_namespace(script)
    assert "rc=0" in r.stdout, r.stdout + r.stderr
    assert "killed" in r.stdout, r.stdout  # a worker really died mid-run
    assert "5 painted, 0 skipped, 0 failed (2 Ray workers" in r.stdout, r.stdout
    for k in range(4):
        same_files(reference / f"p{k}", out / f"p{k}")
    same_film(clip_reference, out / "pan")
    assert time.time() - t < 400


def test_an_unreachable_cluster_is_one_line(photos, tmp_path):
    t = time.time()
    r = in_namespace(f"brushwork {' '.join(PAINT)} {photos[0]} -o {tmp_path / 'o'} --ray 127.0.0.1:9")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["brushwork: error: cannot join the Ray cluster at 127.0.0.1:9: "
                                             "Connection refused"]  # fmt: skip
    assert time.time() - t < 30
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_more_threads_than_any_node_has_is_one_line(photos, tmp_path):
    """An actor no node can hold would wait for ever."""
    t = time.time()
    r = in_namespace(f"brushwork {' '.join(PAINT)} {photos[0]} -o {tmp_path / 'o'} --ray --threads 64; echo rc=$?")
    assert "rc=2" in r.stdout, r.stdout + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("brushwork: error:")]
    assert len(errors) == 1 and "--threads 64 is more than any Ray node has" in errors[0], r.stderr
    assert time.time() - t < 60
