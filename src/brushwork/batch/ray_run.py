"""`brushwork paint PHOTOS... CLIPS... --ray [ADDRESS]`: painted by Ray actors, files written by the driver.

    summary = paint_on_ray(jobs, films, config, options, threads=1, address=None)

Each actor (`PainterActor`, `threads` CPUs) builds one `PaintPipeline` and paints photo after photo
with `batch.photos.paint_photo`, the code a sequential run paints with. The photo's bytes go to the
actor and the painting's files come back through Ray's object store (workers need no shared file
system); the driver writes each photo's files with `install_outputs` (all or nothing new) as soon as
they arrive. An actor whose process dies is restarted by Ray and its photo painted again
(`max_restarts`, `max_task_retries`); a photo that fails (not an image, too small) is one line and
the others go on.

A clip (`video.pipeline.FilmRun`, prepared by the driver) goes out in chunks of consecutive frames
(`video.chunks`): the driver decodes the clip and sends each chunk's frames (uint8, at painting size)
to an actor as soon as the chunk is known, the actor paints the chunk coherently from its first
frame, and the driver writes its frames -- dissolving the frames two chunks share -- and encodes the
films when the last chunk is in. Photos and chunks share the actors; one progress bar counts both.

Imported only with --ray: Ray is the optional extra `brushwork[ray]`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from brushwork.batch.photos import PhotoReport, describe, paint_photo
from brushwork.errors import BrushworkError
from brushwork.painting.config import PaintConfig
from brushwork.painting.outputs import SaveOptions, install_outputs, read_outputs
from brushwork.video.chunks import Chunk, DissolveJob, paint_chunk
from brushwork.video.pipeline import FilmRun

RETRIES = 3  # times Ray paints a photo again after its worker's process died
CONNECT_SECONDS = 30  # an unreachable --ray ADDRESS is one line within this


@dataclass
class PhotoJob:
    source: str  # the photo as the user named it
    folder: Path  # where the driver writes its files


@dataclass
class RaySummary:
    painted: int  # photos and clips
    failed: list[str]  # one line each, naming the photo or clip
    workers: int
    seconds: float


class PainterActor:
    """One Ray worker: a `PaintPipeline` built once, painting the photos it is sent."""

    def __init__(self, config: PaintConfig, threads: int) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        from brushwork.allocator import return_large_blocks
        from brushwork.painting.pipeline import PaintPipeline

        return_large_blocks()  # as the CLI does: freed tensors go back to the system
        torch.set_num_threads(threads)
        self.pipe = PaintPipeline(config)

    def paint(self, name: str, data: bytes, options: SaveOptions, init: object | None) -> dict:
        """Paint the photo `data` (named `name`): {"report", "files"} or {"error": one line}."""
        notes: list[str] = []
        options = replace(options, notify=notes.append)
        with tempfile.TemporaryDirectory(prefix="brushwork-ray-") as d:
            photo = Path(d) / Path(name).name  # the photo's own file name: the painting's names follow it
            photo.write_bytes(data)
            try:
                report = paint_photo(self.pipe, photo, Path(d) / "out", options, init, progress=False, label=name,
                                     checkpoint=False)  # a temporary folder: nothing to resume from
            except BrushworkError as e:
                return {"error": str(e).replace(str(photo), name)}
            files = read_outputs(report.files)
        report.notes = [n.replace(str(photo), name) for n in (*notes, *report.notes)]
        return {"report": report, "files": files}

    def dissolve(self, job: DissolveJob) -> tuple:
        """A frame two chunks share, rendered by the engine here rather than on the driver."""
        return job.run()

    def paint_chunk(self, stepping: dict, chunk: Chunk, frames: list) -> dict:
        """Paint one chunk of a clip: {"frames": [RawFrame, ...]} or {"error": one line}."""
        from brushwork.video.stepper import FrameStepper

        try:
            return {"frames": list(paint_chunk(FrameStepper(self.pipe, **stepping), chunk, frames))}
        except BrushworkError as e:
            return {"error": str(e)}


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (an earlier painting is kept) or already gone


def _reachable(address: str) -> None:
    """Fail in one line when nothing answers at HOST:PORT: ray.init would retry for minutes."""
    import socket

    if address == "auto":
        return
    host, sep, port = address.split("://")[-1].rpartition(":")
    if not sep or not port.isdigit():
        raise BrushworkError(f"--ray ADDRESS must be HOST:PORT (e.g. 127.0.0.1:6379), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS / 3).close()
    except OSError as e:
        raise BrushworkError(f"cannot join the Ray cluster at {address}: {e.strerror or e}") from None


def connect(address: str | None) -> None:
    """Join the cluster at `address` (or RAY_ADDRESS), or start Ray on this machine: one BrushworkError if not."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = address or os.environ.get("RAY_ADDRESS") or None
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    try:
        if target is None:
            ray.init(num_cpus=os.cpu_count(), **kwargs)
        else:
            _reachable(target)
            ray.init(address=target, **kwargs)
    except BrushworkError:
        raise
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BrushworkError(f"cannot join the Ray cluster at {target}: {first}") from None


def paint_on_ray(
    jobs: list[PhotoJob],
    films: list[FilmRun],
    config: PaintConfig,
    options: SaveOptions,
    init: object | None = None,
    threads: int = 1,
    address: str | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    note: Callable[[str], None] = print,
    fail: Callable[[str], None] = print,
) -> RaySummary:
    """Paint the photos `jobs` and the clips `films` on Ray (see the module docstring).

    A line per painted photo or clip goes to `say`, notes to `note`, each failure (one line) to `fail`.
    """
    import ray
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        largest = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if threads > largest:  # an actor no node can hold would wait for ever
            raise BrushworkError(f"--threads {threads} is more than any Ray node has ({largest:g} CPUs); "
                                 f"use --threads {max(1, int(largest))} or less")  # fmt: skip
        # a film has at least a chunk per `length` frames (scene cuts only add chunks)
        work = len(jobs) + sum(-(-f.total // f.chunking.length) for f in films)
        workers = max(1, min(work, cpus // threads))
        actor_cls = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=RETRIES)(PainterActor)
        actors = [actor_cls.remote(config, threads) for _ in range(workers)]
        queue = list(jobs)
        chunks = [(film, film.chunks()) for film in films]  # decoded as they are sent
        dissolves: list[tuple[FilmRun, DissolveJob]] = []  # before any other work: a film waits on them
        for film in films:
            film.assembler.defer_dissolves = True
        running: dict[object, tuple[object, PhotoJob | tuple[FilmRun, Chunk | DissolveJob]]] = {}
        in_flight = {id(film): 0 for film in films}
        failed: list[str] = []
        broken: set[int] = set()  # films a chunk of which failed
        painted = 0
        frames = sum(f.total - len(f.assembler.painted) for f in films)
        bar = tqdm(total=len(jobs) + frames, disable=not progress, unit="painting", dynamic_ncols=True,
                   desc=f"{len(jobs)} photos, {frames} frames")  # fmt: skip

        def failure(source: str, why: str) -> None:
            failed.append(why if source in why else f"{source}: {why}")
            fail(failed[-1])

        def photo_failed(job: PhotoJob, why: str) -> None:
            failure(job.source, why)
            _remove_if_empty(job.folder)  # a photo that failed leaves no folder behind
            bar.update(1)

        def film_failed(film: FilmRun, why: str) -> None:
            if id(film) not in broken:
                broken.add(id(film))
                failure(film.info.path, why + " (the frames painted so far are kept: --resume)")

        def next_chunk() -> tuple[FilmRun, Chunk, list] | None:
            while chunks:
                film, stream = chunks[0]
                try:  # decoding happens here: a clip that breaks off is that clip's failure alone
                    item = next(stream, None) if id(film) not in broken else None
                except BrushworkError as e:
                    film_failed(film, str(e))
                    item = None
                if item is not None:
                    return film, *item
                chunks.pop(0)
                film_done(film)
            return None

        def film_done(film: FilmRun) -> None:
            """Encode the film once its last chunk and dissolve have come back."""
            nonlocal painted
            waiting = any(f is film for f, _ in chunks) or any(f is film for f, _ in dissolves)
            if in_flight[id(film)] or waiting or id(film) in broken:
                return
            try:
                clip = film.finish()
            except (BrushworkError, OSError) as e:  # encoding the films (a full disk, FFmpeg)
                film_failed(film, str(e))
                return
            painted += 1
            ratio = clip.warping_ratio or 0.0
            (bar.write if progress else say)(
                f"{film.info.path} -> {film.folder.path}/ ({film.total} frames); mean PSNR "
                f"{clip.mean_psnr:.2f} dB, warping error {ratio:.2f}x the clip's own"
            )

        def send(actor: object) -> None:
            if dissolves:
                film, dissolve_job = dissolves.pop(0)
                in_flight[id(film)] += 1
                running[actor.dissolve.remote(dissolve_job)] = (actor, (film, dissolve_job))
                return
            while queue:
                job = queue.pop(0)
                try:
                    data = Path(job.source).read_bytes()
                except OSError as e:
                    photo_failed(job, f"cannot read {job.source}: {e.strerror or e}")
                    continue
                running[actor.paint.remote(job.source, data, options, init)] = (actor, job)
                return
            item = next_chunk()
            if item is not None:
                film, chunk, chunk_frames = item
                in_flight[id(film)] += 1
                running[actor.paint_chunk.remote(film.stepping, chunk, chunk_frames)] = (actor, (film, chunk))
            else:
                idle.append(actor)  # nothing now; a chunk's result may bring dissolves for it

        idle: list[object] = []
        for actor in actors:
            send(actor)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the work raised (not retried: it would raise again)
                cause = str(e.cause if getattr(e, "cause", None) is not None else e).strip().splitlines()
                result = {"error": f"failed on its worker: {cause[-1] if cause else type(e).__name__}"}
            except ray.exceptions.RayError as e:  # the worker died more often than it is retried
                result = {"error": f"its worker failed {RETRIES + 1} times ({type(e).__name__})"}
            if isinstance(job, PhotoJob):
                if "error" in result:
                    photo_failed(job, result["error"])
                else:
                    report: PhotoReport = result["report"]
                    install_outputs(job.folder, result["files"])
                    for line in report.notes:
                        note(line)
                    painted += 1
                    (bar.write if progress else say)(describe(report, job.folder))
                    bar.update(1)
            else:
                film, part = job
                in_flight[id(film)] -= 1
                if isinstance(part, DissolveJob) and isinstance(result, tuple):
                    result = {"dissolved": result}
                if "error" in result:
                    film_failed(film, result["error"])
                elif id(film) not in broken:
                    if isinstance(part, DissolveJob):
                        bar.update(len(film.assembler.put_dissolved(part, result["dissolved"])))
                    else:
                        for raw in result["frames"]:
                            bar.update(film.add(part, raw))
                        dissolves.extend((film, ready) for ready in film.assembler.ready)
                        film.assembler.ready.clear()
                    film.assembler.write_rows()
                    film_done(film)
            send(actor)
            for waiting in idle[:]:  # dissolves queued by this result: every idle worker takes one
                if not dissolves:
                    break
                idle.remove(waiting)
                send(waiting)
        bar.close()
        return RaySummary(painted, failed, workers, time.perf_counter() - t0)
    finally:
        ray.shutdown()


__all__ = ["PainterActor", "PhotoJob", "RaySummary", "connect", "paint_on_ray"]
