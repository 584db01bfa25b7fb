"""`brushwork serve`: the HTTP API against a real uvicorn server on 127.0.0.1, and the page in headless
Chromium (`-m browser`). Real components throughout: real pipeline, real brush, real files.

One server for the module (its worker paints with 1 thread); paintings are small (64-128 px,
60-100 strokes; videos of 6 frames at 96 x 64 px, made here with PyAV) so that the whole file runs
in about a minute on 2 cores.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install 'brushwork[web]'")
pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install 'brushwork[web]'")
pytest.importorskip("multipart", reason="the web extra is not installed: pip install 'brushwork[web]'")

import av  # noqa: E402
import numpy as np  # noqa: E402
import uvicorn  # noqa: E402

from brushwork.painting.strokes_files import load as load_strokes  # noqa: E402
from brushwork.web.app import create_app, listen, url_of  # noqa: E402
from brushwork.web.jobs import FINAL, JOB_ID, MAX_VIDEO_FRAMES, VIDEO_FILES, JobQueue  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASTLE = ROOT / "examples" / "castle.png"
SMALL = {"strokes": "60", "size": "64", "steps": "2"}  # a painting in about a second
SMALL_CLIP = {"strokes": "60", "size": "64", "steps": "3"}  # about a second a frame
UPLOAD_LIMIT = 1 << 20  # the test server's upload limit (the photo is 0.35 MB)


# ----------------------------------------------------------------------------- a server and a client


@dataclass
class Server:
    url: str
    host: str
    port: int
    out: Path
    app: object = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web")
    out, painters = root / "jobs", root / "painters"
    (painters / "mine").mkdir(parents=True)  # a user's painter file (the shipped pen's, copied)
    shutil.copy(
        ROOT / "src" / "brushwork" / "weights" / "classic__pen.safetensors", painters / "mine" / "pen.safetensors"
    )
    (painters / "notes.safetensors").write_bytes(b"not a painter")  # not offered
    app = create_app(out, painters=painters, threads=1, max_upload=UPLOAD_LIMIT)
    sock = listen("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    srv = Server(url_of(sock), host, port, out, app)
    deadline = time.monotonic() + 60
    while request(srv, "GET", "/healthz", check=False)[0] != 200:
        assert time.monotonic() < deadline, "the server did not become ready in 60 s"
        time.sleep(0.1)
    yield srv
    uv.should_exit = True
    thread.join(15)


def request(
    srv: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None, check: bool = True
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with the path sent as is (no normalising of `..`) -> (status, headers, body)."""
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=60)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        conn.close()
    except (ConnectionError, OSError):
        if check:
            raise
        return 0, {}, b""
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for k, (name, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def submit(srv: Server, photo: tuple[str, bytes] | None = None, **fields: str) -> tuple[int, dict]:
    """POST /api/jobs with a photo (or `example=`) -> (status, JSON answer)."""
    body, kind = multipart(fields, {"photo": photo} if photo else {})
    status, _, data = request(srv, "POST", "/api/jobs", body, {"Content-Type": kind})
    return status, json.loads(data)


def follow(srv: Server, job_id: str, until: Callable[[dict], bool] | None = None, timeout: float = 120) -> list[dict]:
    """Read the job's server-sent events until it is finished (or `until(event)`) -> the events."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    conn.request("GET", f"/api/jobs/{job_id}/events")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("content-type", "").startswith("text/event-stream")
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = r.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["status"] in FINAL or (until is not None and until(events[-1])):
                    break
    finally:
        conn.close()
    assert events, "no events"
    return events


def get_json(srv: Server, path: str) -> dict:
    status, _, data = request(srv, "GET", path)
    assert status == 200, (path, status, data[:200])
    return json.loads(data)


def make_clip(path: Path, frames: int = 6, width: int = 96, height: int = 64, fps: int = 12) -> Path:
    """An H.264 clip encoded by PyAV: a pan over a smooth landscape (each frame 2 px on)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.options = {"crf": "18", "threads": "1"}
        for k in range(frames):
            x, y = np.arange(width)[None, :] + 2.0 * k, np.arange(height)[:, None]
            rgb = np.stack([0.5 + 0.35 * np.sin(x / 11.0) + 0 * y, 0.4 + 0.3 * np.cos(y / 7.0 + x / 17.0),
                            0.3 + 0.2 * np.sin((x + y) / 13.0)], -1)  # fmt: skip
            frame = av.VideoFrame.from_ndarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


def video_frames(data: bytes) -> list[np.ndarray]:
    """An mp4's frames, decoded by PyAV."""
    with av.open(BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height and which has no pixel data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------- the HTTP API


def test_healthz_page_and_options(server: Server) -> None:
    assert get_json(server, "/healthz") == {"status": "ok"}
    status, headers, page = request(server, "GET", "/")
    assert status == 200 and b"/static/app.js" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        status, _, text = request(server, "GET", f"/static/{name}")
        assert status == 200 and b"http://" not in text and b"https://" not in text, name  # nothing from elsewhere
    assert b"http://" not in page and b"https://" not in page
    options = get_json(server, "/api/options")
    labels = {b["key"]: b["label"] for b in options["brushes"]}
    assert labels["classic/dry_brush"] == "Dry brush (classic)"  # a name a person reads, not the raw key
    assert labels["kaerhon_v1/wet_paint_sm"] == "Wet paint sm (kaerhon_v1), wet"
    assert labels["classic/dry_brush,kaerhon_v1/wet_paint_sm"].startswith("Dry brush (classic), then")
    assert "castle.png" in options["examples"]
    for path in ("/favicon.ico", "/static/favicon.svg"):
        status, headers, icon = request(server, "GET", path)
        assert status == 200 and headers["content-type"].startswith("image/svg+xml") and icon.startswith(b"<svg")
    assert options["limits"]["upload_bytes"] == UPLOAD_LIMIT


def test_job_paints_streams_progress_and_serves_its_files(server: Server, tmp_path: Path) -> None:
    status, job = submit(server, ("castle.png", CASTLE.read_bytes()), **SMALL, seed="3")
    assert status == 202, job
    assert JOB_ID.fullmatch(job["id"]) and job["status"] in ("queued", "running")
    events = follow(server, job["id"])
    final = events[-1]
    assert final["status"] == "done", final
    assert any(e["status"] == "running" and "level" in e["stage"] for e in events)
    assert any(e["preview"] for e in events), "no live image while painting"
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert final["result"]["strokes"] > 0 and final["settings"]["seed"] == 3

    for name in ("painting.png", "strokes.json", "painting.ora", "painting.svg", "process.gif", "photo.png"):
        assert name in final["files"]
    status, _, data = request(server, "GET", f"/api/jobs/{job['id']}/files/strokes.json?download=1")
    assert status == 200
    (tmp_path / "strokes.json").write_bytes(data)
    strokes = load_strokes(tmp_path / "strokes.json")
    assert len(strokes) == final["result"]["strokes"] and max(strokes.width, strokes.height) == 64

    status, headers, data = request(server, "GET", f"/api/jobs/{job['id']}/files.zip")
    assert status == 200 and headers["content-type"] == "application/zip"
    with zipfile.ZipFile(BytesIO(data)) as z:
        assert sorted(z.namelist()) == sorted(final["files"])
        assert json.loads(z.read("strokes.json"))["brushes"] == ["classic/dry_brush"]
    status, headers, data = request(server, "GET", f"/api/jobs/{job['id']}/preview.png")
    assert status == 200 and data.startswith(b"\x89PNG")

    record = json.loads((server.out / job["id"] / "job.json").read_text())
    assert record["status"] == "done" and record["timings"]["painting"] > 0
    assert job["id"] in [g["id"] for g in get_json(server, "/api/jobs")]  # the gallery
    assert get_json(server, f"/api/jobs/{job['id']}")["status"] == "done"


@pytest.mark.parametrize(
    "photo, fields, status, message",
    [
        (("notes.txt", b"hello, not a photo\n"), {}, 400, "not an image file"),
        (("cut.png", CASTLE.read_bytes()[:2000]), {}, 400, "cannot decode the image"),
        (("bomb.png", png_header(50_000, 50_000)), {}, 400, "decompression-bomb"),
        (("huge.png", b"\0" * (UPLOAD_LIMIT + 1000)), {}, 413, "limit"),
        (("empty.png", b""), {}, 400, "empty"),
        (None, {}, 400, "no photo"),
        (None, {"example": "../pyproject.toml"}, 400, "no example photo"),
        (("castle.png", CASTLE.read_bytes()), {"size": "100000"}, 400, "canvas size must be at most"),
        (("castle.png", CASTLE.read_bytes()), {"strokes": "0"}, 400, "strokes must be a positive integer"),
        (("castle.png", CASTLE.read_bytes()), {"strokes": "many"}, 400, "strokes must be a whole number"),
        (("castle.png", CASTLE.read_bytes()), {"time_budget": "nan"}, 400, "time budget must be a finite number"),
        (("castle.png", CASTLE.read_bytes()), {"steps": "3", "time_budget": "5"}, 400, "not both"),
        (("castle.png", CASTLE.read_bytes()), {"brush": "/etc/passwd"}, 400, "unknown brush"),
        (("castle.png", CASTLE.read_bytes()), {"steps": "1" + "0" * 100}, 400, "steps must be from 1 to"),
        (("castle.png", CASTLE.read_bytes()), {"strokes": "9" * 400}, 400, "strokes must be at most"),
        (("castle.png", CASTLE.read_bytes()), {"size": "9" * 400}, 400, "canvas size must be at most"),
        (("castle.png", CASTLE.read_bytes()), {"seed": "-1"}, 400, "seed must be from 0"),
    ],
)
def test_bad_upload_or_settings_is_one_clear_message(
    server: Server, photo: tuple[str, bytes] | None, fields: dict, status: int, message: str
) -> None:
    got, answer = submit(server, photo, **fields)
    assert got == status and message in answer["error"], answer
    assert "\n" not in answer["error"] and "/tmp" not in answer["error"]  # one line, no server paths
    assert get_json(server, "/healthz")["status"] == "ok"  # and the server keeps serving


def test_not_a_form_is_refused(server: Server) -> None:
    status, _, data = request(server, "POST", "/api/jobs", CASTLE.read_bytes(), {"Content-Type": "image/png"})
    assert status == 400 and b"multipart/form-data" in data


def test_video_job_paints_frame_by_frame_and_serves_the_film(server: Server, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "walk.mp4")
    status, job = submit(server, ("walk.mp4", clip.read_bytes()), **SMALL_CLIP)
    assert status == 202, job
    assert job["kind"] == "video" and job["status"] in ("queued", "running")
    events = follow(server, job["id"], timeout=180)
    final = events[-1]
    assert final["status"] == "done", final
    painted = {e["stage"].split(" painted")[0] for e in events if e["stage"].endswith("strokes)")}
    assert len(painted) >= 2 and painted <= {f"frame {k} of 6" for k in range(1, 7)}, painted
    assert any(e["eta"] is not None for e in events), "no ETA while painting"
    assert any(e["preview"] for e in events), "no live image while painting"
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert final["files"] == sorted(VIDEO_FILES)
    assert final["result"]["frames"] == 6 and final["result"]["width"] == 64

    files = f"/api/jobs/{job['id']}/files"
    status, headers, film = request(server, "GET", f"{files}/painting.mp4")
    assert status == 200 and headers["content-type"] == "video/mp4"
    frames = video_frames(film)
    assert len(frames) == 6 and frames[0].shape[1] == 64
    status, headers, part = request(server, "GET", f"{files}/painting.mp4", headers={"Range": "bytes=0-99"})
    assert status == 206 and part == film[:100]  # a browser seeks with Range requests
    status, headers, side = request(server, "GET", f"{files}/comparison.mp4")
    assert status == 200 and headers["content-type"] == "video/mp4" and len(video_frames(side)) == 6
    status, _, rows = request(server, "GET", f"{files}/frames.jsonl?download=1")
    assert status == 200 and [json.loads(r)["frame"] for r in rows.splitlines()] == list(range(6))
    status, headers, poster = request(server, "GET", f"{files}/poster.png")
    assert status == 200 and headers["content-type"] == "image/png" and poster.startswith(b"\x89PNG")
    for name in ("video.json", "clip.mp4"):  # the manifest names server paths; the upload is not ours to serve
        assert request(server, "GET", f"{files}/{name}")[0] == 404, name
    folder = server.out / job["id"]
    assert not list(folder.glob("clip.*")), "the upload is kept after painting"
    assert len(list((folder / "strokes").glob("*.npz"))) == 6
    status, _, data = request(server, "GET", f"/api/jobs/{job['id']}/files.zip")
    with zipfile.ZipFile(BytesIO(data)) as z:
        assert status == 200 and sorted(z.namelist()) == sorted(VIDEO_FILES)
    gallery = {g["id"]: g for g in get_json(server, "/api/jobs")}
    assert gallery[job["id"]]["kind"] == "video"


@pytest.mark.parametrize(
    "name, frames, shape, fields, message",
    [
        ("notes.mp4", None, None, {}, "is not a video FFmpeg can read"),
        ("long.mp4", MAX_VIDEO_FRAMES + 1, (32, 32), {}, f"--frames 0:{MAX_VIDEO_FRAMES}"),
        ("walk.mov", 6, (96, 64), {"time_budget": "1000", "steps": ""}, "per frame"),
        ("strip.mkv", 6, (192, 8), {}, "use a larger --size"),
    ],
)
def test_bad_video_upload_is_one_clear_message(
    server: Server, tmp_path: Path, name: str, frames: int | None, shape: tuple | None, fields: dict, message: str
) -> None:
    data = b"hello, not a video\n" if frames is None else make_clip(tmp_path / name, frames, *shape).read_bytes()
    got, answer = submit(server, (name, data), **{**SMALL_CLIP, **fields})
    assert got == 400 and message in answer["error"] and name in answer["error"], answer
    assert "\n" not in answer["error"] and str(server.out) not in answer["error"]  # one line, no server paths
    assert all((f / "job.json").is_file() for f in server.out.iterdir() if f.is_dir()), "a refused upload left files"


def test_video_job_cancels_mid_frame(server: Server, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "walk.mp4")
    _, job = submit(server, ("walk.mp4", clip.read_bytes()), strokes="3000", size="128", steps="400")
    follow(server, job["id"], until=lambda e: e["stage"].startswith("frame 1 of 6: level"), timeout=120)
    t0 = time.monotonic()
    assert request(server, "POST", f"/api/jobs/{job['id']}/cancel")[0] == 200
    final = follow(server, job["id"], timeout=60)[-1]
    assert final["status"] == "cancelled" and time.monotonic() - t0 < 30, final
    assert not (server.out / job["id"]).exists()  # nothing left behind, the upload neither


def test_downloads_serve_only_the_apps_files(server: Server) -> None:
    status, job = submit(server, example="castle.png", **SMALL)
    assert status == 202 and follow(server, job["id"])[-1]["status"] == "done"
    good = f"/api/jobs/{job['id']}/files"
    assert request(server, "GET", f"{good}/painting.png")[0] == 200
    fake = "A" * 22  # looks like an id, is none
    for path in (
        f"{good}/../../../../pyproject.toml",
        f"{good}/..%2f..%2f..%2fpyproject.toml",
        f"{good}/%2e%2e/%2e%2e/job.json",
        f"{good}/%2e%2e%2f%2e%2e%2fjob.json",
        f"{good}/%2Fetc%2Fpasswd",
        f"{good}//etc/passwd",
        f"{good}/.brushwork-staging-x",
        f"{good}/painting.png%00.json",
        f"/api/jobs/{fake}/files/painting.png",
        "/api/jobs/..%2F..%2Fetc/files/passwd",
        "/api/jobs/%2e%2e/files/job.json",
        f"/api/jobs/{job['id']}%2f..%2f{job['id']}/files/job.json",
        "/api/examples/..%2f..%2fpyproject.toml",
        "/api/examples/%2e%2e%2fpyproject.toml",
        "/static/..%2fjobs.py",
        "/static/%2e%2e%2fapp.py",
        "/static//etc/passwd",
    ):
        status, _, data = request(server, "GET", path)
        assert status == 404, (path, status, data[:100])
    # job ids are 128 random bits, not a counter
    _, other = submit(server, example="castle.png", **SMALL)
    assert other["id"] != job["id"] and JOB_ID.fullmatch(other["id"])
    assert follow(server, other["id"])[-1]["status"] == "done"


def test_a_linked_job_folder_or_a_bad_record_is_skipped_not_served(server: Server, tmp_path: Path) -> None:
    status, job = submit(server, example="castle.png", **SMALL)
    assert status == 202 and follow(server, job["id"])[-1]["status"] == "done"
    elsewhere = tmp_path / "elsewhere"  # a finished job's folder, copied outside and linked in
    shutil.copytree(server.out / job["id"], elsewhere)
    linked = "L" * 22
    record = json.loads((elsewhere / "job.json").read_text())
    (elsewhere / "job.json").write_text(json.dumps({**record, "id": linked}))
    (server.out / linked).symlink_to(elsewhere, target_is_directory=True)
    bad = "B" * 22  # a job.json with a field of the wrong type
    shutil.copytree(server.out / job["id"], server.out / bad)
    (server.out / bad / "job.json").write_text(json.dumps({**record, "id": bad, "finished": "yesterday"}))
    status, _, data = request(server, "GET", "/api/jobs")
    assert status == 200, data[:200]
    ids = [g["id"] for g in json.loads(data)]
    assert job["id"] in ids and linked not in ids and bad not in ids
    assert request(server, "GET", f"/api/jobs/{linked}/files/painting.png")[0] == 404
    assert request(server, "GET", f"/api/jobs/{linked}")[0] == 404


def test_cancel_stops_the_running_job_and_the_next_starts(server: Server) -> None:
    _, long = submit(server, example="castle.png", strokes="4000", size="384", steps="200")
    painting = follow(server, long["id"], until=lambda e: e["status"] == "running" and "optimising" in e["stage"])
    assert painting[-1]["status"] == "running"
    status, nxt = submit(server, example="castle.png", **SMALL)
    assert status == 202 and nxt["status"] == "queued" and nxt["ahead"] == 1
    t0 = time.monotonic()
    status, _, _ = request(server, "POST", f"/api/jobs/{long['id']}/cancel")
    assert status == 200
    assert follow(server, long["id"], timeout=30)[-1]["status"] == "cancelled"
    assert time.monotonic() - t0 < 10, "cancel took too long"
    assert not (server.out / long["id"]).exists()  # nothing left behind
    events = follow(server, nxt["id"])
    assert events[-1]["status"] == "done"


def test_cancel_a_waiting_job(server: Server) -> None:
    _, first = submit(server, example="castle.png", **SMALL)
    _, second = submit(server, example="castle.png", **SMALL)
    status, _, data = request(server, "POST", f"/api/jobs/{second['id']}/cancel")
    assert status == 200 and json.loads(data)["status"] in ("cancelled", "done")
    assert follow(server, first["id"])[-1]["status"] == "done"
    assert request(server, "POST", f"/api/jobs/{'B' * 22}/cancel")[0] == 404


def test_two_clients_at_once_both_get_their_painting(server: Server) -> None:
    results: dict[int, list[dict]] = {}
    answers: dict[int, dict] = {}

    def client(k: int) -> None:
        _, job = submit(server, example="castle.png", **SMALL, seed=str(k))
        answers[k] = job
        results[k] = follow(server, job["id"])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [results[k][-1]["status"] for k in range(2)] == ["done", "done"]
    assert answers[0]["id"] != answers[1]["id"]
    assert max(a["ahead"] for a in answers.values()) >= 1  # one of them waited its turn


def test_a_users_painter_file_is_offered_and_paints(server: Server) -> None:
    keys = [b["key"] for b in get_json(server, "/api/options")["brushes"]]
    assert "file:mine/pen.safetensors" in keys and not any("notes" in k for k in keys)
    _, job = submit(server, example="castle.png", brush="file:mine/pen.safetensors", **SMALL)
    final = follow(server, job["id"])[-1]
    assert final["status"] == "done", final
    _, _, data = request(server, "GET", f"/api/jobs/{job['id']}/files/strokes.json")
    assert json.loads(data)["brushes"] == ["classic/pen"]


def test_one_pipeline_per_brush_and_painter(server: Server) -> None:
    for _ in range(2):
        _, job = submit(server, example="castle.png", **SMALL)
        assert follow(server, job["id"])[-1]["status"] == "done"
    built = server.app.state.queue.built
    assert built[("classic/dry_brush", None)] == 1, built  # built once at start, reused by every job


def test_other_sites_and_host_names_are_refused(server: Server) -> None:
    body, kind = multipart({"example": "castle.png", **SMALL}, {})
    status, _, data = request(
        server, "POST", "/api/jobs", body, {"Content-Type": kind, "Origin": "http://evil.example"}
    )
    assert status == 403 and b"another site" in data
    status, _, data = request(server, "GET", "/api/options", headers={"Host": f"evil.example:{server.port}"})
    assert status == 400 and b"127.0.0.1" in data
    origin = f"http://{server.host}:{server.port}"  # the page itself may
    status, _, data = request(server, "POST", "/api/jobs", body, {"Content-Type": kind, "Origin": origin})
    assert status == 202
    assert follow(server, json.loads(data)["id"])[-1]["status"] == "done"


# ----------------------------------------------------------------------------- the command


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


def test_serve_help_does_not_import_torch() -> None:
    r = run_python(
        "import sys\nfrom brushwork.cli import main\n"
        "try:\n    main(['serve', '--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    assert r.returncode == 0, r.stderr
    assert "--port" in r.stdout and "--out" in r.stdout


def test_serve_without_the_web_extra_says_how_to_install_it() -> None:
    r = run_python(  # None in sys.modules: the import system treats the package as not installed
        "import sys\nsys.modules['starlette'] = sys.modules['uvicorn'] = None\n"
        "from brushwork.cli import main\nsys.exit(main(['serve']))\n"
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "pip install 'brushwork[web]'" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_prints_its_address_answers_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "brushwork.cli", "serve", "--port", "0", "--out", str(tmp_path / "out"),
           "--painters", str(tmp_path), "--threads", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split("http://", 1)[1].split()[0].rstrip("/")
        host, port = url.split(":")
        srv = Server(f"http://{url}/", host, int(port), tmp_path / "out")
        deadline = time.monotonic() + 60
        while request(srv, "GET", "/healthz", check=False)[0] != 200:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_taken_port_in_one_line() -> None:
    sock = listen("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        r = run_python(f"import sys\nfrom brushwork.cli import main\nsys.exit(main(['serve', '--port', '{port}']))")
    finally:
        sock.close()
    assert r.returncode == 2 and "cannot listen" in r.stderr and "Traceback" not in r.stderr, r.stderr


# ----------------------------------------------------------------------------- in a browser

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browsers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], object]]:
    """A factory of headless Chromium sessions (Debian's), each with its own download folder; on a
    failure every session's screenshot is saved to out/test-failures/web/."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (bootstrap.sh --dev)")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: apt-get install chromium chromium-driver (bootstrap.sh --dev does)")
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make() -> object:
        downloads = tmp_path / f"downloads{len(drivers)}"
        downloads.mkdir()
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-extensions", "--mute-audio"):  # fmt: skip
            options.add_argument(arg)
        options.add_experimental_option(
            "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
        )
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.downloads = downloads
        drivers.append(driver)
        return driver

    failed = request.session.testsfailed
    yield make
    if request.session.testsfailed > failed:
        shots = ROOT / "out" / "test-failures" / "web"
        shots.mkdir(parents=True, exist_ok=True)
        for k, d in enumerate(drivers):
            d.save_screenshot(str(shots / f"{request.node.name}-{k}.png"))
    for d in drivers:
        d.quit()


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def wait(driver, condition: Callable, timeout: float = 60, message: str = ""):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def open_page(driver, srv: Server) -> None:
    driver.get(srv.url)
    wait_ready(driver)


def wait_ready(driver) -> None:
    wait(driver, lambda d: d.find_element("css selector", "body").get_attribute("data-ready") == "1", 30, "page")


def status_of(driver) -> str:
    return by_id(driver, "status").get_attribute("data-status")


def wait_status(driver, wanted: tuple[str, ...], timeout: float = 90) -> str:
    """Wait until the page shows one of `wanted` (or a failure, reported with the page's message)."""
    status = wait(driver, lambda d: status_of(d) in (*wanted, "failed") and status_of(d), timeout, f"status {wanted}")
    assert status in wanted, f"page says {status}: {by_id(driver, 'error').text}"
    return status


def set_field(driver, element_id: str, value: str) -> None:
    field = by_id(driver, element_id)
    field.clear()
    field.send_keys(value)


def choose_settings(driver, strokes: str, size: str, steps: str | None = None) -> None:
    set_field(driver, "strokes", strokes)
    set_field(driver, "size", size)
    if steps is not None:
        details = driver.find_element("css selector", "#settings details")
        if not details.get_attribute("open"):
            details.find_element("css selector", "summary").click()
        set_field(driver, "steps", steps)


@pytest.mark.browser
def test_browser_upload_watch_and_download(server: Server, browsers) -> None:
    driver = browsers()
    open_page(driver, server)
    by_id(driver, "file").send_keys(str(CASTLE))  # the user uploads their photo
    wait(driver, lambda d: by_id(d, "photo").get_attribute("src").startswith("blob:"), 10, "photo preview")
    choose_settings(driver, strokes="100", size="128", steps="12")
    by_id(driver, "paint").click()
    wait_status(driver, ("running",), 60)
    wait_status(driver, ("done",), 120)
    frames = int(by_id(driver, "live").get_attribute("data-frames-at-end"))
    assert frames >= 2, f"the live image changed {frames} times before the end"
    assert by_id(driver, "result").is_displayed()

    link = driver.find_element("css selector", '#downloads a[data-name="strokes.json"]')
    link.click()
    target = driver.downloads / "strokes.json"
    wait(driver, lambda d: target.exists() and target.stat().st_size > 0, 30, "strokes.json downloaded")
    strokes = load_strokes(target)
    assert len(strokes) > 0 and max(strokes.width, strokes.height) == 128

    driver.refresh()  # the painting is in the gallery after a reload
    open_page(driver, server)
    wait(driver, lambda d: d.find_elements("css selector", "#gallery .thumb"), 10, "gallery")


@pytest.mark.browser
def test_browser_video_upload_plays_the_painted_film(server: Server, browsers, tmp_path: Path) -> None:
    driver = browsers()
    open_page(driver, server)
    clip = make_clip(tmp_path / "walk.mp4")
    by_id(driver, "file").send_keys(str(clip))  # the user uploads a video, as they would a photo
    wait(driver, lambda d: (by_id(d, "clip").get_attribute("src") or "").startswith("blob:"), 10, "video preview")
    assert by_id(driver, "video-note").is_displayed()
    choose_settings(driver, strokes="60", size="64", steps="3")
    by_id(driver, "paint").click()
    wait_status(driver, ("running",), 60)
    stages: set[str] = set()

    def finished(d) -> bool:  # every stage text polled on the way: a short clip can pass one between polls
        stages.add(by_id(d, "stage").text)
        return status_of(d) in ("done", "failed")

    wait(driver, finished, 180, "the film painted")
    wait_status(driver, ("done",), 5)
    assert any(re.match(r"Frame \d+ of \d+", text) for text in stages), stages  # progress per frame
    assert int(by_id(driver, "live").get_attribute("data-frames-at-end")) >= 2  # a live image per frame
    film = wait(driver, lambda d: by_id(d, "film").get_attribute("src"), 10, "the film")
    assert film.endswith("/painting.mp4") and by_id(driver, "film").is_displayed()
    assert by_id(driver, "film").get_attribute("controls") is not None
    # Chromium loads it (HAVE_METADATA): served as video/mp4, in a codec it plays
    wait(driver, lambda d: d.execute_script("return arguments[0].readyState", by_id(d, "film")) >= 1, 30, "metadata")
    assert driver.execute_script("return arguments[0].duration", by_id(driver, "film")) == pytest.approx(0.5, abs=0.1)
    names = [a.get_attribute("data-name") for a in driver.find_elements("css selector", "#downloads a")]
    assert {"painting.mp4", "comparison.mp4", "frames.jsonl"} <= set(names), names
    assert not by_id(driver, "compare-figure").is_displayed()  # the photo's slider is not for a video
    job_id = driver.current_url.split("#job=")[1]
    driver.refresh()  # the gallery shows the film by its first painted frame
    open_page(driver, server)
    thumb = f'#gallery .thumb[data-id="{job_id}"] img'
    img = wait(driver, lambda d: d.find_elements("css selector", thumb), 10, "gallery")[0]
    assert img.get_attribute("src").endswith(f"/api/jobs/{job_id}/files/poster.png")


# the images shown on the page without a picture: a broken-image icon, or one still loading (a lazy one
# out of view may wait: only a broken one counts)
SHOWN_NOT_LOADED = """return [...document.images].filter((i) => i.getClientRects().length > 0
    && !(i.complete && i.naturalWidth > 0) && (i.loading !== "lazy" || i.complete))
    .map((i) => i.id || i.getAttribute("src"));"""


def no_broken_image(driver, timeout: float = 10) -> None:
    """Every image shown has loaded a picture (naturalWidth > 0): no broken-image icon anywhere."""
    try:
        wait(driver, lambda d: not d.execute_script(SHOWN_NOT_LOADED), timeout)
    except Exception:
        pytest.fail(f"images shown without a picture: {driver.execute_script(SHOWN_NOT_LOADED)}")


@pytest.mark.browser
@pytest.mark.parametrize(
    "name, data, message",
    [
        ("holiday.png", CASTLE.read_bytes()[:3000], "cannot decode"),  # a truncated PNG
        ("notes.png", b"hello, not a photo\n" * 20, "not an image file"),  # not an image at all
    ],
)
def test_browser_broken_upload_shows_the_message(
    server: Server, browsers, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    driver = browsers()
    open_page(driver, server)
    broken = tmp_path / name
    broken.write_bytes(data)
    by_id(driver, "file").send_keys(str(broken))
    wait(driver, lambda d: by_id(d, "photo").get_attribute("src").startswith("blob:"), 10, "photo picked")
    no_broken_image(driver)
    by_id(driver, "paint").click()
    wait(driver, lambda d: by_id(d, "error").is_displayed(), 30, "error message")
    text = by_id(driver, "error").get_attribute("textContent")
    assert name in text and message in text, text
    assert "\n" not in text.strip() and text.count(name) == 1, text  # one line, the file named once
    assert by_id(driver, "paint").is_enabled()  # the user can try again
    no_broken_image(driver)


@pytest.mark.browser
def test_browser_cancel_lets_the_next_painting_start(server: Server, browsers) -> None:
    first, second = browsers(), browsers()
    for d in (first, second):
        open_page(d, server)
    choose_settings(first, strokes="4000", size="384", steps="200")  # long: cancelled below
    by_id(first, "paint").click()
    wait(first, lambda d: "optimising" in by_id(d, "stage").text, 60, "first painting running")
    choose_settings(second, strokes="60", size="64", steps="2")
    by_id(second, "paint").click()
    wait_status(second, ("queued",), 30)
    assert "1 painting ahead" in by_id(second, "stage").text
    by_id(first, "cancel").click()
    wait_status(first, ("cancelled",), 15)
    wait_status(second, ("running", "done"), 30)
    wait_status(second, ("done",), 90)


def painted(srv: Server, **fields: str) -> dict:
    """A finished job, painted through the API -> its final state."""
    status, job = submit(srv, example="castle.png", **fields)
    assert status == 202, job
    final = follow(srv, job["id"])[-1]
    assert final["status"] == "done", final
    return final


def long_job(srv: Server) -> dict:
    """A job painting for minutes, once its optimiser runs: cancel it."""
    _, job = submit(srv, example="castle.png", strokes="4000", size="384", steps="200")
    follow(srv, job["id"], until=lambda e: e["status"] == "running" and "optimising" in e["stage"])
    return job


@pytest.mark.browser
def test_browser_gallery_after_a_cancel_shows_that_jobs_own_state(server: Server, browsers) -> None:
    done = painted(server, **SMALL, seed="11")
    driver = browsers()
    open_page(driver, server)
    choose_settings(driver, strokes="4000", size="384", steps="200")  # long: cancelled below
    by_id(driver, "paint").click()
    wait(driver, lambda d: "optimising" in by_id(d, "stage").text, 60, "painting running")
    by_id(driver, "cancel").click()
    wait_status(driver, ("cancelled",), 15)
    thumb = wait(driver, lambda d: d.find_elements("css selector", f'#gallery .thumb[data-id="{done["id"]}"]'), 10)
    thumb[0].click()
    wait_status(driver, ("done",), 10)  # the clicked job's status, not the cancelled one's
    assert "Cancel" not in by_id(driver, "status").text and by_id(driver, "stage").text == "Done."
    assert by_id(driver, "progress").get_attribute("value") == "1"
    assert not by_id(driver, "cancel").is_enabled() and by_id(driver, "paint").is_enabled()
    live = by_id(driver, "live")
    assert live.get_attribute("src").endswith(f"/api/jobs/{done['id']}/files/painting.png")
    assert "ghost" not in live.get_attribute("class")
    assert by_id(driver, "result").is_displayed()
    assert f"{done['result']['strokes']} strokes" in by_id(driver, "summary").text
    links = driver.find_elements("css selector", "#downloads a")
    assert sorted(a.get_attribute("data-name") for a in links) == sorted(done["files"])
    assert all(f"/api/jobs/{done['id']}/files/" in a.get_attribute("href") for a in links)
    assert driver.current_url.endswith(f"#job={done['id']}")
    no_broken_image(driver)
    driver.refresh()  # its address shows it again, with its own settings and photo (an example's)
    wait_ready(driver)
    wait_status(driver, ("done",), 10)
    wait(driver, lambda d: by_id(d, "seed").get_attribute("value") == "11", 10, "the job's settings")
    assert [by_id(driver, k).get_attribute("value") for k in ("size", "steps")] == ["64", "2"]
    picked = driver.find_elements("css selector", "#examples button.picked")
    assert [b.get_attribute("data-name") for b in picked] == ["castle.png"] and by_id(driver, "photo").is_displayed()
    no_broken_image(driver)


@pytest.mark.browser
def test_browser_reload_on_a_waiting_job_shows_its_settings_and_photo(server: Server, browsers, tmp_path: Path) -> None:
    running = long_job(server)  # so that the page's job waits
    photo = tmp_path / "my-holiday.png"
    shutil.copy(CASTLE, photo)
    driver = browsers()
    try:
        open_page(driver, server)
        by_id(driver, "file").send_keys(str(photo))
        driver.find_element("css selector", '#brush option[value="classic/pen"]').click()
        choose_settings(driver, strokes="77", size="96", steps="3")
        set_field(driver, "seed", "5")
        by_id(driver, "paint").click()
        wait_status(driver, ("queued",), 30)
        job_id = driver.current_url.split("#job=")[1]
        assert get_json(server, f"/api/jobs/{job_id}")["status"] == "queued"
        driver.refresh()  # the page of the waiting job, as its address says
        wait_ready(driver)
        assert driver.current_url.endswith(f"#job={job_id}")
        wait_status(driver, ("queued",), 10)
        assert "1 painting ahead" in by_id(driver, "stage").text
        wait(driver, lambda d: by_id(d, "size").get_attribute("value") == "96", 10, "the job's settings")
        shown = {k: by_id(driver, k).get_attribute("value") for k in ("brush", "strokes", "size", "seed", "steps")}
        assert shown == {"brush": "classic/pen", "strokes": "77", "size": "96", "seed": "5", "steps": "3"}
        assert by_id(driver, "by-strokes").is_selected()
        assert "my-holiday.png" in by_id(driver, "setup").text  # the upload's name
        picture = by_id(driver, "photo")
        assert picture.is_displayed() and job_id in picture.get_attribute("src")  # its photo, not an example
        assert not driver.find_elements("css selector", "#examples button.picked")
        no_broken_image(driver)
        w, h = driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", picture)
        assert (w, h) == (96, 96)  # the photo at the job's canvas size
    finally:
        request(server, "POST", f"/api/jobs/{running['id']}/cancel")
    wait_status(driver, ("running", "done"), 30)  # and the page follows it on
    wait_status(driver, ("done",), 90)


@pytest.mark.browser
def test_browser_live_image_is_not_stretched(server: Server, browsers, tmp_path: Path) -> None:
    from PIL import Image

    wide = tmp_path / "wide.png"  # 2:1, so that a stretched or squeezed image shows
    with Image.open(CASTLE) as im:
        im.convert("RGB").crop((0, 128, 512, 384)).save(wide)
    driver = browsers()
    open_page(driver, server)
    by_id(driver, "file").send_keys(str(wide))
    choose_settings(driver, strokes="100", size="160", steps="12")
    by_id(driver, "paint").click()
    live = by_id(driver, "live")
    wait(driver, lambda d: int(live.get_attribute("data-frames")) >= 1, 90, "a live image")
    sizes = []

    def check(what: str) -> None:
        got = driver.execute_script(
            "const i = arguments[0], r = i.getBoundingClientRect();"
            "return [i.naturalWidth, i.naturalHeight, r.width, r.height, window.devicePixelRatio];",
            live,
        )
        nw, nh, w, h, dpr = got
        sizes.append((what, got))
        assert nw > 0 and abs((w / h) / (nw / nh) - 1) < 0.02, f"{what}: {nw}x{nh} shown as {w}x{h}"
        assert w * dpr <= nw + 1 and h * dpr <= nh + 1, f"{what}: {nw}x{nh} enlarged to {w}x{h}"

    assert "/preview.png" in live.get_attribute("src")
    check("the live preview")
    wait_status(driver, ("done",), 120)
    wait(driver, lambda d: d.execute_script("return arguments[0].complete", live), 10, "the painting loaded")
    check("the painting")
    assert sizes[-1][1][:2] == [160, 80], sizes


@pytest.mark.browser
def test_browser_two_sessions_paint_at_once(server: Server, browsers) -> None:
    sessions = [browsers(), browsers()]
    for d in sessions:
        open_page(d, server)
        choose_settings(d, strokes="60", size="64", steps="2")
    for d in sessions:
        by_id(d, "paint").click()
    for d in sessions:
        wait_status(d, ("done",), 120)
        assert by_id(d, "result").is_displayed()


@pytest.mark.browser
@pytest.mark.skipif(not os.environ.get("BRUSHWORK_WEB_SCREENSHOT"), reason="set BRUSHWORK_WEB_SCREENSHOT=docs/web.png")
def test_browser_readme_screenshot(server: Server, browsers) -> None:
    """The README's picture of the app mid-painting: BRUSHWORK_WEB_SCREENSHOT=docs/web.png pytest -k screenshot."""
    from PIL import Image

    driver = browsers()
    driver.set_window_size(1200, 900)
    open_page(driver, server)
    choose_settings(driver, strokes="1500", size="384", steps="60")
    by_id(driver, "paint").click()
    wait(driver, lambda d: int(by_id(d, "live").get_attribute("data-frames")) >= 3, 180, "third level")
    driver.execute_script("window.scrollTo(0, 0)")  # clicking scrolled the button into view
    shot = Image.open(BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot = shot.crop((0, 0, shot.width, min(shot.height, 830)))  # the header and both panels
    shot = shot.resize((900, round(900 * shot.height / shot.width)), Image.Resampling.LANCZOS)
    path = ROOT / os.environ["BRUSHWORK_WEB_SCREENSHOT"]
    shot.quantize(colors=160, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    by_id(driver, "cancel").click()
    wait_status(driver, ("cancelled", "done"), 30)
    assert path.stat().st_size < 150_000, f"{path} is {path.stat().st_size} bytes"


def test_a_job_left_half_written_by_a_killed_server_is_reported_failed(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    half = out / ("H" * 22)  # what a SIGKILL while writing leaves: files, no job.json
    half.mkdir(parents=True)
    (half / "painting.png").write_bytes(b"half")
    (out / "notes").mkdir()  # not a job folder: left alone
    queue = JobQueue(out)
    assert queue.mark_unfinished() == ["H" * 22]
    state = queue.snapshot("H" * 22)
    assert state["status"] == "failed" and "stopped before this job finished" in state["error"]
    assert not (out / "notes" / "job.json").exists()
    assert queue.mark_unfinished() == []  # once
