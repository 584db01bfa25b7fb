// brushwork's page: pick a photo (or a video) and settings, start a job (POST /api/jobs), follow it
// through server-sent events (/api/jobs/<id>/events), show the live image, the result and the files.
"use strict";

const $ = (id) => document.getElementById(id);
const FILE_NOTES = {
  "painting.png": "the painting",
  "painting_neural.png": "the neural painter's canvas",
  "comparison.png": "photo and painting side by side",
  "strokes.json": "every stroke (brushwork render redraws it)",
  "painting.ora": "layers for MyPaint or Krita",
  "painting.svg": "strokes as vector paths",
  "process.gif": "the brush at work",
  "process.mp4": "the brush at work",
  "painting_engine.png": "the real brush, larger",
  "photo.png": "the photo at the canvas size",
  "painting.mp4": "the painted video, with the clip's sound",
  "comparison.mp4": "clip and painting side by side",
  "frames.jsonl": "one row per frame: strokes added, moved and removed, PSNR, flicker",
  "poster.png": "the first frame's painting",
};
const state = {
  limits: null, videoSuffixes: [], file: null, video: false, example: null, job: null, source: null,
  preview: null, frames: 0,
};

// "45 s", "12 min", "1 h 05 min": as schedule.duration words it for the command line
function duration(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 90 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

async function getJSON(url, init) {
  const res = await fetch(url, init);
  const body = await res.json().catch(() => ({ error: `the server answered ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `the server answered ${res.status}`);
  return body;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

// -- the photo -------------------------------------------------------------------------------------

function showPhoto(src) {
  $("photo").src = src;
  $("photo").hidden = false;
  const clip = $("clip");
  if (clip.getAttribute("src")) {
    clip.pause();
    clip.removeAttribute("src");
    clip.load(); // lets go of the video picked before
  }
  clip.hidden = true;
  $("drop-hint").hidden = true;
}

// A file the browser cannot show (not an image, or a format it does not decode): no broken-image icon.
// The hint comes back with the file's name below it; Paint gets the server's one line on what is wrong.
function photoFailed() {
  if (!$("photo").getAttribute("src")) return;
  $("photo").hidden = true;
  $("drop-hint").hidden = false;
}

function showSource(text) {
  $("source").textContent = text;
  $("source").hidden = !text;
}

function showClip(src) {
  $("clip").src = src;
  $("clip").hidden = false;
  $("clip").play().catch(() => {});
  $("photo").hidden = true;
  $("drop-hint").hidden = true;
}

function suffix(name) {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot).toLowerCase();
}

// A video by its name, as the server tells (a GIF is a video only when animated: the server knows).
function isVideo(file) {
  return state.videoSuffixes.includes(suffix(file.name)) && suffix(file.name) !== ".gif";
}

function uploadLimit(file) {
  if (!state.limits) return Infinity;
  if (isVideo(file)) return state.limits.video_upload_bytes;
  if (suffix(file.name) === ".gif") return Math.max(state.limits.upload_bytes, state.limits.video_upload_bytes);
  return state.limits.upload_bytes;
}

function showVideoNote(video) {
  const note = $("video-note");
  note.hidden = !video;
  if (video && state.limits) {
    note.textContent = `A video: every frame is painted, the strokes carried from frame to frame. ` +
      `Strokes and seconds are per frame; at most ${state.limits.video_frames} frames here.`;
  }
}

function pickFile(file) {
  if (!file) return;
  showError("");
  state.file = file;
  state.video = isVideo(file);
  state.example = null;
  for (const b of document.querySelectorAll("#examples button")) b.classList.remove("picked");
  if (file.size > uploadLimit(file)) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; the upload limit is ` +
      `${(uploadLimit(file) / 2 ** 20).toFixed(0)} MB.`);
  }
  if (state.video) showClip(URL.createObjectURL(file));
  else showPhoto(URL.createObjectURL(file));
  showSource(file.name);
  showVideoNote(state.video);
}

function pickExample(name, button) {
  showError("");
  state.file = null;
  state.video = false;
  state.example = name;
  $("file").value = "";
  showSource("");
  showVideoNote(false);
  for (const b of document.querySelectorAll("#examples button")) b.classList.toggle("picked", b === button);
  showPhoto(`/api/examples/${encodeURIComponent(name)}`);
}

// The page opened at a job's address (a reload): that job's photo and settings, not the defaults and
// the first example. An upload is not in the browser any more: its photo is shown, Paint needs a new pick.
function restore(job) {
  if (job.id !== state.job) return;
  const s = job.settings || {};
  if ([...$("brush").options].some((o) => o.value === s.brush)) $("brush").value = s.brush;
  $("by-time").checked = s.time_budget != null;
  $("by-strokes").checked = s.time_budget == null;
  if (s.time_budget != null) $("time_budget").value = s.time_budget;
  if (s.strokes != null) $("strokes").value = s.strokes;
  if (s.size != null) $("size").value = s.size;
  if (s.seed != null) $("seed").value = s.seed;
  $("steps").value = s.steps ?? "";
  if (s.steps != null) document.querySelector("#settings details").open = true;
  const example = [...document.querySelectorAll("#examples button")].find((b) => b.dataset.name === job.source);
  if (example && job.kind !== "video") {
    pickExample(job.source, example);
    return;
  }
  state.file = null;
  state.example = null;
  state.video = job.kind === "video";
  $("file").value = "";
  for (const b of document.querySelectorAll("#examples button")) b.classList.remove("picked");
  showVideoNote(state.video);
  showSource(job.source ? `${job.source} (this painting's ${state.video ? "video" : "photo"})` : "");
  const photo = job.files.includes("photo.png") ? fileUrl(job.id, "photo.png") :
    ["queued", "running"].includes(job.status) && !state.video ? `/api/jobs/${job.id}/photo.png` : null;
  $("clip").hidden = true;
  if (photo) {
    showPhoto(photo);
    if ($("live").hidden) { // the live image has not come yet: the photo, faint, as before the reload
      $("live").src = photo;
      $("live").hidden = false;
    }
  } else {
    $("photo").hidden = true;
    $("drop-hint").hidden = false;
  }
}

// -- a job -----------------------------------------------------------------------------------------

function setBusy(busy) {
  $("paint").disabled = busy;
  $("cancel").disabled = !busy;
}

async function paint(event) {
  event.preventDefault();
  showError("");
  const form = new FormData();
  if (state.file) {
    if (state.file.size > uploadLimit(state.file)) {
      showError(`${state.file.name} is over the upload limit; choose a smaller ${state.video ? "video" : "photo"}.`);
      return;
    }
    form.append("photo", state.file, state.file.name);
  } else if (state.example) {
    form.append("example", state.example);
  } else {
    showError("Choose a photo first.");
    return;
  }
  form.append("brush", $("brush").value);
  if ($("by-time").checked) form.append("time_budget", $("time_budget").value);
  else form.append("strokes", $("strokes").value);
  form.append("size", $("size").value);
  form.append("seed", $("seed").value);
  if ($("steps").value) form.append("steps", $("steps").value);
  setBusy(true);
  $("stage").textContent = state.video ? "Sending the video…" : "Sending the photo…";
  let job;
  try {
    job = await getJSON("/api/jobs", { method: "POST", body: form });
  } catch (e) {
    showError(e.message);
    setBusy(false);
    $("stage").textContent = "Pick a photo and press Paint.";
    return;
  }
  follow(job.id, state.video ? null : $("photo").src);
}

// The page is now job `id`'s (its address too): it stops following the one before and forgets its state.
function showJob(id) {
  if (state.source) state.source.close();
  state.source = null;
  state.job = id;
  state.preview = null;
  state.frames = 0;
  history.replaceState(null, "", `#job=${id}`);
}

function follow(id, photoSrc) {
  showJob(id);
  const live = $("live");
  live.dataset.frames = "0";
  delete live.dataset.framesAtEnd;
  live.classList.add("ghost");
  if (photoSrc) {
    live.src = photoSrc;
    live.hidden = false;
  } else {
    live.hidden = true; // a video: its first painted frame is the first live image
  }
  $("result").hidden = true;
  setBusy(true);
  const source = new EventSource(`/api/jobs/${id}/events`);
  state.source = source;
  source.onmessage = (e) => update(JSON.parse(e.data));
  source.onerror = () => {
    // The browser retries a dropped stream by itself; CLOSED means the server does not know the job.
    if (source.readyState !== EventSource.CLOSED || state.source !== source) return;
    state.source = null;
    setBusy(false);
    history.replaceState(null, "", location.pathname);
    $("stage").textContent = "That painting is not on this server (any more). Pick a photo and press Paint.";
  };
}

function update(job) {
  if (job.id !== state.job) return;
  $("status").dataset.status = job.status;
  $("progress").value = job.fraction;
  if (job.status === "queued") {
    const n = job.ahead;
    $("stage").textContent = `Waiting: ${n} painting${n === 1 ? "" : "s"} ahead of yours.`;
  } else {
    $("stage").textContent = job.stage.charAt(0).toUpperCase() + job.stage.slice(1) + ".";
  }
  $("eta").textContent = job.eta != null ? `About ${duration(job.eta)} left.` : "";
  if (job.preview != null && job.preview !== state.preview) {
    state.preview = job.preview;
    $("live").src = `/api/jobs/${job.id}/preview.png?n=${job.preview}`;
    $("live").hidden = false;
  }
  if (["done", "failed", "cancelled"].includes(job.status)) {
    if (state.source) state.source.close();
    state.source = null;
    $("live").dataset.framesAtEnd = String(state.frames);
    setBusy(false);
    if (job.status === "done") {
      showResult(job);
      loadGallery();
    } else if (job.status === "failed") {
      showError(job.error);
    }
  }
}

function liveLoaded() {
  const live = $("live");
  if (live.src.includes("/preview.png")) {
    live.classList.remove("ghost");
    state.frames += 1;
    live.dataset.frames = String(state.frames);
  }
}

async function cancel() {
  if (!state.job) return;
  $("cancel").disabled = true;
  $("stage").textContent = "Cancelling…";
  try {
    await getJSON(`/api/jobs/${state.job}/cancel`, { method: "POST" });
  } catch (e) {
    showError(e.message);
  }
}

// -- the result ------------------------------------------------------------------------------------

function fileUrl(id, name, download) {
  return `/api/jobs/${id}/files/${name}` + (download ? "?download=1" : "");
}

function showResult(job) {
  if (job.kind === "video") {
    showFilm(job);
    return;
  }
  showKind(false);
  const id = job.id;
  const r = job.result || {};
  $("live").src = fileUrl(id, "painting.png");
  $("live").classList.remove("ghost");
  $("live").hidden = false;
  $("result-photo").src = fileUrl(id, "photo.png");
  $("result-painting").src = fileUrl(id, "painting.png");
  setSlider();
  const brush = job.settings ? job.settings.brush : "";
  $("summary").textContent = `${job.source}: ${r.strokes} strokes of ${brush} on ${r.width}×${r.height} px` +
    `${r.real ? " painted by the real brush" : " (the painter's canvas)"}, PSNR ${r.psnr} dB, ${r.seconds} s.` +
    (job.notes && job.notes.length ? " Notes: " + job.notes.join("; ") : "");
  const video = $("video");
  const gif = $("video-gif");
  if (job.files.includes("process.mp4")) {
    video.hidden = false;
    gif.hidden = true;
    video.src = fileUrl(id, "process.mp4");
    video.play().catch(() => {});
  } else {
    video.hidden = true;
  }
  if (!job.files.includes("process.mp4") && job.files.includes("process.gif")) {
    gif.src = fileUrl(id, "process.gif");
    gif.hidden = false;
  }
  showDownloads(job);
}

// The result of a video: the painted film and the side-by-side one, frame 0 as the live image.
function showFilm(job) {
  const id = job.id;
  const r = job.result || {};
  showKind(true);
  $("video").pause();
  $("live").src = fileUrl(id, "poster.png");
  $("live").classList.remove("ghost");
  $("live").hidden = false;
  const film = $("film");
  film.poster = fileUrl(id, "poster.png");
  film.src = fileUrl(id, "painting.mp4");
  $("film-compare").src = fileUrl(id, "comparison.mp4");
  const brush = job.settings ? job.settings.brush : "";
  $("summary").textContent = `${job.source}: ${r.frames} frames of ${r.strokes} strokes of ${brush} on ` +
    `${r.width}×${r.height} px painted by the real brush, mean PSNR ${r.psnr} dB, ${r.seconds} s.` +
    (job.notes && job.notes.length ? " Notes: " + job.notes.join("; ") : "");
  showDownloads(job);
}

function showKind(video) {
  $("compare-figure").hidden = video;
  $("process-figure").hidden = video;
  $("film-figure").hidden = !video;
  $("film-compare-figure").hidden = !video;
  if (!video) {
    for (const v of [$("film"), $("film-compare")]) {
      v.pause();
      v.removeAttribute("src");
      v.removeAttribute("poster");
    }
  }
}

function showDownloads(job) {
  const id = job.id;
  const list = $("downloads");
  list.replaceChildren();
  for (const name of job.files) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = fileUrl(id, name, true);
    a.download = name;
    a.dataset.name = name;
    a.textContent = name;
    li.append(a, ` ${FILE_NOTES[name] || ""}`);
    list.append(li);
  }
  $("zip").href = `/api/jobs/${id}/files.zip`;
  $("result").hidden = false;
}

function videoFailed() {
  // A browser without H.264: the GIF instead.
  const video = $("video");
  if (!video.src) return;
  video.hidden = true;
  $("video-gif").src = video.src.replace("process.mp4", "process.gif");
  $("video-gif").hidden = false;
}

function filmFailed() {
  // A browser without H.264: say so; the files are still there to download.
  if ($("film").getAttribute("src")) showError("This browser cannot play painting.mp4 (H.264): download it below.");
}

function setSlider() {
  const x = Number($("slider").value);
  $("result-painting").style.clipPath = `inset(0 0 0 ${x}%)`;
}

// -- the gallery -----------------------------------------------------------------------------------

async function loadGallery() {
  let jobs;
  try {
    jobs = await getJSON("/api/jobs");
  } catch {
    return;
  }
  const gallery = $("gallery");
  if (!jobs.length) return;
  gallery.replaceChildren();
  for (const job of jobs) {
    const a = document.createElement("a");
    a.href = `#result`;
    a.className = "thumb";
    a.dataset.id = job.id;
    const video = job.kind === "video";
    const img = document.createElement("img");
    img.loading = "lazy";
    img.src = fileUrl(job.id, video ? "poster.png" : "painting.png");
    img.alt = job.source;
    const caption = document.createElement("span");
    caption.textContent = video ? `${job.source} · ${job.result.frames} frames` :
      `${job.source} · ${job.result.strokes} strokes`;
    a.append(img, caption);
    a.addEventListener("click", async (e) => {
      e.preventDefault();
      try {
        const shown = await getJSON(`/api/jobs/${job.id}`);
        showError("");
        showJob(shown.id); // its own status and stage, not those of the job shown before (a cancelled one's)
        update(shown);
        $("result").scrollIntoView({ behavior: "smooth" });
      } catch (err) {
        showError(err.message);
      }
    });
    gallery.append(a);
  }
}

// -- start -----------------------------------------------------------------------------------------

async function start() {
  $("settings").addEventListener("submit", paint);
  $("cancel").addEventListener("click", cancel);
  $("file").addEventListener("change", () => pickFile($("file").files[0]));
  $("slider").addEventListener("input", setSlider);
  $("live").addEventListener("load", liveLoaded);
  $("photo").addEventListener("error", photoFailed);
  $("live").addEventListener("error", () => { $("live").hidden = true; }); // (the photo, a format it cannot show)
  $("video").addEventListener("error", videoFailed);
  $("film").addEventListener("error", filmFailed);
  $("strokes").addEventListener("focus", () => { $("by-strokes").checked = true; });
  $("time_budget").addEventListener("focus", () => { $("by-time").checked = true; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pickFile(e.dataTransfer.files[0]);
  });

  let options;
  try {
    options = await getJSON("/api/options");
  } catch (e) {
    showError(`The server cannot be reached: ${e.message}`);
    return;
  }
  state.limits = options.limits;
  state.videoSuffixes = options.video_suffixes || [];
  for (const b of options.brushes) {
    const o = document.createElement("option");
    o.value = b.key;
    o.textContent = b.label;
    o.selected = b.key === options.defaults.brush;
    $("brush").append(o);
  }
  $("strokes").value = options.defaults.strokes;
  $("strokes").max = options.limits.strokes;
  $("size").value = options.defaults.size;
  $("size").max = options.limits.size;
  $("seed").value = options.defaults.seed;
  for (const name of options.examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.title = name;
    button.dataset.name = name;
    const img = document.createElement("img");
    img.src = `/api/examples/${encodeURIComponent(name)}`;
    img.alt = name;
    button.append(img);
    button.addEventListener("click", () => pickExample(name, button));
    $("examples").append(button);
  }
  const first = document.querySelector("#examples button");
  if (first) pickExample(first.dataset.name, first); // so that "Paint" alone works
  loadGallery();
  const m = location.hash.match(/^#job=([\w-]+)$/);
  if (m) {
    follow(m[1]);
    getJSON(`/api/jobs/${m[1]}`).then(restore, () => {}); // (an unknown job: follow says so)
  }
  document.body.dataset.ready = "1";
}

start();
