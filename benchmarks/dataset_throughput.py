"""Stroke generation throughput with the real engine, per core and with all cores.

Usage: python benchmarks/dataset_throughput.py [--count 4000] [--brush classic/dry_brush]
Prints JSON: strokes/s for the engine alone (1 process) and for `generate_dataset` with 1 and
with all workers (shards written, compression included).
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np

from brushwork.data.generate import generate_dataset
from brushwork.engine import render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument("--brush", default="classic/dry_brush")
    args = ap.parse_args()
    acts = np.random.default_rng(0).random((1000, 12))
    render(acts[:20], args.brush)  # load the library and the brush file
    t = time.perf_counter()
    render(acts, args.brush)
    engine = 1000 / (time.perf_counter() - t)
    result = {"brush": args.brush, "engine_only_strokes_per_s_1_core": round(engine, 1)}
    for workers in (1, os.cpu_count() or 1):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            generate_dataset(out, args.brush, count=args.count, shard_size=2000, workers=workers, progress=False)
            rate = args.count / (time.perf_counter() - t)
        result[f"generate_strokes_per_s_{workers}_workers"] = round(rate, 1)
        result[f"generate_strokes_per_s_per_core_{workers}_workers"] = round(rate / workers, 1)
    result["cores"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
