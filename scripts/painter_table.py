"""Print the README's tables of shipped painters from the provenance beside each one (markdown).

Usage: python scripts/painter_table.py [--wet]
Dry painters by default; --wet prints the wet (smudging) painters with their two baselines.
Each row comes from src/brushwork/weights/<brush>.json, which scripts/ship_painter.py wrote from the
training run: how it was trained, its held-out PSNR and FID (2,000 strokes of the held-out seed,
measured on the stored float16 file), the training time and the stored size.
"""

import json
import sys
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "brushwork" / "weights"


def main() -> None:
    wet = "--wet" in sys.argv[1:]
    if wet:
        print("| brush | trained | held-out PSNR | canvas unchanged | dry composite | stroke FID | training time "
              "| stored |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    else:
        print("| brush | trained | held-out PSNR | stroke FID | training time | stored |")
        print("| --- | --- | --- | --- | --- | --- |")
    notes = []
    for path in sorted(WEIGHTS.glob("*.json")):
        info = json.loads(path.read_text())
        chosen = info["metrics"][info["chosen"]]
        if ("psnr_canvas_unchanged" in chosen) != wet:
            continue
        stored = info.get("stored") or chosen
        init = info.get("init")
        how = f"fine-tuned from `{init['painter']}`" if init else "from scratch"
        first = info.get("init_provenance")  # trained further from its own shipped painter: say where that came from
        while first is not None and first.get("init_provenance"):
            first = first["init_provenance"]
        if first is not None and first.get("init"):
            how += f" (itself fine-tuned from `{first['init']['painter']}`)"
        commands = info.get("commands") or [info.get("command", "")]
        preset = next((c.split("--preset ")[1].split()[0] for c in commands if "--preset" in c), None)
        how += f", `{preset}` preset" if preset else (", `finetune` preset" if init else ", default preset")
        sets = [part.split()[0] for c in commands for part in c.split("--set ")[1:]]
        how += f" with {', '.join(f'`{x}`' for x in sets)}" if sets else ""
        size = f"{stored['bytes'] / 1e6:.1f} MB" if "bytes" in stored else ""
        minutes = f"{info.get('minutes_total', info['minutes']):.0f} min"
        if info.get("note"):
            notes.append(f"{info['brush']}: {info['note']}")
            minutes += f" ({len(notes)})"
        if wet:
            base = f"{chosen['psnr_canvas_unchanged']:.2f} dB | {chosen['psnr_dry_composite']:.2f} dB"
            print(f"| `{info['brush']}` | {how} | {stored['psnr']:.2f} dB | {base} | {stored['fid']:.1f} | {minutes} "
                  f"| {size} |")  # fmt: skip
        else:
            print(f"| `{info['brush']}` | {how} | {stored['psnr']:.2f} dB | {stored['fid']:.1f} | {minutes} | {size} |")
    for i, note in enumerate(notes, 1):
        print(f"\n({i}) {note}")


if __name__ == "__main__":
    main()
