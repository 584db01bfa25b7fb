"""Atomic file writes: an exception or a crash never leaves a half-written file under the final name.

Every writer in `brushwork.paint` goes through `atomic_path` (for tools that want a file name, like
ffmpeg) or `atomic_write` (for Python code that wants a file object). The data goes to a hidden
temporary file in the destination folder, which is renamed onto the final name only on success;
on failure the temporary file is deleted and an existing file under the final name is left untouched.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from brushwork.errors import BrushworkError

TEMP_MARKER = ".tmp-"  # temporary names look like ".painting.tmp-1a2b3c4d.png"


def temp_name(path: Path) -> Path:
    """A fresh temporary name next to `path`, keeping its suffix."""
    # Same folder: os.replace is then a rename within one file system, hence atomic.
    # Same suffix: tools that choose the format from the extension (ffmpeg) still work.
    return path.with_name(f".{path.stem}{TEMP_MARKER}{secrets.token_hex(4)}{path.suffix}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` on success, delete it on error.

    The temporary file is created empty (exclusively, so concurrent writers never share one); the
    body may overwrite it by name. Raises BrushworkError if the destination folder does not exist.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise BrushworkError(f"cannot write {path}: folder {path.parent} does not exist")
    tmp = temp_name(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # 0o666 & umask, like open()
    try:
        yield tmp
        # Flush to disk before the rename, so a crash leaves the old file or the new one, never a torn one.
        fd = os.open(tmp, os.O_RDWR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a file for writing ("wb" or "w") that appears under `path` only if the body succeeds."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path) as tmp:
        if mode == "wb":
            with open(tmp, "wb") as f:
                yield f
        else:
            with open(tmp, "w", encoding=encoding, newline="\n") as f:
                yield f


def note_to_stderr(text: str) -> None:
    """The one way brushwork tells a user something on the side: one line on stderr."""
    line_to_stderr(f"brushwork: note: {text}")


class TolerantStream:
    """stdout or stderr that drops what it cannot write (a full device, a closed pipe) instead of
    raising: progress bars and notes must never fail a painting that is being made."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # PYTHONIOENCODING=ascii and a file name like château.png
                encoding = getattr(self._stream, "encoding", None) or "ascii"
                return self.write(text.encode(encoding, "replace").decode(encoding))
            except (OSError, ValueError):
                self._broken = True
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._broken = True

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def line_to_stderr(text: str) -> None:
    """One line on stderr; a closed or full stderr (`2>&-`, `2>/dev/full`) loses it but never the work."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` atomically, as UTF-8 with "\\n" line ends."""
    with atomic_write(path, "w") as f:
        f.write(text)
