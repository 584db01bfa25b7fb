"""What `brushwork paint IMAGE...` names: photos, clips, and folders of them; each one's output folder.

    expand(["a.jpg", "holiday/"])   # -> ["a.jpg", "holiday/b.png", "holiday/c.mp4"] (a folder: its
                                    #    photos and clips, sorted, not its sub-folders)
    output_folders(paths, Path("out"))
"""

from __future__ import annotations

from pathlib import Path

from brushwork.errors import BrushworkError
from brushwork.video.clip import VIDEO_SUFFIXES

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm")


def expand(images: list[str]) -> list[str]:
    """Photos and clips as given, each folder replaced by the photos and clips directly inside it."""
    paths: list[str] = []
    for image in images:
        p = Path(image)
        if not p.is_dir():
            paths.append(image)
            continue
        inside = sorted(str(f) for f in p.iterdir()
                        if f.is_file() and f.suffix.lower() in (*PHOTO_SUFFIXES, *VIDEO_SUFFIXES))  # fmt: skip
        if not inside:
            raise BrushworkError(f"folder {image} holds no photos or clips")
        paths.extend(inside)
    return paths


def output_folders(images: list[str], out: Path) -> list[Path]:
    """One output folder per image: OUT itself for one image, OUT/<stem> (made unique) for several."""
    if len(images) == 1:
        return [out]
    seen: dict[str, int] = {}
    folders = []
    for path in images:
        stem = Path(path).stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        folders.append(out / (stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"))
    return folders


__all__ = ["PHOTO_SUFFIXES", "expand", "output_folders"]
