"""What `brushwork paint IMAGE...` names: photos, clips, and folders of them; each one's output folder.

    expand(["a.jpg", "holiday/"])   # -> ["a.jpg", "holiday/b.png", "holiday/c.mp4"] (a folder: its
                                    #    photos and clips, sorted, not its sub-folders)
    output_folders(paths, Path("out"))
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path

from brushwork.errors import BrushworkError
from brushwork.images import read_pipe
from brushwork.video.clip import VIDEO_SUFFIXES

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


def expand(images: list[str]) -> list[str]:
    """Photos and clips as given, each folder replaced by the photos and clips directly inside it."""
    paths: list[str] = []
    for image in images:
        p = Path(image)
        if _is_pipe(p):
            paths.append(_spooled(p))
            continue
        if not p.is_dir():
            paths.append(image)
            continue
        inside = sorted(str(f) for f in p.iterdir()
                        if f.is_file() and f.suffix.lower() in (*PHOTO_SUFFIXES, *VIDEO_SUFFIXES))  # fmt: skip
        if not inside:
            raise BrushworkError(f"folder {image} holds no photos or clips")
        paths.extend(inside)
    return paths


def _is_pipe(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _spooled(path: Path) -> str:
    """A pipe's bytes (`<(cat photo.png)`) in a temporary file of the same name, removed at exit:
    a pipe reads once, and a photo is read twice (checked before any painting, then painted)."""
    data = read_pipe(path)
    folder = tempfile.mkdtemp(prefix="brushwork-pipe-")
    atexit.register(shutil.rmtree, folder, True)
    spooled = Path(folder) / path.name
    spooled.write_bytes(data)
    return str(spooled)


def output_folders(images: list[str], out: Path) -> list[Path]:
    """One output folder per image: OUT itself for one image, OUT/<name> for several.

    A name is the image's stem, made safe (never '.', '..' or hidden: it stays inside OUT) and unique:
    a repeated stem gets -2, -3, ..., skipping every name another image has as its own, so no two
    images ever share a folder (`a/x.png b/x.png c/x-2.png` -> x, x-3, x-2). The same images in the
    same order always get the same names (what --resume relies on).
    """
    if len(images) == 1:
        return [out]
    bases = [_safe_name(Path(path).stem) for path in images]
    taken = set(bases)
    used: set[str] = set()
    folders = []
    for base in bases:
        name, n = base, 2
        while name in used or (name != base and name in taken):
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        folders.append(out / name)
    return folders


def _safe_name(stem: str) -> str:
    """A folder name inside the output folder for a stem ('..' from '...png', '.hidden', '')."""
    name = stem.lstrip(". ").strip()
    return name or "image"


__all__ = ["PHOTO_SUFFIXES", "expand", "output_folders"]
