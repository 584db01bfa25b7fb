"""Copy a finished training run's painter into the package, with its provenance beside it.

Usage: python scripts/ship_painter.py runs/classic__dry_brush
Writes src/brushwork/weights/<brush>.safetensors (the run's painter.safetensors, unchanged) and
<brush>.json (the run's metrics.json: commands, data seeds, held-out metrics of each stage).
"""

import json
import shutil
import sys
from pathlib import Path

from brushwork.models.painter import Painter

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "brushwork" / "weights"


def main(run: Path) -> None:
    summary = json.loads((run / "metrics.json").read_text())
    painter = Painter.from_pretrained(run / "painter.safetensors")  # refuse anything that does not load
    if painter.metadata.get("brush") != summary["brush"]:
        raise SystemExit(f"{run}: painter brush {painter.metadata.get('brush')!r} != {summary['brush']!r}")
    slug = summary["brush"].replace("/", "__")
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / "painter.safetensors", WEIGHTS / f"{slug}.safetensors")
    (WEIGHTS / f"{slug}.json").write_text(json.dumps(summary, indent=2) + "\n")
    chosen = summary["metrics"][summary["chosen"]]
    print(f"shipped {summary['brush']} ({summary['chosen']}): {chosen}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
