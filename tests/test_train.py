"""Training stages end to end on a tiny data set, resume, determinism, DDP on 2 CPU processes, eval."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import stroke_data
from safetensors.torch import load_file

from brushwork.errors import BrushworkError
from brushwork.train import common as C
from brushwork.train import run as run_module
from brushwork.train.config import make_config

BRUSH = "classic/pen"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brushwork.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    return stroke_data(tmp_path_factory.mktemp("train-data"), BRUSH, train=256, heldout=96, heldout_seed=1, shard=64)


def train(run: Path, data, stage: str = "all", *extra: str) -> subprocess.CompletedProcess:
    return cli("train", stage, "--brush", BRUSH, "--preset", "smoke", "--data", str(data[0]), "--heldout",
               str(data[1]), "--run-dir", str(run), "--threads", "1", "--quiet", *extra)  # fmt: skip


def test_all_stages_write_their_outputs_and_eval_reports(data, tmp_path, monkeypatch):
    r = train(tmp_path / "run", data)
    assert r.returncode == 0, r.stderr
    run = tmp_path / "run"
    outputs = ["config.json", "metrics.jsonl", "loss_curves.png", "painter_generator.safetensors", "metrics.json",
               "discriminator.safetensors", "painter_gan.safetensors", "painter.safetensors"]  # fmt: skip
    for name in outputs:
        assert (run / name).exists(), name
    assert list((run / "generator").glob("samples_*.png")) and (run / "generator" / "checkpoint.pt").exists()
    summary = json.loads((run / "metrics.json").read_text())
    for stage in ("generator", "gan"):
        assert {"psnr", "alpha_l1", "fid", "discriminator_accuracy"} <= set(summary["metrics"][stage])
    assert summary["chosen"] in ("generator", "gan") and summary["data_seed"] == 0
    # the choice follows the rule (a better FID for at most 1 dB of PSNR); 96 held-out strokes are
    # too few for a separate validation split, so it is made on the test strokes and said so
    assert summary["validation_metrics"].startswith("none")
    val = summary["metrics"]
    gan_wins = val["gan"]["fid"] < val["generator"]["fid"] and val["gan"]["psnr"] >= val["generator"]["psnr"] - 1
    assert summary["chosen"] == ("gan" if gan_wins else "generator")
    # with enough held-out strokes the choice is made on a validation split disjoint from the test strokes
    monkeypatch.setattr(run_module, "EVAL_STROKES", 40)
    r = C.Run(dir=run, config=make_config("smoke", ["eval_strokes=40"]), brush=BRUSH, data=data[0], heldout=data[1])
    test, val = run_module.final_evaluation(r, {"gan": run / "painter_gan.safetensors"}, None)
    assert test["gan"]["strokes"] == 40 and val["gan"]["strokes"] == 40 and test["gan"] != val["gan"]
    # the GAN painter saved is the moving average of the weights, not the last step's weights
    ckpt = torch.load(run / "gan" / "checkpoint.pt", weights_only=True)
    shipped = load_file(run / "painter_gan.safetensors")
    assert all(torch.equal(shipped[k], ckpt["ema"][k]) for k in shipped)
    assert any(not torch.equal(shipped[k], ckpt["painter"][k]) for k in shipped)
    # --resume continues stage 3, also from a checkpoint written before the average was kept
    del ckpt["ema"]
    torch.save(ckpt, run / "gan" / "checkpoint.pt")
    r = train(run, data, "gan", "--resume", "--set", "gan_steps=6")
    assert r.returncode == 0, r.stderr
    assert torch.load(run / "gan" / "checkpoint.pt", weights_only=True)["step"] == 6
    # a truncated checkpoint (a disk that filled, a copy cut short) is one line, not a traceback
    whole = (run / "gan" / "checkpoint.pt").read_bytes()
    (run / "gan" / "checkpoint.pt").write_bytes(whole[: len(whole) // 2])
    r = train(run, data, "gan", "--resume", "--set", "gan_steps=8")
    assert r.returncode == 2 and "cannot resume from this checkpoint" in r.stderr and "Traceback" not in r.stderr
    (run / "gan" / "checkpoint.pt").write_bytes(whole)
    r = cli("eval", str(run / "painter.safetensors"), "--data", str(data[1]), "--strokes", "50",
            "--discriminator", str(run / "discriminator_gan.safetensors"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["strokes"] == 50 and 0 <= report["discriminator_accuracy"] <= 1 and report["psnr"] > 5


def test_resume_and_determinism(data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(a, data, "generator", "--seed", "3").returncode == 0
    assert train(b, data, "generator", "--seed", "3").returncode == 0
    wa, wb = load_file(a / "painter_generator.safetensors"), load_file(b / "painter_generator.safetensors")
    assert all((wa[k] == wb[k]).all() for k in wa)
    r = train(a, data, "generator", "--seed", "3", "--resume", "--set", "generator_steps=9")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    assert max(steps) >= 6  # continued past the first run's 6 steps, not from 0
    keys = [(r["stage"], r["step"]) for r in rows]
    assert len(keys) == len(set(keys))  # no row written twice by the resumed run
    r = train(tmp_path / "c", data, "gan")
    assert r.returncode == 2 and "run the earlier stage first" in r.stderr


def test_an_interrupted_discriminator_stage_resumes_to_the_same_weights(data, tmp_path):
    # the one loop resumes every stage the same way; stage 2 (constant rate) must then match a straight run
    a, b = tmp_path / "a", tmp_path / "b"
    assert train(a, data, "generator").returncode == 0
    b.mkdir()
    (b / "painter_generator.safetensors").write_bytes((a / "painter_generator.safetensors").read_bytes())
    assert train(a, data, "discriminator", "--set", "discriminator_steps=4").returncode == 0
    assert train(b, data, "discriminator", "--set", "discriminator_steps=2").returncode == 0
    r = train(b, data, "discriminator", "--resume", "--set", "discriminator_steps=4")
    assert r.returncode == 0, r.stderr
    wa, wb = load_file(a / "discriminator.safetensors"), load_file(b / "discriminator.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resumed_batches_continue_the_order(data, tmp_path):
    run = C.Run(dir=tmp_path, config=make_config("smoke"), brush=BRUSH, data=data[0], heldout=None, seed=5)
    straight = C.batches(run)
    for _ in range(23):  # past the first epoch (256 strokes / 16 = 16 batches)
        next(straight)
    resumed = next(C.batches(run, skip=23))
    assert torch.equal(next(straight)["actions"], resumed["actions"])


def test_two_cpu_processes_with_torchrun(data, tmp_path):
    run = tmp_path / "ddp"
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
         "-m", "brushwork.cli", "train", "generator", "--brush", BRUSH, "--preset", "smoke", "--data",
         str(data[0]), "--heldout", str(data[1]), "--run-dir", str(run), "--threads", "1", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    # each rank prints the digest of the weights it ended with: both trained the same painter, the one saved
    digests = dict(re.findall(r"rank (\d)/2: generator weights sha256 ([0-9a-f]{64})", r.stderr))
    assert set(digests) == {"0", "1"}, r.stderr[-2000:]
    saved = C.weights_digest(load_file(run / "painter_generator.safetensors"))
    assert digests["0"] == digests["1"] == saved


def test_config_overrides_are_checked():
    assert make_config("smoke", ["generator_steps=7", "painter_channels=8,8,8,8,8"]).generator_steps == 7
    with pytest.raises(BrushworkError, match="unknown config key 'generatr_steps'"):
        make_config("default", ["generatr_steps=3"])
    with pytest.raises(BrushworkError, match="not a valid int"):
        make_config("default", ["generator_steps=many"])
    with pytest.raises(BrushworkError, match="unknown preset"):
        make_config("huge")
    with pytest.raises(BrushworkError, match="r1_every must be at least 1"):
        make_config("default", ["r1_every=0"])
    # every setting of the loop is in the config: Adam betas, warm-up, logging cadence
    cfg = make_config("default", ["gan_betas=0.4,0.9", "warmup_steps=10", "log_every=5"])
    assert cfg.gan_betas == (0.4, 0.9) and cfg.warmup_steps == 10 and cfg.log_every == 5
    with pytest.raises(BrushworkError, match="generator_betas must be two numbers in"):
        make_config("default", ["generator_betas=0.9,1.5"])


def test_loss_curves_one_panel_per_stage(tmp_path):
    from PIL import Image

    run = C.Run(dir=tmp_path, config=make_config("smoke"), brush=BRUSH, data=tmp_path, heldout=None)
    rows = [{"stage": "generator", "step": s, "loss": 10.0**-s, "alpha_l1": 0.1} for s in range(4)]
    rows += [{"stage": "generator_eval", "step": 4, "psnr": 20.0}, {"stage": "gan", "step": 0, "adv": -0.5}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = C.plot_curves(run)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.width == 2 * 550  # two stages logged: two panels side by side


@pytest.mark.parametrize("setting, words", [("batch_size=65", "larger than every shard"),
                                            ("batch_size=100000000", "at most 4096"),
                                            ("generator_steps=1000000000", "at most")])  # fmt: skip
def test_a_batch_or_count_that_could_never_run_is_one_line(data, tmp_path, setting, words):
    """Shards of 64 strokes and a batch of 65 once looped for ever without a word."""
    t = time.time()
    r = train(tmp_path / "run", data, "generator", "--set", "generator_steps=5", "--set", setting)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and words in lines[-1] and "Traceback" not in r.stderr, r.stderr
    assert time.time() - t < 120
