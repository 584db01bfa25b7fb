"""Fine-tuning a shipped painter against training from scratch, for one brush (JSON).

Target (README, "A new brush in minutes"): `brushwork train all --brush B --init P` takes at most 15
minutes end to end on 2 cores, data included, and its held-out PSNR is within 0.5 dB of a
from-scratch default run of the same brush.

Both runs are `brushwork train all` run folders (their metrics.json holds the held-out test metrics
of the painter each chose, on the same 2,000 held-out strokes: same brush, same held-out seed):

    brushwork train all --brush classic/calligraphy --run-dir runs/scratch_calligraphy
    brushwork train all --brush classic/calligraphy --init classic/pen --run-dir runs/ft_calligraphy
    python benchmarks/finetune.py runs/ft_calligraphy runs/scratch_calligraphy --note "1 thread, busy machine"

Prints one JSON row and appends it to benchmarks/results/finetune.jsonl. `--scratch-json` takes a
shipped painter's provenance (src/brushwork/weights/<brush>.json) instead of a scratch run folder.
"""

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "finetune.jsonl"
MAX_MINUTES, MAX_GAP_DB = 15.0, 0.5


def chosen(summary: dict) -> dict:
    return summary["metrics"][summary["chosen"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("finetuned", type=Path, help="run folder of `train all --init`")
    ap.add_argument("scratch", type=Path, help="run folder of a from-scratch default `train all`, or its json")
    ap.add_argument("--note", default="", help="how the runs were made (threads, other load)")
    args = ap.parse_args()

    ft = json.loads((args.finetuned / "metrics.json").read_text())
    sc_path = args.scratch / "metrics.json" if args.scratch.is_dir() else args.scratch
    sc = json.loads(sc_path.read_text())
    if ft["brush"] != sc["brush"] or ft.get("heldout_seed") != sc.get("heldout_seed"):
        raise SystemExit(f"not the same brush and held-out strokes: {ft['brush']} / {sc['brush']}")
    if sc.get("init"):
        raise SystemExit(f"{args.scratch} is itself a fine-tune, not a from-scratch run")
    gap = round(chosen(sc)["psnr"] - chosen(ft)["psnr"], 3)
    row = {
        "brush": ft["brush"],
        "init": ft["init"]["painter"],
        "finetune": {"command": ft["commands"][-1], "minutes": ft["minutes"], "chosen": ft["chosen"],
                     **{k: chosen(ft)[k] for k in ("psnr", "fid")}},
        "start": {k: ft["metrics"]["init"][k] for k in ("psnr", "fid")} if "init" in ft["metrics"] else None,
        "scratch": {"command": sc["commands"][-1] if "commands" in sc else sc.get("command"),
                    "minutes": sc["minutes"], "chosen": sc["chosen"], **{k: chosen(sc)[k] for k in ("psnr", "fid")}},
        "gap_db": gap,
        "within_0_5_db": gap <= MAX_GAP_DB,
        "within_15_min": ft["minutes"] <= MAX_MINUTES,
        "note": args.note,
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
