"""`brushwork train generator | discriminator | gan | all`: the three stages in order, for one brush.

Run folder (default runs/<brush>):
    config.json, metrics.jsonl, loss_curves.png
    generator/ discriminator/ gan/      checkpoints (--resume) and sample grids (engine above, painter below)
    painter_generator.safetensors       stage 1
    discriminator.safetensors           stage 2
    painter_gan.safetensors, discriminator_gan.safetensors   stage 3
    painter.safetensors, metrics.json   the final painter and its held-out evaluation
    painter_init.safetensors            a fine-tune's starting painter (--init), scored in metrics.json too
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from brushwork.actions import FIELDS
from brushwork.engine import require_learnable, resolve_brush
from brushwork.errors import BrushworkError
from brushwork.train import common as C
from brushwork.train.config import make_config

HELDOUT_SEED_OFFSET = 1_000  # held-out strokes come from another seed than the training strokes
EVAL_STROKES = 2_000  # final evaluation (the FID needs a few thousand; 2,000 is the floor we accept)


def slug(brush: str) -> str:
    return brush.removesuffix(".myb").replace("/", "__")


def _ensure_data(run: C.Run, generate: bool) -> None:
    from brushwork.data.generate import generate_dataset, missing_shards

    cfg = run.config
    wanted = [
        (run.data, cfg.train_strokes, run.seed, "training"),
        (run.heldout, cfg.heldout_strokes, run.seed + HELDOUT_SEED_OFFSET, "held-out"),
    ]
    for folder, count, seed, what in wanted:
        if folder is None:
            continue
        status = missing_shards(folder) if folder.is_dir() else None
        if status is not None and status[0] and not generate:  # an interrupted generation: never train on part
            raise BrushworkError(
                f"the {what} data set in {folder} is incomplete ({status[1] - len(status[0])} of {status[1]} "
                "shards); finish it with 'brushwork train all' or 'brushwork dataset generate' with the same settings"
            )
        if status is None and folder.is_dir() and any(folder.glob("*.npz")):
            continue  # shards without a manifest (e.g. Kaggle's): used as they are
        if status is not None and not status[0]:
            continue  # complete
        if not generate:
            raise BrushworkError(f"no {what} shards in {folder}: pass --data/--heldout or run 'brushwork train all'")
        if run.is_main:
            print(f"generating {count} {what} strokes with {run.brush} into {folder}", file=sys.stderr)
            shard = min(10_000, count)
            generate_dataset(folder, run.brush, count=count, seed=seed, shard_size=shard, progress=run.progress)
        C.barrier()


def load_init(spec: str) -> tuple[torch.nn.Module, dict]:
    """The painter `--init` names (a shipped brush or a painter file), ready to train, and where it came from.

    Any file that is not a painter is one BrushworkError (Painter.from_pretrained checks format,
    architecture and weights), before any data is painted or any folder written.
    """
    from brushwork.models.painter import Painter
    from brushwork.models.registry import painter_path

    path = painter_path(spec)
    painter = Painter.from_pretrained(path)
    origin = {"painter": spec, "brush": painter.metadata.get("brush", "unknown"),
              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}  # fmt: skip
    return painter.train().requires_grad_(True), origin


def final_evaluation(run: C.Run, painters: dict[str, Path], disc_path: Path | None) -> tuple[dict, dict | None]:
    """(test, validation) held-out metrics for each painter file; FID needs the MobileNetV2 weights.

    The first EVAL_STROKES held-out strokes are the reported test set; the next EVAL_STROKES are a
    validation set to choose between the stage-1 and GAN painters, so the reported numbers are not
    the ones the choice was made on. A held-out set too small for both gives validation None.
    """
    from brushwork.models.discriminator import Discriminator
    from brushwork.models.features import FID_LAYERS, FeatureExtractor
    from brushwork.models.painter import Painter
    from brushwork.train.evaluate import load_heldout, stroke_metrics

    n = max(run.config.eval_strokes, EVAL_STROKES)
    held = load_heldout(run.heldout, 2 * n)
    test = {k: v[:n] for k, v in held.items()}
    val = {k: v[n:] for k, v in held.items()} if len(held["actions"]) >= 2 * n else None
    extractor = FeatureExtractor.mobilenet_v2(layers=FID_LAYERS)
    disc = Discriminator.from_pretrained(disc_path) if disc_path and disc_path.exists() else None
    models = {name: Painter.from_pretrained(p) for name, p in painters.items()}
    metrics = lambda data: {name: stroke_metrics(m, data, extractor, disc) for name, m in models.items()}  # noqa: E731
    return metrics(test), (metrics(val) if val is not None else None)


def run_training(args: argparse.Namespace) -> None:
    from brushwork.models.discriminator import Discriminator
    from brushwork.models.features import FeatureExtractor
    from brushwork.models.painter import Painter
    from brushwork.train.discriminator import train_discriminator
    from brushwork.train.gan import train_gan
    from brushwork.train.generator import train_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    info = require_learnable(resolve_brush(args.brush))
    cfg = make_config(args.preset or ("finetune" if args.init else "default"), args.set)
    init, origin = None, None
    if args.init:
        if args.stage not in ("all", "generator"):
            raise BrushworkError("--init starts the generator stage: use it with 'train all' or 'train generator'")
        if any(item.replace("-", "_").startswith("painter_channels") for item in args.set):
            raise BrushworkError("--init keeps the starting painter's architecture: drop --set painter_channels")
        init, origin = load_init(args.init)
        if init.wet and not info.wet:
            raise BrushworkError(f"--init {args.init} is a wet (smudging) brush's painter; {info.name} is dry: "
                                 "start it from a dry painter")  # fmt: skip
        cfg = cfg.replace(painter_channels=tuple(init.config.channels))
    rank, world = C.setup_distributed()
    run_dir = Path(args.run_dir or f"runs/{slug(info.name)}")
    data = Path(args.data or f"data/{slug(info.name)}/train")
    heldout = Path(args.heldout) if args.heldout else (None if args.data else Path(f"data/{slug(info.name)}/heldout"))
    run = C.Run(dir=run_dir, config=cfg, brush=info.name, data=data, heldout=heldout, seed=args.seed,
                rank=rank, world_size=world, progress=not args.quiet, init=origin, wet=info.wet)  # fmt: skip
    if args.resume:
        _check_resume(run)
    run_dir.mkdir(parents=True, exist_ok=True)
    init_file = run_dir / "painter_init.safetensors"
    if run.is_main and init is not None:  # kept as it was before training changes it: scored at the end
        init.save_pretrained(init_file, {"brush": origin["brush"], "stage": "init"})
    elif run.is_main and not args.resume and args.stage in ("all", "generator"):
        init_file.unlink(missing_ok=True)  # a new stage 1 from scratch: an earlier fine-tune's start is not its
    command = (
        "brushwork " + shlex.join(sys.argv[1:]) if sys.argv and "brushwork" in sys.argv[0] else shlex.join(sys.argv)
    )
    commands = run.save_config(command)
    _ensure_data(run, generate=args.stage == "all")
    C.seed_everything(args.seed)

    # the perceptual loss's network (MobileNetV2 or the user's VGG19), built once for all stages
    extractor = FeatureExtractor.vgg19(args.vgg19) if args.vgg19 else FeatureExtractor.mobilenet_v2()
    meta = {"brush": info.name, "action_fields": ",".join(FIELDS),
            "command": " && ".join(commands), "data_seed": str(args.seed), "data": str(data),
            **({"init": origin} if origin else {})}  # fmt: skip
    stages = ["generator", "discriminator", "gan"] if args.stage == "all" else [args.stage]
    p_gen, p_disc = run_dir / "painter_generator.safetensors", run_dir / "discriminator.safetensors"
    p_gan, p_disc_gan = run_dir / "painter_gan.safetensors", run_dir / "discriminator_gan.safetensors"

    for stage in stages:
        if stage == "generator":
            painter = train_generator(run, painter=init, resume=args.resume, extractor=extractor)
            if run.is_main:
                painter.save_pretrained(p_gen, {**meta, "stage": "generator"})
        elif stage == "discriminator":
            painter = Painter.from_pretrained(_need(p_gen))
            disc = train_discriminator(run, painter, resume=args.resume)
            if run.is_main:
                disc.save_pretrained(p_disc, {**meta, "stage": "discriminator"})
        else:
            painter, disc = Painter.from_pretrained(_need(p_gen)), Discriminator.from_pretrained(_need(p_disc))
            painter, disc = train_gan(run, painter, disc, resume=args.resume, extractor=extractor)
            if run.is_main:
                painter.save_pretrained(p_gan, {**meta, "stage": "gan"})
                disc.save_pretrained(p_disc_gan, {**meta, "stage": "gan"})
        if world > 1:  # every rank says what it ended with: the DDP test checks they agree
            trained = disc if stage == "discriminator" else painter  # the painter: the file saved for gan
            print(f"rank {rank}/{world}: {stage} weights sha256 {C.weights_digest(trained.state_dict())}",
                  file=sys.stderr)  # fmt: skip
        C.plot_curves(run)

    if run.is_main and "gan" in stages and run.heldout is not None:
        painters = {"generator": p_gen, "gan": p_gan}
        if init_file.exists():  # the starting painter, scored on this brush's held-out strokes too
            painters["init"] = init_file
        metrics, validation = final_evaluation(run, painters, p_disc_gan)
        if validation is None:
            print(f"warning: fewer than {2 * EVAL_STROKES} held-out strokes, so the GAN painter is chosen on the "
                  "reported test strokes themselves", file=sys.stderr)  # fmt: skip
        judged = validation or metrics
        gen, gan = judged["generator"], judged["gan"]
        # ship the GAN painter only if it earned it: a better stroke FID for at most 1 dB of PSNR
        use_gan = gan.get("fid", 1e9) < gen.get("fid", 0) and gan["psnr"] >= gen["psnr"] - 1.0
        chosen = "gan" if use_gan else "generator"
        summary = {"brush": info.name, "commands": commands, "data_seed": args.seed,
                   "heldout_seed": args.seed + HELDOUT_SEED_OFFSET, **({"init": origin} if origin else {}),
                   "chosen": chosen, "metrics": metrics,
                   "validation_metrics": validation or "none: held-out set too small, chosen on the test strokes",
                   "minutes": round((time.time() - run.started) / 60, 1)}  # fmt: skip
        (run_dir / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        final = Painter.from_pretrained(p_gan if use_gan else p_gen)
        final.save_pretrained(run_dir / "painter.safetensors", {**meta, "stage": chosen, "metrics": metrics[chosen]})
        print(json.dumps(summary, indent=2))
    if world > 1:
        torch.distributed.destroy_process_group()


# settings a resumed run may change: what is logged and saved, and how long a stage runs (a resume
# may extend a stage); the rest decides what is trained
RESUMABLE = {"log_every", "eval_every", "sample_every", "checkpoint_every", "generator_steps",
             "discriminator_steps", "gan_steps"}  # fmt: skip


def _check_resume(run: C.Run) -> None:
    """--resume continues the run its folder holds: the same settings and the same starting painter."""
    path = run.dir / "config.json"
    if not path.exists():
        return
    old = json.loads(path.read_text())
    now = json.loads(json.dumps(asdict(run.config)))  # tuples as lists, as config.json has them
    before = old.get("config", {})
    changed = [f"{k} {before[k]} -> {v}" for k, v in now.items() if k in before and k not in RESUMABLE
               and before[k] != v]  # fmt: skip
    if (old.get("init") or {}).get("sha256") != (run.init or {}).get("sha256"):
        start = lambda o: o["painter"] if o else "scratch"  # noqa: E731
        changed.append(f"--init {start(old.get('init'))} -> {start(run.init)}")
    if changed:
        raise BrushworkError(
            f"--resume with other settings than {run.dir} was started with ({'; '.join(changed)}): repeat its "
            "command (config.json, 'commands') with --resume"
        )


def _need(path: Path) -> Path:
    if not path.exists():
        raise BrushworkError(f"{path} is missing: run the earlier stage first (or 'brushwork train all')")
    return path
