"""`brushwork serve`: the web app's object and routes. The jobs live in `brushwork.web.jobs`.

Handlers only translate HTTP to the job queue and back. The page is `static/index.html` with its
script and style, served from the package: nothing is fetched from elsewhere (the
Content-Security-Policy says so to the browser too).

HTTP API (JSON unless said otherwise; errors are `{"error": "<one line>"}` with a 4xx status):

    GET  /healthz                         200 {"status": "ok"} once the painter is loaded (503 before)
    GET  /api/options                     brushes, example photos, defaults and limits
    POST /api/jobs                        multipart form: `photo` (a file: a photo, or a video by its
                                          suffix, painted frame by frame) or `example` (a name from
                                          /api/options), and optional `brush`, `strokes`, `time_budget`
                                          (s; a video's: per frame), `size` (px), `seed`, `steps`
                                          -> 202 the job (below)
    GET  /api/jobs                        the gallery: finished paintings, newest first
    GET  /api/jobs/{id}                   the job: kind (photo, video), status (queued, running, done,
                                          failed, cancelled), ahead (jobs before it), stage, fraction,
                                          eta (s), preview, error, files, result
    GET  /api/jobs/{id}/events            server-sent events: the job (as above) on every change,
                                          until it is done, failed or cancelled
    POST /api/jobs/{id}/cancel            stop it (running) or drop it (waiting)
    GET  /api/jobs/{id}/preview.png       the painting so far (every ~2 s; the real brush after each level;
                                          a video's after each frame)
    GET  /api/jobs/{id}/photo.png         the photo a waiting or running job paints (a finished one's is
                                          files/photo.png): its page shows it after a reload
    GET  /api/jobs/{id}/files/{name}      one output file (`?download=1`: as an attachment; Range
                                          requests answered, so a browser can seek in a video)
    GET  /api/jobs/{id}/files.zip         every output file in one zip

    curl -F photo=@castle.png -F strokes=500 -F size=256 http://127.0.0.1:7860/api/jobs
    curl -F photo=@walk.mp4 -F strokes=300 -F size=256 http://127.0.0.1:7860/api/jobs   # -> painting.mp4
    curl -N http://127.0.0.1:7860/api/jobs/<id>/events
    curl -O http://127.0.0.1:7860/api/jobs/<id>/files/strokes.json
"""

from __future__ import annotations

import asyncio
import json
import socket
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from brushwork.errors import BrushworkError
from brushwork.painting.outputs import prepare_folder
from brushwork.video.clip import VIDEO_SUFFIXES
from brushwork.web.jobs import (
    DEFAULTS,
    FINAL,
    MAX_BUDGET,
    MAX_SIZE,
    MAX_STROKES,
    MAX_UPLOAD_BYTES,
    MAX_VIDEO_UPLOAD_BYTES,
    Changes,
    JobQueue,
    QueueFull,
    display_name,
    is_clip_upload,
    parse_settings,
    read_photo,
)

STATIC = Path(__file__).resolve().parent / "static"
PAGE_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
              "favicon.svg": "image/svg+xml"}
EXAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg")
MEDIA_TYPES = {
    ".png": "image/png", ".json": "application/json", ".svg": "image/svg+xml", ".gif": "image/gif",
    ".mp4": "video/mp4", ".ora": "image/openraster", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".jsonl": "application/x-ndjson",
}  # fmt: skip
KEEPALIVE = 15.0  # s between comments on a quiet event stream (proxies close silent connections)
# Everything the page uses comes from this server; nothing inline, no other origin (blob: is the
# photo or video the user picked, shown from their own disk before it is sent).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def example_folder() -> Path | None:
    """The bundled example photos: the package's `examples/`, else the source tree's `examples/`."""
    here = Path(__file__).resolve()
    for folder in (here.parents[1] / "examples", here.parents[3] / "examples"):
        if folder.is_dir():
            return folder
    return None


def examples() -> dict[str, Path]:
    folder = example_folder()
    if folder is None:
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in EXAMPLE_SUFFIXES and p.is_file()}


# ----------------------------------------------------------------------------- handlers


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def not_found() -> JSONResponse:
    return error(404, "not found")


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in PAGE_FILES:
        return not_found()
    return FileResponse(STATIC / name, media_type=PAGE_FILES[name])


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page says: the page's SVG icon."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


async def healthz(request: Request) -> Response:
    ready = request.app.state.queue.ready.is_set()
    return JSONResponse({"status": "ok" if ready else "starting"}, status_code=200 if ready else 503)


async def options(request: Request) -> Response:
    queue: JobQueue = request.app.state.queue
    brushes = await run_in_threadpool(queue.brushes)
    return JSONResponse({
        "brushes": [{"key": b.key, "label": b.label} for b in brushes.values()],
        "examples": list(examples()),
        "defaults": DEFAULTS,
        "limits": {"upload_bytes": request.app.state.max_upload, "size": MAX_SIZE, "strokes": MAX_STROKES,
                   "time_budget": MAX_BUDGET, "video_upload_bytes": request.app.state.max_video_upload,
                   "video_frames": queue.max_frames},
        "video_suffixes": list(VIDEO_SUFFIXES),
    })  # fmt: skip


async def example(request: Request) -> Response:
    path = examples().get(request.path_params["name"])
    if path is None:
        return not_found()
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix.lower()])


async def start_job(request: Request) -> Response:
    """Check the upload and the settings, then queue the job: 202, or 4xx with one line saying why.

    A video is checked as well before it is queued (FFmpeg reads it, the frame limit) and waits in
    its job's folder; a photo waits in memory at the canvas size.
    """
    queue: JobQueue = request.app.state.queue
    limit, video_limit = request.app.state.max_upload, request.app.state.max_video_upload
    try:
        async with read_form(request, limit, video_limit) as (fields, upload):
            settings = parse_settings(fields, await run_in_threadpool(queue.brushes))
            if upload is not None and upload.clip is not None:
                job = await run_in_threadpool(queue.submit_clip, settings, upload.clip, upload.name)
            else:
                if upload is not None:
                    data, name = upload.data or b"", upload.name
                elif fields.get("example"):
                    path = examples().get(fields["example"])
                    if path is None:
                        raise BrushworkError(
                            f"no example photo {fields['example'][:60]!r}; choose one of {', '.join(examples())}"
                        )
                    data, name = await run_in_threadpool(path.read_bytes), path.name
                else:
                    raise BrushworkError("no photo: upload one (form field 'photo') or pick an example ('example')")
                photo = await run_in_threadpool(read_photo, data, name, settings.size)
                job = queue.submit(settings, photo, name)
    except TooLarge as e:
        return error(413, str(e))
    except QueueFull as e:
        return error(503, str(e))
    except BrushworkError as e:
        return error(400, str(e))
    return JSONResponse(queue.snapshot(job.id), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})


async def gallery(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(request.app.state.queue.gallery))


async def job(request: Request) -> Response:
    snap = request.app.state.queue.snapshot(request.path_params["job_id"])
    return not_found() if snap is None else JSONResponse(snap)


async def cancel(request: Request) -> Response:
    snap = request.app.state.queue.cancel(request.path_params["job_id"])
    return not_found() if snap is None else JSONResponse(snap)


async def events(request: Request) -> Response:
    """The job's state as server-sent events: one on every change, until it is finished."""
    queue: JobQueue = request.app.state.queue
    changes: Changes = request.app.state.changes
    job_id = request.path_params["job_id"]
    if queue.snapshot(job_id) is None:
        return not_found()

    async def stream() -> AsyncIterator[str]:
        last = None
        while True:
            wake = changes.waiter()  # before reading the state, so no change is missed
            snap = queue.snapshot(job_id)
            if snap is None:
                return
            if snap != last:
                yield f"data: {json.dumps(snap)}\n\n"
                last = snap
            if snap["status"] in FINAL:
                return
            if not await changes.wait(wake, KEEPALIVE):
                yield ": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def preview(request: Request) -> Response:
    png = request.app.state.queue.preview(request.path_params["job_id"])
    if png is None:
        return not_found()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


async def job_photo(request: Request) -> Response:
    png = await run_in_threadpool(request.app.state.queue.photo, request.path_params["job_id"])
    if png is None:
        return not_found()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


async def job_file(request: Request) -> Response:
    job_id, name = request.path_params["job_id"], request.path_params["name"]
    path = request.app.state.queue.file(job_id, name)
    if path is None:
        return not_found()
    attach = request.query_params.get("download") == "1"
    return FileResponse(
        path, media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        filename=name if attach else None, content_disposition_type="attachment" if attach else "inline",
    )  # fmt: skip


async def job_zip(request: Request) -> Response:
    queue: JobQueue = request.app.state.queue
    job_id = request.path_params["job_id"]
    snap = queue.snapshot(job_id)
    if snap is None or snap["status"] != "done":
        return not_found()
    paths = [p for p in (queue.file(job_id, name) for name in snap["files"]) if p is not None]
    data = await run_in_threadpool(zip_files, paths)
    name = f"brushwork-{job_id[:8]}.zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def zip_files(paths: list[Path]) -> bytes:
    """The files in one zip; images and videos are compressed already, so they are stored."""
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in paths:
            packed = p.suffix in (".png", ".gif", ".mp4", ".ora")
            z.write(p, p.name, compress_type=zipfile.ZIP_STORED if packed else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# ----------------------------------------------------------------------------- uploads


class TooLarge(BrushworkError):
    """The request body is over the upload limit."""


@dataclass
class Upload:
    """The form's file: a photo's bytes, or a video left in the parser's temporary file (on disk past
    1 MB: a 200 MB clip is never held in memory)."""

    name: str  # as shown (`display_name`)
    data: bytes | None = None  # a photo
    clip: BinaryIO | None = None  # a video, at its start; closed with the form


@asynccontextmanager
async def read_form(
    request: Request, limit: int, video_limit: int
) -> AsyncIterator[tuple[dict[str, str], Upload | None]]:
    """A multipart form read with a size cap -> (text fields, the upload or None), until the block ends.

    The body is counted as it arrives and refused past the larger limit (plus a little for the other
    fields) while it is parsed; then the file against its own: `video_limit` for a video (by its
    suffix, `is_clip_upload`), `limit` for a photo, before a photo is read into memory or decoded.
    """
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        raise BrushworkError("send the photo and settings as a multipart/form-data form (field 'photo')")
    cap = max(limit, video_limit)
    refusal = (
        f"the upload is larger than the {cap / 2**20:.0f} MB limit "
        f"({limit / 2**20:.0f} MB for a photo, {video_limit / 2**20:.0f} MB for a video): send a smaller file"
    )
    body = read_body(request, cap + 64 * 1024, refusal)
    try:
        form = await MultiPartParser(request.headers, body, max_files=1, max_fields=20).parse()
    except MultiPartException as e:
        raise BrushworkError(f"the form could not be read: {e.message}") from None
    try:
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        photo = form.get("photo")
        upload = None
        if isinstance(photo, UploadFile):
            name = display_name(photo.filename)
            size = photo.size if photo.size is not None else 0
            video = await run_in_threadpool(is_clip_upload, name, photo.file)
            cap, what = (video_limit, " for a video") if video else (limit, "")
            if size > cap:
                raise TooLarge(f"{name} is {size / 2**20:.1f} MB; the upload limit{what} is {cap / 2**20:.0f} MB")
            upload = Upload(name, clip=photo.file) if video else Upload(name, data=await photo.read())
        yield fields, upload
    finally:
        await form.close()


async def read_body(request: Request, limit: int, refusal: str) -> AsyncIterator[bytes]:
    """The request body as it arrives; TooLarge(`refusal`) once it is longer than `limit` bytes (a
    declared length is trusted only to refuse early; the rest is read to its end, up to 4x the limit,
    so the client gets the answer)."""
    declared = request.headers.get("content-length", "")
    over = declared.isdigit() and int(declared) > limit
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        over = over or size > limit
        if not over:
            yield chunk
        elif size > 4 * limit:
            break
    if over:
        raise TooLarge(refusal)


# ----------------------------------------------------------------------------- the app


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class Guard:
    """Every response gets the Content-Security-Policy and no-sniff headers; two requests are refused:

    - a Host header naming another server (`allowed_hosts`): with the app on 127.0.0.1, a web page
      whose name was re-pointed at this machine (DNS rebinding) cannot use it;
    - a POST whose Origin is another site: a page elsewhere cannot start or cancel paintings here
      (browsers send Origin with every cross-site POST; scripts like curl send none).
    """

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer")]  # fmt: skip
                message = {**message, "headers": headers}
            await send(message)

        headers = dict((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        host = headers.get("host", "")
        origin = headers.get("origin")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            refusal = error(400, f"this server answers to {', '.join(self.allowed_hosts)} only")
        elif scope["method"] == "POST" and origin is not None and origin.split("://", 1)[-1] != host:
            refusal = error(403, "requests from another site are refused")
        else:
            return await self.app(scope, receive, send_with_headers)
        await refusal(scope, receive, send_with_headers)


def host_name(host: str) -> str:
    """A Host header without its port: "127.0.0.1:7860" -> "127.0.0.1", "[::1]:80" -> "[::1]"."""
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


ROUTES = [
    Route("/", page),
    Route("/static/{name}", static),
    Route("/healthz", healthz),
    Route("/favicon.ico", favicon),
    Route("/api/options", options),
    Route("/api/examples/{name}", example),
    Route("/api/jobs", start_job, methods=["POST"]),
    Route("/api/jobs", gallery),
    Route("/api/jobs/{job_id}", job),
    Route("/api/jobs/{job_id}/events", events),
    Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
    Route("/api/jobs/{job_id}/preview.png", preview),
    Route("/api/jobs/{job_id}/photo.png", job_photo),
    Route("/api/jobs/{job_id}/files.zip", job_zip),
    Route("/api/jobs/{job_id}/files/{name}", job_file),
]


def create_app(
    out: str | Path = "out/web",
    painters: str | Path | None = "runs",
    threads: int | None = None,
    max_upload: int = MAX_UPLOAD_BYTES,
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_NAMES,
    max_video_upload: int = MAX_VIDEO_UPLOAD_BYTES,
) -> Starlette:
    """The web app: jobs painted one at a time into `out/<job id>/`, painters from `painters` offered too.

    `allowed_hosts`: the names the app answers to (None: any, for an app on the network). The worker
    thread starts with the app (its lifespan) and stops with it. `max_upload` caps a photo's upload,
    `max_video_upload` a video's.
    """
    changes = Changes()
    queue = JobQueue(out, painters=painters, threads=threads, on_change=changes.notify)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        changes.bind(asyncio.get_running_loop())
        queue.start()
        try:
            yield
        finally:
            await run_in_threadpool(queue.stop)

    async def unknown(request: Request, exc: Exception) -> Response:
        return not_found()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={404: unknown})
    app.state.queue, app.state.changes, app.state.max_upload = queue, changes, max_upload
    app.state.max_video_upload = max_video_upload
    app.add_middleware(Guard, allowed_hosts=allowed_hosts)
    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or one BrushworkError line (port taken, unknown host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        raise BrushworkError(
            f"cannot listen on {host}:{port}: {e.strerror or e}; choose another --port or --host"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(
    host: str = "127.0.0.1",
    port: int = 7860,
    out: str | Path = "out/web",
    painters: str | Path | None = "runs",
    threads: int | None = None,
    say=print,
) -> None:
    """Run the web app until Ctrl-C; `say` gets the line with its address."""
    import uvicorn

    prepare_folder(out)  # an unwritable --out is one line now, not a failed painting later
    sock = listen(host, port)
    loopback = host in ("127.0.0.1", "localhost", "::1")
    names = LOOPBACK_NAMES if loopback else None
    app = create_app(out, painters=painters, threads=threads, allowed_hosts=names)
    # Event streams never end by themselves: give open connections 2 s on Ctrl-C, then close them.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    say(f"brushwork: painting at {url_of(sock)}  (outputs in {out}/; Ctrl-C stops)")
    if not loopback:
        say(f"brushwork: note: listening on {host}: other machines on the network can use this app")
    server.run(sockets=[sock])


__all__ = ["create_app", "serve"]
