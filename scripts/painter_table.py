"""Print the README's table of shipped painters from the provenance beside each one (markdown).

Usage: python scripts/painter_table.py
Each row comes from src/brushwork/weights/<brush>.json, which scripts/ship_painter.py wrote from the
training run: how it was trained, its held-out PSNR and FID (2,000 strokes of the held-out seed,
measured on the stored float16 file), the training time and the stored size.
"""

import json
from pathlib import Path

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "brushwork" / "weights"


def main() -> None:
    print("| brush | trained | held-out PSNR | stroke FID | training time | stored |")
    print("| --- | --- | --- | --- | --- | --- |")
    notes = []
    for path in sorted(WEIGHTS.glob("*.json")):
        info = json.loads(path.read_text())
        stored = info.get("stored") or info["metrics"][info["chosen"]]
        init = info.get("init")
        how = f"fine-tuned from `{init['painter']}`" if init else "from scratch"
        commands = info.get("commands") or [info.get("command", "")]
        preset = next((c.split("--preset ")[1].split()[0] for c in commands if "--preset" in c), None)
        how += f", `{preset}` preset" if preset else (", `finetune` preset" if init else ", default preset")
        size = f"{stored['bytes'] / 1e6:.1f} MB" if "bytes" in stored else ""
        minutes = f"{info['minutes']:.0f} min"
        if info.get("note"):
            notes.append(f"{info['brush']}: {info['note']}")
            minutes += f" ({len(notes)})"
        print(f"| `{info['brush']}` | {how} | {stored['psnr']:.2f} dB | {stored['fid']:.1f} | {minutes} | {size} |")
    for i, note in enumerate(notes, 1):
        print(f"\n({i}) {note}")


if __name__ == "__main__":
    main()
