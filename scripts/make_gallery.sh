#!/usr/bin/env bash
# Paint the four example photos with the default command and keep small previews for the README.
#   bash scripts/make_gallery.sh   ->  docs/gallery/<name>.jpg (photo | painting by the real brush | painter canvas)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/gallery out/gallery
for img in examples/castle.png examples/louvre.png examples/vanc.jpg examples/eiffel.jpeg; do
  name=$(basename "${img%.*}")
  .venv/bin/brushwork paint "$img" -o "out/gallery/$name" --quiet
  .venv/bin/python - "$name" <<'PY'
import sys
import numpy as np
from PIL import Image
name = sys.argv[1]
d = f"out/gallery/{name}"
cmp = Image.open(f"{d}/comparison.png").convert("RGB")
eng = Image.open(f"{d}/painting_neural.png").convert("RGB")
h = 256
cmp = cmp.resize((round(cmp.width * h / cmp.height), h), Image.LANCZOS)
eng = eng.resize((round(eng.width * h / eng.height), h), Image.LANCZOS)
row = np.concatenate([np.asarray(cmp), np.full((h, 4, 3), 255, np.uint8), np.asarray(eng)], axis=1)
Image.fromarray(row).save(f"docs/gallery/{name}.jpg", quality=88)
PY
done
