"""Files and streams a user gets wrong: no painting lost or written outside its folder (names, links,
staging left by a killed run, --init in place), photos from pipes, outputs that are folders, closed or
full stdout and stderr. Real CLI, real engine and painter (small photos, few strokes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.batch.sources import output_folders
from brushwork.painting.outputs import STAGING_PREFIX
from brushwork.painting.strokes_files import load as load_strokes

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FAST = ["--size", "48", "--strokes", "30", "--steps", "2", "--threads", "1", "--no-video", "--quiet"]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.open(EXAMPLES / "castle.png").convert("RGB").resize((48, 48)).save(path)
    return path


@pytest.mark.parametrize(
    "names, folders",
    [
        (["a/x.png", "b/x.png", "c/x-2.png"], ["x", "x-3", "x-2"]),
        (["x-2.png", "a/x.png", "b/x.png", "c/x.png"], ["x-2", "x", "x-3", "x-4"]),
        (["...png", "a/..png", ".hidden.png", "b/.png"], ["image", "image-2", "hidden", "png"]),
    ],
)
def test_output_folder_names_never_collide_and_stay_inside(names, folders, tmp_path):
    got = output_folders(names, tmp_path)
    assert [f.name for f in got] == folders
    assert len(set(got)) == len(got)
    assert all(f.parent == tmp_path for f in got)


def test_same_names_from_several_folders_all_painted(photo, tmp_path):
    inputs = []
    for sub, name in (("a", "x.png"), ("b", "x.png"), ("c", "x-2.png"), ("d", "...png")):
        (tmp_path / sub).mkdir()
        inputs.append(tmp_path / sub / name)
        inputs[-1].write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    (tmp_path / "process.gif").write_bytes(b"a file beside the output folder, not ours")
    r = cli("paint", *map(str, inputs), "-o", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["image", "x", "x-2", "x-3"]
    assert all((out / name / "painting.png").is_file() for name in ("image", "x", "x-2", "x-3"))
    assert (tmp_path / "process.gif").read_bytes() == b"a file beside the output folder, not ours"
    assert not (tmp_path / "painting.png").exists()


def test_a_link_to_an_output_is_refused(photo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "painting.png").write_bytes(photo.read_bytes())
    link = tmp_path / "link.png"
    link.symlink_to(out / "painting.png")
    r = cli("paint", str(link), "-o", str(out), *FAST)
    assert r.returncode == 2 and "would overwrite" in r.stderr, r.stderr
    assert (out / "painting.png").read_bytes() == photo.read_bytes()


def test_staging_left_by_a_killed_run_is_cleared(photo, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = _dead_pid()
    stale = out / f"{STAGING_PREFIX}{dead}-abc"
    stale.mkdir()
    (stale / "painting.png").write_bytes(b"half written")
    live = out / f"{STAGING_PREFIX}{os.getpid()}-def"  # a running process's: left alone
    live.mkdir()
    r = cli("paint", str(photo), "-o", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and live.is_dir()
    assert (out / "painting.png").is_file()


def _dead_pid() -> int:
    """The id of a process that has ended."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_init_continues_a_painting_in_its_own_folder(photo, tmp_path):
    """The README's form: `paint photo --init OUT/strokes.json -o OUT`."""
    out = tmp_path / "out"
    r = cli("paint", str(photo), "-o", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    before = (out / "strokes.json").read_bytes()
    r = cli("paint", str(photo), "--init", str(out / "strokes.json"), "-o", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    assert (out / "strokes.json").read_bytes() != before
    assert '"strokes"' in (out / "strokes.json").read_text()
    # --refine: the same strokes optimised again, in place
    continued = load_strokes(out / "strokes.json")
    r = cli("paint", str(photo), "--init", str(out / "strokes.json"), "--refine", "-o", str(out), *FAST[:2], *FAST[4:])
    assert r.returncode == 0, r.stderr
    refined = load_strokes(out / "strokes.json")
    assert len(refined) == len(continued) and np.array_equal(refined.windows, continued.windows)
    r = cli("paint", str(photo), "--refine", "-o", str(tmp_path / "o2"), *FAST)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "--init" in lines[0], r.stderr
    assert not (tmp_path / "o2").exists()


def test_a_photo_from_a_pipe_paints_and_a_silent_named_pipe_is_one_line(photo, tmp_path):
    out = tmp_path / "out"
    script = f"{sys.executable} -m brushwork.cli paint <(cat {photo}) -o {out} {' '.join(FAST)}"
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (out / "painting.png").is_file()
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    r = cli("paint", str(fifo), "-o", str(tmp_path / "o2"), *FAST, timeout=60)  # nobody writes: no waiting
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "not an image" in lines[0], r.stderr


def test_render_into_a_folder_or_out_of_memory_is_one_line(photo, tmp_path):
    out = tmp_path / "out"
    r = cli("paint", str(photo), "-o", str(out), *FAST)
    assert r.returncode == 0, r.stderr
    (tmp_path / "x.png").mkdir()
    r = cli("render", str(out / "strokes.json"), "-o", str(tmp_path / "x.png"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "is a folder" in lines[0], r.stderr
    # 8192 px with 3 GB of address space: refused or out of memory, in one line either way
    script = (f"ulimit -v 3000000; {sys.executable} -m brushwork.cli render {out / 'strokes.json'} --size 8192 "
              f"-o {tmp_path / 'big.png'}")  # fmt: skip
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("brushwork: error:"), r.stderr


@pytest.mark.parametrize("redirect", [">/dev/full", "2>/dev/full", ">&- 2>&-", "</dev/null 2>&-"])
def test_a_full_or_closed_stdout_or_stderr_does_not_fail_a_painting(photo, tmp_path, redirect):
    out = tmp_path / "out"
    args = " ".join(FAST[:-1])  # with the progress bar and the result line: they are what fails to write
    script = f"{sys.executable} -m brushwork.cli paint {photo} -o {out} {args} {redirect}; echo rc=$? >&3"
    r = subprocess.run(["bash", "-c", f"exec 3>{tmp_path / 'rc'}; {script}"], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert (tmp_path / "rc").read_text().strip() == "rc=0", r.stderr
    assert (out / "painting.png").is_file()


def test_a_huge_16_bit_grey_png_is_reduced_in_bounded_memory(tmp_path):
    """13000 x 13000 16-bit grey (a few MB of PNG) used to take 3.5 GB: reduce() refused its mode."""
    import numpy as np

    big = tmp_path / "g16.png"
    a = (np.arange(13000 * 13000, dtype=np.uint32) % 65536).astype(np.uint16).reshape(13000, 13000)
    Image.fromarray(a).save(big, compress_level=1)
    del a
    code = (f"import resource; from brushwork.images import load_image; im = load_image({str(big)!r}); "
            "print(im.shape, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    shape, peak_kb = r.stdout.rsplit(")", 1)
    assert shape.strip() == "(4096, 4096, 3"
    assert int(peak_kb) < 2_000_000, peak_kb  # KB: under 2 GB, torch's import included


def test_a_16_bit_image_reduced_in_bands_is_the_whole_reduced():
    import numpy as np

    from brushwork.images import _reduce_16_bit

    rng = np.random.default_rng(0)
    for h, w, factor, rows in [(1000, 777, 3, 100), (1001, 500, 7, 64), (300, 301, 2, 5)]:
        im = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
        assert im.mode == "I;16"
        whole = im.convert("I").reduce(factor).convert("I;16")
        assert np.array_equal(np.asarray(_reduce_16_bit(im, factor, rows)), np.asarray(whole))


def test_an_ascii_terminal_and_a_file_where_a_folder_goes(photo, tmp_path):
    named = tmp_path / "château.png"
    named.write_bytes(photo.read_bytes())
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    r = subprocess.run([sys.executable, "-m", "brushwork.cli", "paint", str(named), "-o", str(tmp_path / "out"),
                        *FAST[:-1]], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert r.returncode == 0 and "ch?teau.png ->" in r.stdout, r.stderr
    afile = tmp_path / "afile"
    afile.write_text("")
    r = cli("train", "generator", "--run-dir", str(afile), "--data", str(tmp_path / "none"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("brushwork: error:"), r.stderr


def test_ctrl_c_during_dataset_generation_with_workers_is_one_line(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the workers leave it to the parent."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "brushwork.cli", "dataset", "generate", "--count", "200000",
                             "--workers", "2", "--out", str(tmp_path / "d"), "--quiet"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    time.sleep(4)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["brushwork: interrupted"], err


def test_a_shard_that_would_unpack_to_gigabytes_is_refused_from_its_headers(tmp_path):
    """A zip bomb: a 1 MB .npz whose header declares 400,000 strokes (4.6 GB) of zeros."""
    import zipfile

    import numpy as np

    folder = tmp_path / "bomb"
    folder.mkdir()
    n = 400_000
    with zipfile.ZipFile(folder / "shard_00000.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("strokes.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, 64, 64, 3)})
            f.write(bytes(1 << 24))  # 16 MB of the 4.6 GB it declares
        with zf.open("actions.npy", "w") as f:
            np.save(f, np.zeros((n, 12)))
    assert (folder / "shard_00000.npz").stat().st_size < 2 << 20
    for args in (("dataset", "preview", str(folder), "-o", str(tmp_path / "p.png")),
                 ("eval", "classic/dry_brush", "--data", str(folder))):  # fmt: skip
        r = cli(*args)
        assert r.returncode != 0 and "unpack to 4.6 GB" in r.stderr, r.stderr[-800:]
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "p.png").exists()
