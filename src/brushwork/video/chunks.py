"""A clip in chunks of consecutive frames, each painted coherently on its own, so many workers can paint one film.

    for chunk, frames in split_into_chunks(read_frames(info, picks, size), ChunkConfig(48, 4), carry):
        raws = list(paint_chunk(stepper, chunk, frames))       # anywhere: a worker, this process
        ...
    film = FilmAssembler(folder, picks, info.times); film.expect(chunk, frames); film.add(chunk, raw); film.finish()

Where chunks begin: at every scene cut (the stepper would paint that frame afresh anyway), and
otherwise every `length` frames. A chunk starts from a painting of its first frame made from scratch,
so two neighbours paint the frames at their boundary with different strokes. Cutting from one to the
other would be a pop in the film that carrying strokes otherwise avoids; instead, at a boundary that
is not a scene cut, the later chunk starts `overlap` (w) frames early and the two *dissolve stroke
by stroke*: the film's frame t in the overlap is the earlier chunk's painting of t with the last
share_t of the later chunk's strokes painted over it, share_t = (1/w)^2, (2/w)^2, ... 1, and the
frame after the overlap is the later chunk's alone (it differs from the last dissolved frame only
where the later painting lets the earlier one show through). The last strokes come first because a
suffix of a painting's strokes shows, wherever its top stroke lies in that suffix, the colour the
whole painting has there: each pixel turns from the earlier painting to the later one about once,
fine detail first, then the broad strokes beneath it. The fine strokes are where two paintings of
a frame differ most, so the shares grow quadratically: measured at two boundaries of Megamind.avi
(256 px, 1000 strokes, w = 4), the worst frame's warping error was 7.3x and 5.4x the clip's own
against a hard cut's 8.1x and 7.9x; equal shares gave 11.1x and 4.8x, broad strokes first 35x.
`benchmarks/video_chunks.py` measures the warping error at boundaries against the frames inside.

Bytes: a chunk's frames depend only on the clip, the settings and the chunk plan (frame k is painted
with seed + k), never on which process paints it or when, and a dissolved frame is the real brush's
`render` of its strokes file. So a film painted by Ray workers equals the same chunk plan painted in
one process. Frames are quantised to uint8 before painting (what a worker is sent).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from brushwork.metrics import psnr
from brushwork.painting.exports import as_uint8
from brushwork.painting.strokes import StrokeList
from brushwork.video.carry import CarryConfig, damaged_pixels, is_scene_cut
from brushwork.video.flow import frame_flow, warping_error
from brushwork.video.folder import VideoFolder
from brushwork.video.stepper import FrameStepper

ID_SPACE = 1 << 32  # chunk j's strokes have ids j * ID_SPACE + 0, 1, ...: unique in the film


@dataclass(frozen=True)
class ChunkConfig:
    """How a clip is cut into chunks (see the module docstring)."""

    length: int = 48  # frames a chunk paints alone (2 s at 24 fps), unless a scene cut comes first
    overlap: int = 4  # frames both neighbours paint at a boundary that is not a scene cut (0: a hard cut)

    def __post_init__(self) -> None:
        if self.length < 1 or not 0 <= self.overlap < self.length:
            raise ValueError(f"chunks need length >= 1 and 0 <= overlap < length, got {self.length}, {self.overlap}")


@dataclass(frozen=True)
class Chunk:
    """Frames [start, stop) of the film (positions among the painted frames), painted by one stepper.

    [start, own) dissolves from the chunk before; [stop - tail, stop) dissolves into the chunk after.
    """

    index: int
    start: int
    own: int
    stop: int
    tail: int
    cut: bool  # begins at a scene cut (the first chunk counts as one)

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass
class RawFrame:
    """One frame as its chunk painted it (what a worker sends back)."""

    k: int  # position in the film
    strokes: StrokeList
    ids: np.ndarray  # (N,) int64
    image: np.ndarray  # (H, W, 3) uint8, the real brush's painting
    row: dict


def quantise(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 -> the same frame through uint8: what a chunk is painted from."""
    return as_uint8(frame).astype(np.float32) / 255.0


def split_into_chunks(frames: Iterable[np.ndarray], config: ChunkConfig,
                      carry: CarryConfig) -> Iterator[tuple[Chunk, list[np.ndarray]]]:  # fmt: skip
    """Stream the film's frames (H, W, 3) float32 into chunks with their frames (uint8).

    A chunk is yielded as soon as the frame after it is read, so painting can begin while the clip
    is still being decoded; at most length + 2 x overlap frames are held.
    """
    held: list[np.ndarray] = []  # the current chunk's frames, from its start
    index, start, own, cut = 0, 0, 0, True
    prev: np.ndarray | None = None  # the frame before, through uint8 as float32
    k = -1
    for k, frame in enumerate(frames):
        frame = as_uint8(frame)
        cur = frame.astype(np.float32) / 255.0
        new_shot = False
        if prev is not None:
            new_shot = is_scene_cut(damaged_pixels(prev, cur, frame_flow(prev, cur), carry.change), carry)
        if k > 0 and (new_shot or k - own >= config.length):
            tail = 0 if new_shot else config.overlap
            yield Chunk(index, start, own, k, tail, cut), held
            index, own, cut = index + 1, k, new_shot
            start = k - tail
            held = held[len(held) - tail :] if tail else []
        held.append(frame)
        prev = cur
    if k >= 0:
        yield Chunk(index, start, own, k + 1, 0, cut), held


def paint_chunk(stepper: FrameStepper, chunk: Chunk, frames: list[np.ndarray]) -> Iterator[RawFrame]:
    """Paint a chunk's frames (uint8, from `split_into_chunks`): its first from scratch, the rest carried."""
    state, prev = None, None
    for k, frame8 in enumerate(frames, start=chunk.start):
        frame = frame8.astype(np.float32) / 255.0
        if state is None or prev is None:
            state, row = stepper.first(frame, k, next_id=chunk.index * ID_SPACE, cut=chunk.cut and k > 0)
        else:
            pair = frame_flow(prev, frame)
            last = quantise(state.image)
            state, row = stepper.next(prev, frame, state, k, pair)
            row["warping_error"] = round(warping_error(last, quantise(state.image), pair), 8)
            row["input_warping_error"] = round(warping_error(prev, frame, pair), 8)
        row.update(frame=k, chunk=chunk.index, next_id=int(state.next_id))
        yield RawFrame(k, state.strokes, state.ids, as_uint8(state.image), row)
        prev = frame


def dissolve(under: RawFrame, over: RawFrame, share: float) -> tuple[StrokeList, np.ndarray, np.ndarray]:
    """`under`'s strokes with the last `share` of `over`'s painted over them: strokes, ids, image (uint8).

    The image is the real brush's painting of those strokes, what `render` of the strokes file gives.
    """
    from brushwork.engine import render_canvas

    n = len(over.strokes)
    suffix = np.arange(n - int(round(share * n)), n)
    strokes = under.strokes.concat(over.strokes[suffix])
    ids = np.concatenate([under.ids, over.ids[suffix]])
    image = render_canvas(strokes.actions, strokes.windows, strokes.width, strokes.height,
                          strokes.stroke_brushes(), strokes.background)  # fmt: skip
    return strokes, ids, as_uint8(image)


@dataclass
class DissolveJob:
    """A frame two chunks share, to be dissolved (`run()`: strokes, ids, image)."""

    k: int
    under: RawFrame
    over: RawFrame
    share: float

    def run(self) -> tuple[StrokeList, np.ndarray, np.ndarray]:
        return dissolve(self.under, self.over, self.share)


class FilmAssembler:
    """Writes a chunked film's frames into its folder as the chunks' frames come in, in any order.

    A frame a chunk paints alone is written as it arrives; a dissolved frame once both its chunks'
    paintings are in. The rows of the frames whose neighbour came from another chunk (strokes added /
    moved / removed, PSNR, warping error) are recomputed on the film as written, as soon as both
    frames are in; `finish()` checks that the film is complete and writes frames.jsonl.
    """

    def __init__(self, folder: VideoFolder, picks: list[int], times: list[float], painted: set[int] | None = None,
                 rows: dict[int, dict] | None = None) -> None:  # fmt: skip
        self.folder = folder
        self.total = len(picks)
        self._source = [(src, round(times[src] - times[picks[0]], 4)) for src in picks]
        self.painted = set(painted or ())  # frames already in the folder (a resumed run)
        self.rows: dict[int, dict] = dict(rows or {})
        self._pending: dict[int, dict[str, RawFrame]] = {}  # a dissolved frame's paintings so far
        self._inputs: dict[int, np.ndarray] = {}  # input frames (uint8) the rows at boundaries need
        self._recheck: set[int] = set()  # frames whose row is recomputed once it and the frame before are in
        self._rechecked: set[int] = set()
        self._horizon = 0  # inputs from here on may be needed by a chunk not yet expected
        # Ray's driver sends dissolves to the workers (each is a render by the engine, ~1 s): with
        # `defer_dissolves`, add() queues them in `ready` and the caller hands back `put_dissolved`
        self.defer_dissolves = False
        self.ready: list[DissolveJob] = []

    def expect(self, chunk: Chunk, frames: list[np.ndarray]) -> bool:
        """Note a chunk and its frames; False when every frame it paints is already in the folder."""
        if chunk.index:  # its dissolved frames and the first after them (after a cut: its first frame)
            self._recheck.update(range(chunk.start, chunk.own + 1))
        pending = self._recheck - self._rechecked
        keep = {j for k in pending for j in (k - 1, k)}  # a row compares a frame with the one before
        keep.update(range(chunk.stop - chunk.tail - 1, chunk.stop))  # what the next chunk's first rows need
        for j in keep & set(range(chunk.start, chunk.stop)):
            self._inputs[j] = frames[j - chunk.start]
        self._horizon = chunk.stop - chunk.tail - 1
        for k in sorted(self.painted & set(range(chunk.start - 1, chunk.stop))):  # a resumed run's frames
            self._settle(k)
        return not set(range(chunk.start, chunk.stop)) <= self.painted

    @staticmethod
    def share(chunk: Chunk, k: int) -> float | None:
        """How much of the later chunk's painting frame k shows, if k is dissolved (else None)."""
        if k < chunk.own:  # the chunk's head: it is the later one
            step, w = k - chunk.start + 1, chunk.own - chunk.start
        elif k >= chunk.stop - chunk.tail:  # its tail: the next chunk starts at stop - tail
            step, w = k - chunk.stop + chunk.tail + 1, chunk.tail
        else:
            return None
        return (step / w) ** 2  # few strokes first: the last ones carry the most change (see the docstring)

    def add(self, chunk: Chunk, raw: RawFrame) -> list[int]:
        """A chunk's painting of one frame; returns the frames written because of it."""
        k = raw.k
        if k in self.painted:
            return []
        share = self.share(chunk, k)
        if share is None:
            self._write(k, raw.strokes, raw.ids, raw.image, raw.row)
            return [k]
        parts = self._pending.setdefault(k, {})
        parts["over" if k < chunk.own else "under"] = raw
        if len(parts) < 2:
            return []
        job = DissolveJob(k, parts.pop("under"), parts.pop("over"), share)
        del self._pending[k]
        if self.defer_dissolves:
            self.ready.append(job)
            return []
        return self.put_dissolved(job, job.run())

    def put_dissolved(self, job: DissolveJob, result: tuple[StrokeList, np.ndarray, np.ndarray]) -> list[int]:
        """Write a dissolved frame from `job.run()`'s result (run here, or by a worker)."""
        strokes, ids, image = result
        row = {**job.over.row, "dissolve": round(job.share, 4), "strokes": len(strokes),
               "seconds": round(job.under.row["seconds"] + job.over.row["seconds"], 3)}  # fmt: skip
        self._write(job.k, strokes, ids, image, row)
        return [job.k]

    def _write(self, k: int, strokes: StrokeList, ids: np.ndarray, image: np.ndarray, row: dict) -> None:
        source, time = self._source[k]
        row = {**row, "source": source, "time": time}
        if self._due(k):  # a boundary row whose frame before is in: computed before the one write
            row = self._boundary_row(k, row, strokes, ids, image)
        self.folder.write_frame(k, strokes, ids, image, row)
        self.painted.add(k)
        self.rows[k] = row
        self._settle(k + 1)  # a later boundary frame that was waiting for this one

    def _due(self, k: int) -> bool:
        """Frame k's row is recomputed at a boundary and everything it compares is at hand."""
        pending = k in self._recheck and k not in self._rechecked
        return pending and k - 1 in self.painted and k - 1 in self._inputs and k in self._inputs

    def _settle(self, k: int) -> None:
        """Frame k is in the folder: recompute its boundary row if it is due, rewriting its file."""
        if k in self.painted and self._due(k):
            strokes, ids, image, _ = self.folder.read_frame(k)
            row = self._boundary_row(k, self.rows[k], strokes, ids, image)
            self.folder.write_frame(k, strokes, ids, image, row)  # the strokes file holds its row
            self.rows[k] = row

    def _boundary_row(self, k: int, row: dict, strokes: StrokeList, ids: np.ndarray, image: np.ndarray) -> dict:
        """Frame k's row on the film as written: strokes added / moved / removed against frame k - 1,
        PSNR, warping error. Lets go of the input frames no longer needed (a few per boundary are held)."""
        a_strokes, a_ids, a_image, _ = self.folder.read_frame(k - 1)
        b_image = quantise(image)  # what the PNG holds
        prev, cur = (self._inputs[j].astype(np.float32) / 255.0 for j in (k - 1, k))
        pair = frame_flow(prev, cur)
        row = {**row, **_changes(a_strokes, a_ids, strokes, ids)}
        row.update(psnr=round(psnr(b_image, cur), 4),
                   warping_error=round(warping_error(a_image, b_image, pair), 8),
                   input_warping_error=round(warping_error(prev, cur, pair), 8))  # fmt: skip
        if not row.get("cut"):
            row["boundary"] = True
        self._rechecked.add(k)
        for i in (k - 1, k):
            if not self._needed(i):
                self._inputs.pop(i, None)
        return row

    def _needed(self, i: int) -> bool:
        pending = self._recheck - self._rechecked
        return i in pending or i + 1 in pending or i >= self._horizon

    def write_rows(self) -> None:
        self.folder.write_rows([self.rows[k] for k in sorted(self.rows)])

    def finish(self) -> list[dict]:
        """Every frame is in: recompute the rows at chunk boundaries, write frames.jsonl, return the rows."""
        missing = sorted(set(range(self.total)) - self.painted)
        if missing or self._pending or self.ready:
            raise RuntimeError(f"the film is not complete: frames {missing[:5]} ... are missing")
        for k in sorted(self._recheck - self._rechecked):  # none, unless frames came in an unusual order
            self._settle(k)
        self.write_rows()
        return [self.rows[k] for k in range(self.total)]


def _changes(a: StrokeList, a_ids: np.ndarray, b: StrokeList, b_ids: np.ndarray) -> dict[str, int]:
    """Strokes added, kept, moved (kept with another action or window) and removed from a to b."""
    where = {int(i): n for n, i in enumerate(a_ids)}
    kept = [(where[int(i)], n) for n, i in enumerate(b_ids) if int(i) in where]
    moved = sum(1 for i, n in kept if not (np.array_equal(a.actions[i], b.actions[n])
                                           and np.array_equal(a.windows[i], b.windows[n])))  # fmt: skip
    return {"added": len(b_ids) - len(kept), "kept": len(kept), "moved": moved, "removed": len(a_ids) - len(kept)}


__all__ = ["Chunk", "ChunkConfig", "DissolveJob", "FilmAssembler", "RawFrame", "dissolve", "paint_chunk", "quantise",
           "split_into_chunks"]  # fmt: skip
