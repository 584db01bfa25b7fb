"""`brushwork paint PHOTOS... --ray [ADDRESS]`: photos painted by Ray actors, files written by the driver.

    summary = paint_on_ray(jobs, config, options, threads=1, address=None)

Each actor (`PainterActor`, `threads` CPUs) builds one `PaintPipeline` and paints photo after photo
with `batch.photos.paint_photo`, the code a sequential run paints with. The photo's bytes go to the
actor and the painting's files come back through Ray's object store (workers need no shared file
system); the driver writes each photo's files with `install_outputs` (all or nothing new) as soon as
they arrive. An actor whose process dies is restarted by Ray and its photo painted again
(`max_restarts`, `max_task_retries`); a photo that fails (not an image, too small) is one line and
the others go on. Imported only with --ray: Ray is the optional extra `brushwork[ray]`.
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

RETRIES = 3  # times Ray paints a photo again after its worker's process died
CONNECT_SECONDS = 30  # an unreachable --ray ADDRESS is one line within this


@dataclass
class PhotoJob:
    source: str  # the photo as the user named it
    folder: Path  # where the driver writes its files


@dataclass
class RaySummary:
    painted: int
    failed: list[str]  # one line each, naming the photo
    workers: int
    seconds: float


class PainterActor:
    """One Ray worker: a `PaintPipeline` built once, painting the photos it is sent."""

    def __init__(self, config: PaintConfig, threads: int) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        from brushwork.painting.pipeline import PaintPipeline

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
                report = paint_photo(self.pipe, photo, Path(d) / "out", options, init, progress=False, label=name)
            except BrushworkError as e:
                return {"error": str(e).replace(str(photo), name)}
            files = read_outputs(report.files)
        report.notes = [n.replace(str(photo), name) for n in (*notes, *report.notes)]
        return {"report": report, "files": files}


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
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BrushworkError(f"cannot join the Ray cluster at {target}: {first}") from None


def paint_on_ray(
    jobs: list[PhotoJob],
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
    """Paint `jobs` on Ray (see the module docstring).

    A line per painted photo goes to `say`, its notes to `note`, each failure (one line) to `fail`.
    """
    import ray
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    connect(address)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        workers = max(1, min(len(jobs), cpus // threads))
        actor_cls = ray.remote(num_cpus=threads, max_restarts=-1, max_task_retries=RETRIES)(PainterActor)
        actors = [actor_cls.remote(config, threads) for _ in range(workers)]
        queue = list(jobs)
        running: dict[object, tuple[object, PhotoJob]] = {}
        failed: list[str] = []
        painted = 0
        bar = tqdm(total=len(jobs), disable=not progress, unit="photo", dynamic_ncols=True, desc="photos")

        def failure(job: PhotoJob, why: str) -> None:
            failed.append(why if job.source in why else f"{job.source}: {why}")
            fail(failed[-1])
            _remove_if_empty(job.folder)  # a photo that failed leaves no folder behind
            bar.update(1)

        def send(actor: object) -> None:
            while queue:
                job = queue.pop(0)
                try:
                    data = Path(job.source).read_bytes()
                except OSError as e:
                    failure(job, f"cannot read {job.source}: {e.strerror or e}")
                    continue
                ref = actor.paint.remote(job.source, data, options, init)
                running[ref] = (actor, job)
                return

        for actor in actors:
            send(actor)
        while running:
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as e:  # the worker died more often than it is retried
                result = {"error": f"its worker failed {RETRIES + 1} times ({type(e).__name__})"}
            if "error" in result:
                failure(job, result["error"])
            else:
                report: PhotoReport = result["report"]
                install_outputs(job.folder, result["files"])
                for line in report.notes:
                    note(line)
                painted += 1
                (bar.write if progress else say)(describe(report, job.folder))
                bar.update(1)
            send(actor)
        bar.close()
        return RaySummary(painted, failed, workers, time.perf_counter() - t0)
    finally:
        ray.shutdown()


__all__ = ["PainterActor", "PhotoJob", "RaySummary", "connect", "paint_on_ray"]
