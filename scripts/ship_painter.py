"""Put a finished training run's painter into the package, with its provenance beside it.

Usage:
    python scripts/ship_painter.py runs/classic__dry_brush          # a run folder of `brushwork train all`
    python scripts/ship_painter.py --repack classic/pen --heldout data/classic__pen/heldout

Writes src/brushwork/weights/<brush>.safetensors, the run's painter.safetensors stored in float16
(half the bytes; the painter still computes in float32), and <brush>.json: the run's metrics.json
(commands, data seeds, the starting painter of a fine-tune, held-out metrics of each stage) plus
"stored": the held-out metrics of the stored file itself, measured here on the first 2,000 held-out
strokes. A stored file whose PSNR falls more than 0.05 dB below the run's is refused (--float32 keeps
full precision). --repack converts a painter already shipped, re-measuring it the same way.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from brushwork.models.painter import Painter
from brushwork.train.evaluate import evaluate

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "brushwork" / "weights"
TOLERANCE_DB = 0.05  # what storage may cost in held-out PSNR
EVAL_STROKES = 2000  # the reported test strokes of `brushwork train all` (run.EVAL_STROKES)


def store(src: Path, dst: Path, half: bool) -> None:
    """Copy a painter file, its floating-point tensors in float16 when `half` (metadata unchanged)."""
    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata() or {})
    tensors = load_file(str(src))
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
        meta["stored_dtype"] = "float16"
    save_file(tensors, str(dst), metadata=meta)


def chain_provenance(summary: dict, painter_file: Path) -> None:
    """A run that continued the shipped painter of its own brush keeps that painter's provenance.

    `brushwork train all --brush B --init B` trains the shipped painter of B further; its metrics.json
    knows only the starting file's hash. When that hash is the shipped file's, the shipped .json goes
    into "init_provenance" (its commands, seeds and metrics) and "minutes_total" adds up the runs, so
    the new file says every command that made it. Shipping the same run again keeps what the first
    time wrote; a start from another file of the brush (a checkpoint) is said in a warning.
    """
    init = summary.get("init") or {}
    slug = summary["brush"].replace("/", "__")
    shipped, shipped_json = WEIGHTS / f"{slug}.safetensors", WEIGHTS / f"{slug}.json"
    if init.get("brush") != summary["brush"] or not shipped_json.exists():
        return
    before = json.loads(shipped_json.read_text())
    if before.get("commands") == summary.get("commands") and "init_provenance" in before:  # this run, again
        summary["init_provenance"], summary["minutes_total"] = before["init_provenance"], before["minutes_total"]
        return
    if hashlib.sha256(shipped.read_bytes()).hexdigest() != init.get("sha256"):
        print(f"warning: {painter_file} started from a {summary['brush']} painter that is not the shipped one; "
              "its provenance is only the hash in 'init'", file=sys.stderr)  # fmt: skip
        return
    summary["init_provenance"] = before
    summary["minutes_total"] = round(before.get("minutes_total", before["minutes"]) + summary["minutes"], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", type=Path, help="a `brushwork train all` run folder")
    ap.add_argument("--repack", metavar="BRUSH", help="re-store a painter already shipped instead")
    ap.add_argument("--heldout", type=Path, help="held-out shards (default: the run's)")
    ap.add_argument("--float32", action="store_true", help="store full precision")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    if args.repack:
        slug = args.repack.replace("/", "__")
        source = WEIGHTS / f"{slug}.safetensors"
        summary = json.loads((WEIGHTS / f"{slug}.json").read_text())
        heldout = args.heldout
        if heldout is None:
            sys.exit("--repack needs --heldout: the brush's held-out strokes (seed in its .json)")
    else:
        summary = json.loads((args.run / "metrics.json").read_text())
        source = args.run / "painter.safetensors"
        heldout = args.heldout or Path(json.loads((args.run / "config.json").read_text())["heldout"])
        if not heldout.is_absolute():
            heldout = Path.cwd() / heldout
    if not args.repack:
        chain_provenance(summary, source)
    painter = Painter.from_pretrained(source)  # refuse anything that does not load
    if painter.metadata.get("brush") != summary["brush"]:
        sys.exit(f"{source}: painter brush {painter.metadata.get('brush')!r} != {summary['brush']!r}")
    slug = summary["brush"].replace("/", "__")
    recorded = summary["metrics"][summary["chosen"]]

    with tempfile.TemporaryDirectory(dir=WEIGHTS.parent) as tmp:  # same disk: the move is atomic
        staged = Path(tmp) / f"{slug}.safetensors"
        store(source, staged, half=not args.float32)
        measured = evaluate(str(staged), heldout, strokes=EVAL_STROKES)
        if measured["psnr"] < recorded["psnr"] - TOLERANCE_DB:
            sys.exit(f"stored painter: {measured['psnr']} dB held-out vs {recorded['psnr']} recorded; use --float32")
        summary["stored"] = {
            "dtype": "float32" if args.float32 else "float16",
            "bytes": staged.stat().st_size,
            **{k: measured[k] for k in ("strokes", "psnr", "alpha_l1", "fid")},
        }
        WEIGHTS.mkdir(parents=True, exist_ok=True)
        staged.chmod(0o644)
        staged.replace(WEIGHTS / f"{slug}.safetensors")
    (WEIGHTS / f"{slug}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"shipped {summary['brush']} ({summary['chosen']}): recorded {recorded}, stored {summary['stored']}")


if __name__ == "__main__":
    main()
