// brushwork's page: pick a photo and settings, start a job (POST /api/jobs), follow it through
// server-sent events (/api/jobs/<id>/events), show the live image, the result and the files.
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
};
const state = { limits: null, file: null, example: null, job: null, source: null, preview: null, frames: 0 };

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
  $("drop-hint").hidden = true;
}

function pickFile(file) {
  if (!file) return;
  showError("");
  state.file = file;
  state.example = null;
  for (const b of document.querySelectorAll("#examples button")) b.classList.remove("picked");
  if (state.limits && file.size > state.limits.upload_bytes) {
    showError(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MB; the upload limit is ` +
      `${(state.limits.upload_bytes / 2 ** 20).toFixed(0)} MB.`);
  }
  showPhoto(URL.createObjectURL(file));
}

function pickExample(name, button) {
  showError("");
  state.file = null;
  state.example = name;
  $("file").value = "";
  for (const b of document.querySelectorAll("#examples button")) b.classList.toggle("picked", b === button);
  showPhoto(`/api/examples/${encodeURIComponent(name)}`);
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
    if (state.limits && state.file.size > state.limits.upload_bytes) {
      showError(`${state.file.name} is over the upload limit; choose a smaller photo.`);
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
  $("stage").textContent = "Sending the photo…";
  let job;
  try {
    job = await getJSON("/api/jobs", { method: "POST", body: form });
  } catch (e) {
    showError(e.message);
    setBusy(false);
    $("stage").textContent = "Pick a photo and press Paint.";
    return;
  }
  follow(job.id, $("photo").src);
}

function follow(id, photoSrc) {
  if (state.source) state.source.close();
  state.job = id;
  state.preview = null;
  state.frames = 0;
  history.replaceState(null, "", `#job=${id}`);
  const live = $("live");
  live.dataset.frames = "0";
  delete live.dataset.framesAtEnd;
  live.classList.add("ghost");
  if (photoSrc) {
    live.src = photoSrc;
    live.hidden = false;
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
  $("eta").textContent = job.eta != null ? `About ${Math.max(1, Math.round(job.eta))} s left.` : "";
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
    const img = document.createElement("img");
    img.loading = "lazy";
    img.src = fileUrl(job.id, "painting.png");
    img.alt = job.source;
    const caption = document.createElement("span");
    caption.textContent = `${job.source} · ${job.result.strokes} strokes`;
    a.append(img, caption);
    a.addEventListener("click", async (e) => {
      e.preventDefault();
      try {
        showResult(await getJSON(`/api/jobs/${job.id}`));
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
  $("video").addEventListener("error", videoFailed);
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
  if (m) follow(m[1]);
  document.body.dataset.ready = "1";
}

start();
