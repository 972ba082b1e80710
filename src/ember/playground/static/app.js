// ember playground: plain JavaScript, canvas drawing; every number shown is computed by ember on the server.
"use strict";

const $ = (id) => document.getElementById(id);

// -- helpers ------------------------------------------------------------------------------------------
async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? data.error : `${response.status} ${response.statusText}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(id, error) { $(id).textContent = error ? (error.message || String(error)) : ""; }

function bytesOf(message) {
  const text = atob(message.data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const BLUE = [8, 119, 189], ORANGE = [245, 147, 34], WHITE = [255, 255, 255];
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function diverging(u) {  // u in 0..255, 127.5 = zero
  const t = (u - 127.5) / 127.5, c = t >= 0 ? BLUE : ORANGE, a = Math.min(1, Math.abs(t));
  return [0, 1, 2].map((k) => Math.round(WHITE[k] + (c[k] - WHITE[k]) * a));
}
function viridis(t) {
  t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i;
  return [0, 1, 2].map((k) => Math.round(VIRIDIS[i][k] + (VIRIDIS[i + 1][k] - VIRIDIS[i][k]) * f));
}

// A map from the server (8-bit pixels) → an offscreen canvas of its own size, coloured by `palette`.
function mapCanvas(message, palette) {
  const [h, w] = message.shape, bytes = bytesOf(message);
  const canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(w, h);
  const channels = message.shape.length === 3 ? 3 : 1;
  for (let p = 0; p < w * h; p++) {
    let rgb;
    if (channels === 3) rgb = [bytes[3 * p], bytes[3 * p + 1], bytes[3 * p + 2]];
    else if (palette === "grey") rgb = [bytes[p], bytes[p], bytes[p]];
    else if (palette === "magnitude") { const g = Math.round(Math.abs(bytes[p] - 127.5) * 2); rgb = [g, g, g]; }
    else if (palette === "positive") { const g = Math.max(0, Math.round((bytes[p] - 127.5) * 2)); rgb = [g, g, g]; }
    else rgb = diverging(bytes[p]);
    image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * p);
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function drawScaled(target, source, smooth) {
  const ctx = target.getContext("2d");
  ctx.imageSmoothingEnabled = smooth;
  ctx.clearRect(0, 0, target.width, target.height);
  ctx.drawImage(source, 0, 0, target.width, target.height);
}

// -- pages --------------------------------------------------------------------------------------------
const pages = {};
let info = null;

function showPage() {
  const name = (location.hash || "#playground").slice(1);
  const known = ["playground", "convolution", "embeddings", "attention"].includes(name) ? name : "playground";
  document.querySelectorAll(".page").forEach((s) => { s.hidden = s.id !== `page-${known}`; });
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === known));
  if (pages[known] && pages[known].show) pages[known].show();
}

// ================================================================ the 2-D playground
pages.playground = (() => {
  let session = null, source = null, state = "paused", points = null, history = [], lastFrame = null;
  const RADIUS = 6;

  function config() {
    const hidden = $("pg-hidden").value.trim();
    const layers = hidden === "" ? [] : hidden.split(/[\s,]+/).map((v) => (/^-?\d+$/.test(v) ? Number(v) : v));
    const features = [...document.querySelectorAll("#pg-features input:checked")].map((c) => c.value);
    return {
      dataset: $("pg-dataset").value, noise: Number($("pg-noise").value) / 100,
      train_fraction: Number($("pg-split").value) / 100, points: Number($("pg-points").value),
      seed: Number($("pg-seed").value), features, hidden: layers, activation: $("pg-activation").value,
      lr: Number($("pg-lr").value), optimizer: $("pg-optimizer").value, regularization: $("pg-regularization").value,
      reg_rate: Number($("pg-reg-rate").value), dropout: Number($("pg-dropout").value),
      batch_size: Number($("pg-batch").value),
    };
  }

  function close() {
    if (source) { source.close(); source = null; }
    if (session) { api("DELETE", `/api/sessions/${session}`).catch(() => {}); session = null; }
  }

  async function apply() {
    const running = state === "running";
    close();
    showError("pg-error", null);
    try {
      const described = await api("POST", "/api/sessions", config());
      session = described.id;
      points = { train: described.train, test: described.test };
      history = [];
      setState(described.state);
      openStream(session);
      if (running) control("start");
    } catch (error) { showError("pg-error", error); setState("no session"); }
  }

  function openStream(id) {
    source = new EventSource(`/api/sessions/${id}/events`);
    source.addEventListener("frame", (event) => onFrame(JSON.parse(event.data)));
    source.addEventListener("end", (event) => {
      setState("stopped");
      showError("pg-error", { message: `The session ended: ${JSON.parse(event.data).reason}. Press Apply settings.` });
      source.close();
    });
    source.onerror = () => { if (source && source.readyState === EventSource.CLOSED) setState("disconnected"); };
  }

  async function control(action) {
    if (!session) { await apply(); if (!session) return; }
    try {
      const result = await api("POST", `/api/sessions/${session}/control`, { action });
      setState(result.state);
    } catch (error) { showError("pg-error", error); }
  }

  function setState(value) {
    state = value;
    $("pg-state").textContent = value;
    $("pg-start").textContent = value === "running" ? "Pause" : "Start";
  }

  function onFrame(frame) {
    if (frame.epoch === 0 || (lastFrame && frame.run !== lastFrame.run)) history = [];
    history.push(...frame.history);
    lastFrame = frame;
    setState(frame.state);
    $("pg-epoch").textContent = frame.epoch;
    $("pg-train-loss").textContent = frame.train_loss === null ? "nan" : frame.train_loss.toFixed(3);
    $("pg-test-loss").textContent = frame.test_loss === null ? "nan" : frame.test_loss.toFixed(3);
    drawBoundary(frame);
    drawNetwork(frame);
    drawLoss();
    window.playgroundFrames = (window.playgroundFrames || 0) + 1;
  }

  function drawBoundary(frame) {
    const canvas = $("pg-boundary");
    drawScaled(canvas, mapCanvas(frame.boundary), true);
    const ctx = canvas.getContext("2d"), scale = canvas.width / (2 * RADIUS);
    const sets = $("pg-show-test").checked ? [["train", points.train], ["test", points.test]] : [["train", points.train]];
    for (const [kind, rows] of sets) {
      for (const [x1, x2, label] of rows) {
        ctx.beginPath();
        ctx.arc((x1 + RADIUS) * scale, (RADIUS - x2) * scale, 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = `rgb(${(label > 0.5 ? BLUE : ORANGE).join(",")})`;
        ctx.strokeStyle = kind === "test" ? "black" : "white";
        ctx.lineWidth = kind === "test" ? 1.5 : 1;
        ctx.fill(); ctx.stroke();
      }
    }
  }

  function drawNetwork(frame) {
    const container = $("pg-network");
    const shape = frame.neurons.map((layer) => layer.length).join(",");
    if (container.dataset.shape !== shape) {
      container.dataset.shape = shape;
      container.innerHTML = "";
      frame.neurons.forEach((layer, l) => {
        const column = document.createElement("div");
        column.className = "layer";
        const title = document.createElement("div");
        title.className = "title";
        title.textContent = l === 0 ? "features" : `layer ${l}`;
        column.appendChild(title);
        layer.forEach(() => { const c = document.createElement("canvas"); c.width = 40; c.height = 40; column.appendChild(c); });
        container.appendChild(column);
      });
    }
    const columns = [...container.querySelectorAll(".layer")];
    frame.neurons.forEach((layer, l) => {
      const canvases = columns[l].querySelectorAll("canvas");
      layer.forEach((m, j) => drawScaled(canvases[j], mapCanvas(m), true));
    });
    drawWires(frame, columns);
  }

  function drawWires(frame, columns) {
    const wires = $("pg-wires"), wrap = $("pg-network-wrap"), box = wrap.getBoundingClientRect();
    wires.width = box.width; wires.height = box.height;
    const ctx = wires.getContext("2d");
    const centres = columns.map((column) => [...column.querySelectorAll("canvas")].map((c) => {
      const r = c.getBoundingClientRect();
      return [r.left - box.left, r.right - box.left, (r.top + r.bottom) / 2 - box.top];
    }));
    frame.weights.slice(0, centres.length - 1).forEach((W, l) => {
      let max = 1e-9;
      W.forEach((row) => row.forEach((w) => { max = Math.max(max, Math.abs(w)); }));
      W.forEach((row, j) => row.forEach((w, i) => {
        const a = centres[l][i], b = centres[l + 1][j];
        if (!a || !b) return;
        ctx.beginPath();
        ctx.moveTo(a[1], a[2]); ctx.lineTo(b[0], b[2]);
        ctx.strokeStyle = `rgba(${(w >= 0 ? BLUE : ORANGE).join(",")},${0.25 + 0.75 * Math.abs(w) / max})`;
        ctx.lineWidth = 0.5 + 3 * Math.abs(w) / max;
        ctx.stroke();
      }));
    });
  }

  function drawLoss() {
    const canvas = $("pg-loss"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    const finite = history.filter((r) => r[1] !== null && r[2] !== null);
    if (finite.length < 1) return;
    const top = Math.max(...finite.map((r) => Math.max(r[1], r[2])), 1e-6), last = Math.max(finite[finite.length - 1][0], 1);
    [[1, "#333"], [2, ORANGE]].forEach(([k, colour]) => {
      ctx.beginPath();
      finite.forEach((r, n) => {
        const x = (r[0] / last) * (w - 4) + 2, y = h - 2 - (r[k] / top) * (h - 4);
        if (n === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = typeof colour === "string" ? colour : `rgb(${colour.join(",")})`;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    });
  }

  function init() {
    const features = $("pg-features");
    info.features.forEach((name) => {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" value="${name}" ${name === "x1" || name === "x2" ? "checked" : ""}> ${name}`;
      features.appendChild(label);
    });
    $("pg-noise").addEventListener("input", () => { $("pg-noise-out").textContent = $("pg-noise").value; });
    $("pg-split").addEventListener("input", () => { $("pg-split-out").textContent = $("pg-split").value; });
    document.querySelectorAll("#pg-settings select, #pg-settings input[type=range], #pg-features input")
      .forEach((el) => el.addEventListener("change", apply));
    $("pg-apply").addEventListener("click", apply);
    $("pg-start").addEventListener("click", () => control(state === "running" ? "pause" : "start"));
    $("pg-step").addEventListener("click", () => control("step"));
    $("pg-reset").addEventListener("click", () => { history = []; control("reset"); });
    $("pg-show-test").addEventListener("change", () => { if (lastFrame) drawBoundary(lastFrame); });
    window.addEventListener("beforeunload", close);
    apply();
  }
  return { init, apply, control, get session() { return session; } };
})();

// ================================================================ convolution and LeNet-5
pages.convolution = (() => {
  let image = null, kernel = null, inputShape = null, pending = null, busy = false, started = false;

  function matrixText(m) { return m.map((row) => row.map((v) => +Number(v).toFixed(4)).join(" ")).join("\n"); }

  function parseMatrix(text) {
    return text.trim().split("\n").filter((l) => l.trim() !== "")
      .map((line) => line.trim().split(/[\s,]+/).map((v) => (isFinite(Number(v)) ? Number(v) : v)));
  }

  async function convolve() {
    showError("conv-error", null);
    try {
      const result = await api("POST", "/api/convolve", { image, kernel });
      inputShape = result.input.shape;
      drawScaled($("conv-input"), mapCanvas(result.input, "grey"), false);
      const palette = result.signed ? "diverging" : "positive";
      drawScaled($("conv-output"), mapCanvas(result.output, palette), false);
      ["conv-input-overlay", "conv-output-overlay"].forEach((id) => $(id).getContext("2d").clearRect(0, 0, 256, 256));
      $("conv-output").dataset.ready = "1";
    } catch (error) { showError("conv-error", error); }
  }

  async function hover(event) {
    if (!inputShape) return;
    const r = $("conv-output").getBoundingClientRect();
    const row = Math.floor(((event.clientY - r.top) / r.height) * inputShape[0]);
    const col = Math.floor(((event.clientX - r.left) / r.width) * inputShape[1]);
    if (row < 0 || col < 0 || row >= inputShape[0] || col >= inputShape[1]) return;
    pending = { row, col };
    if (busy) return;
    busy = true;
    while (pending) {
      const ask = pending;
      pending = null;
      try {
        const rf = await api("POST", "/api/receptive-field", { image, kernel, row: ask.row, col: ask.col });
        drawField(rf);
      } catch (error) { showError("conv-error", error); }
    }
    busy = false;
  }

  function drawField(rf) {
    const [h, w] = inputShape, sx = 256 / w, sy = 256 / h, b = rf.box;
    const input = $("conv-input-overlay").getContext("2d"), output = $("conv-output-overlay").getContext("2d");
    [input, output].forEach((ctx) => { ctx.clearRect(0, 0, 256, 256); ctx.strokeStyle = "red"; ctx.lineWidth = 2; });
    input.strokeRect(b.left * sx, b.top * sy, (b.right - b.left + 1) * sx, (b.bottom - b.top + 1) * sy);
    output.strokeRect(rf.col * sx - 1, rf.row * sy - 1, Math.max(sx, 2) + 2, Math.max(sy, 2) + 2);
    $("conv-rf-info").textContent = `output (${rf.row}, ${rf.col}) = ${rf.value.toFixed(4)}; receptive field: rows ` +
      `${b.top}–${b.bottom}, columns ${b.left}–${b.right} (a ${rf.window[0]}×${rf.window[1]} window)`;
  }

  async function upload(file) {
    showError("conv-error", null);
    if (file.size > info.max_upload_bytes) {
      showError("conv-error", { message: `${file.name} is ${file.size} bytes; the limit is ${info.max_upload_bytes}` });
      return;
    }
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    try {
      const result = await api("POST", "/api/images", { data });
      image = result.id;
      const option = document.createElement("option");
      option.value = result.id; option.textContent = `upload: ${file.name}`;
      $("conv-sample").appendChild(option);
      $("conv-sample").value = result.id;
      convolve();
    } catch (error) { showError("conv-error", error); }
  }

  // -- the digit pad ----------------------------------------------------------------------------------
  let drawing = false, last = null;
  function pad() { return $("digit-canvas").getContext("2d"); }
  function clearPad() {
    const ctx = pad();
    ctx.fillStyle = "black"; ctx.fillRect(0, 0, 224, 224);
    $("digit-prediction").textContent = "–";
  }
  function point(event) {
    const r = $("digit-canvas").getBoundingClientRect();
    return [(event.clientX - r.left) * (224 / r.width), (event.clientY - r.top) * (224 / r.height)];
  }
  function stroke(to) {
    const ctx = pad();
    ctx.strokeStyle = "white"; ctx.lineWidth = 18; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...(last || to)); ctx.lineTo(...to); ctx.stroke();
    last = to;
  }
  function pixels(side = 56) {  // the drawing shrunk to side × side, ink in [0, 1]
    const small = document.createElement("canvas");
    small.width = side; small.height = side;
    const ctx = small.getContext("2d");
    ctx.drawImage($("digit-canvas"), 0, 0, side, side);
    const data = ctx.getImageData(0, 0, side, side).data, rows = [];
    for (let i = 0; i < side; i++) {
      const row = [];
      for (let j = 0; j < side; j++) row.push(+(data[4 * (i * side + j)] / 255).toFixed(3));
      rows.push(row);
    }
    return rows;
  }
  async function predict() {
    showError("digit-error", null);
    $("digit-prediction").textContent = "…";
    try {
      const result = await api("POST", "/api/digit", { pixels: pixels() });
      $("digit-prediction").textContent = String(result.prediction);
      const bars = $("digit-probs");
      bars.innerHTML = "";
      result.probabilities.forEach((p, k) => {
        const row = document.createElement("div");
        row.innerHTML = `<b>${k}</b><span class="bar" style="width:${Math.round(p * 150)}px"></span>${(100 * p).toFixed(1)}%`;
        bars.appendChild(row);
      });
      drawScaled($("digit-input"), mapCanvas(result.input, "grey"), false);
      const layers = $("digit-layers");
      layers.innerHTML = "";
      result.layers.forEach((layer) => {
        const box = document.createElement("div");
        box.className = "fmap-layer";
        box.innerHTML = `<div class="title">${layer.name} ${layer.shape.join("×")}</div>`;
        layer.maps.forEach((m) => {
          const c = document.createElement("canvas");
          const [h, w] = m.shape, scale = h === 1 ? 3 : Math.max(2, Math.floor(56 / h));
          c.width = w * scale; c.height = h * (h === 1 ? 12 : scale);
          drawScaled(c, mapCanvas(m, "positive"), false);
          box.appendChild(c);
        });
        layers.appendChild(box);
      });
    } catch (error) {
      $("digit-prediction").textContent = "–";
      showError("digit-error", error);
    }
  }

  function init() {
    info.samples.forEach((name) => {
      const o = document.createElement("option"); o.value = name; o.textContent = name; $("conv-sample").appendChild(o);
    });
    Object.keys(info.kernels).forEach((name) => {
      const o = document.createElement("option"); o.value = name; o.textContent = name; $("conv-kernel").appendChild(o);
    });
    image = info.samples.includes("grace_hopper") ? "grace_hopper" : info.samples[0];
    $("conv-sample").value = image;
    kernel = "sobel_x";
    $("conv-kernel").value = kernel;
    $("conv-matrix").value = matrixText(info.kernels[kernel]);
    $("conv-sample").addEventListener("change", () => { image = $("conv-sample").value; convolve(); });
    $("conv-kernel").addEventListener("change", () => {
      kernel = $("conv-kernel").value; $("conv-matrix").value = matrixText(info.kernels[kernel]); convolve();
    });
    $("conv-apply").addEventListener("click", () => { kernel = parseMatrix($("conv-matrix").value); convolve(); });
    $("conv-upload").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
    $("conv-output").addEventListener("mousemove", hover);
    const canvas = $("digit-canvas");
    canvas.addEventListener("pointerdown", (e) => { drawing = true; last = null; stroke(point(e)); });
    canvas.addEventListener("pointermove", (e) => { if (drawing) stroke(point(e)); });
    window.addEventListener("pointerup", () => { if (drawing) { drawing = false; predict(); } });
    $("digit-clear").addEventListener("click", clearPad);
    $("digit-predict").addEventListener("click", predict);
    clearPad();
  }
  function show() { if (!started) { started = true; convolve(); } }
  return { init, show, predict };
})();

// ================================================================ the embedding projector
pages.embeddings = (() => {
  let data = null, yaw = 0.6, pitch = 0.3, dragging = null, highlighted = new Set(), selected = null, started = false;

  function project(p) {
    if (data.dims === 2) return [p[0], p[1], 0];
    const [x, y, z] = p, cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const x1 = cy * x + sy * z, z1 = -sy * x + cy * z;
    return [x1, cp * y - sp * z1, sp * y + cp * z1];
  }
  function screen(p) {
    const c = $("emb-canvas"), q = project(p), margin = 40, scale = Math.min(c.width, c.height) / 2 - margin;
    return [c.width / 2 + q[0] * scale, c.height / 2 - q[1] * scale, q[2]];
  }
  function draw() {
    const c = $("emb-canvas"), ctx = c.getContext("2d");
    ctx.clearRect(0, 0, c.width, c.height);
    if (!data) return;
    const order = data.points.map((p, i) => [screen(p), i]).sort((a, b) => a[0][2] - b[0][2]);
    ctx.font = "11px system-ui, sans-serif";
    for (const [[x, y, z], i] of order) {
      const word = data.words[i], hot = highlighted.has(word), chosen = word === selected;
      const fade = data.dims === 3 ? 0.45 + 0.55 * (z + 1) / 2 : 1;
      ctx.fillStyle = chosen ? "rgb(200,0,0)" : hot ? `rgb(${ORANGE.join(",")})` : `rgba(8,119,189,${fade})`;
      ctx.beginPath(); ctx.arc(x, y, chosen || hot ? 4 : 2.5, 0, 2 * Math.PI); ctx.fill();
      if (chosen || hot || data.words.length <= 150 || i < 60) {
        ctx.fillStyle = chosen ? "rgb(200,0,0)" : hot ? "#a55a00" : `rgba(40,40,40,${fade})`;
        ctx.fillText(word, x + 4, y - 3);
      }
    }
  }
  async function load() {
    showError("emb-error", null);
    $("emb-source").textContent = "loading word vectors (the first time trains them: a few seconds)…";
    try {
      data = await api("GET", `/api/embeddings?count=${encodeURIComponent($("emb-count").value)}&dims=${$("emb-dims").value}`);
      $("emb-source").textContent = `${data.source}; showing ${data.words.length} frequent words`;
      draw();
    } catch (error) { $("emb-source").textContent = ""; showError("emb-error", error); }
  }
  async function neighbours(word) {
    showError("emb-error", null);
    try {
      const result = await api("POST", "/api/embeddings/neighbours", { word, topn: 10 });
      selected = result.word;
      highlighted = new Set(result.neighbours.map((n) => n[0]));
      $("emb-word").value = result.word;
      $("emb-neighbours").innerHTML = result.neighbours.map((n) => `<li>${escapeHtml(n[0])} <small>${n[1].toFixed(3)}</small></li>`).join("");
      draw();
    } catch (error) { showError("emb-error", error); }
  }
  async function analogy() {
    showError("emb-error", null);
    try {
      const result = await api("POST", "/api/embeddings/analogy", { a: $("emb-a").value, b: $("emb-b").value, c: $("emb-c").value, topn: 5 });
      $("emb-analogy-results").innerHTML = result.results.map((n) => `<li>${escapeHtml(n[0])} <small>${n[1].toFixed(3)}</small></li>`).join("");
    } catch (error) { showError("emb-error", error); }
  }
  function nearest(event) {
    const c = $("emb-canvas"), r = c.getBoundingClientRect();
    const x = (event.clientX - r.left) * (c.width / r.width), y = (event.clientY - r.top) * (c.height / r.height);
    let best = null, distance = 15 * 15;
    data.points.forEach((p, i) => {
      const [sx, sy] = screen(p), d = (sx - x) ** 2 + (sy - y) ** 2;
      if (d < distance) { distance = d; best = data.words[i]; }
    });
    return best;
  }
  function init() {
    $("emb-load").addEventListener("click", load);
    $("emb-dims").addEventListener("change", load);
    $("emb-find").addEventListener("click", () => neighbours($("emb-word").value));
    $("emb-word").addEventListener("keydown", (e) => { if (e.key === "Enter") neighbours($("emb-word").value); });
    $("emb-analogy").addEventListener("click", analogy);
    const c = $("emb-canvas");
    c.addEventListener("mousedown", (e) => { dragging = { x: e.clientX, y: e.clientY, moved: false }; });
    c.addEventListener("mousemove", (e) => {
      if (!dragging || !data || data.dims !== 3) return;
      yaw += (e.clientX - dragging.x) * 0.01; pitch += (e.clientY - dragging.y) * 0.01;
      dragging.moved = dragging.moved || Math.abs(e.clientX - dragging.x) + Math.abs(e.clientY - dragging.y) > 2;
      dragging.x = e.clientX; dragging.y = e.clientY;
      draw();
    });
    c.addEventListener("mouseup", (e) => {
      const moved = dragging && dragging.moved;
      dragging = null;
      if (!moved && data) { const word = nearest(e); if (word) neighbours(word); }
    });
  }
  function show() { if (!started) { started = true; load(); } }
  function position(word) {  // where a word is drawn, in CSS pixels from the canvas's top-left corner
    const i = data ? data.words.indexOf(word) : -1;
    if (i < 0) return null;
    const c = $("emb-canvas"), r = c.getBoundingClientRect(), [x, y] = screen(data.points[i]);
    return [x * (r.width / c.width), y * (r.height / c.height)];
  }
  return { init, show, position, get words() { return data ? data.words : []; } };
})();

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

// ================================================================ the attention viewer
pages.attention = (() => {
  let polling = null, started = false;

  async function status() {
    try {
      const s = await api("GET", "/api/dates");
      $("att-status").textContent = s.ready ? `Date translator ready (${s.message}).` : s.message;
      $("att-train-box").hidden = s.ready || s.training;
      $("att-status").dataset.ready = s.ready ? "1" : "0";
      if (s.training && !polling) polling = setInterval(status, 1500);
      if (!s.training && polling) { clearInterval(polling); polling = null; }
      return s;
    } catch (error) { showError("att-error", error); return null; }
  }
  async function train() {
    showError("att-error", null);
    try {
      await api("POST", "/api/dates/train", { train_size: Number($("att-train-size").value), epochs: Number($("att-epochs").value) });
      status();
    } catch (error) { showError("att-error", error); }
  }
  async function translate() {
    showError("att-error", null);
    try {
      const result = await api("POST", "/api/dates/translate", { text: $("att-text").value });
      $("att-output").textContent = result.output;
      drawHeatmap($("att-canvas"), result.output_chars, result.input_chars, result.attention);
    } catch (error) { $("att-output").textContent = "–"; showError("att-error", error); }
  }
  // weights[t][s] (rows × cols, each in [0, 1]) as a viridis grid, labelled by the characters
  function drawHeatmap(c, rows, cols, weights) {
    const ctx = c.getContext("2d");
    const left = 50, top = 30, cell = Math.max(8, Math.min(28, Math.floor((c.width - left - 10) / cols.length)));
    c.height = top + rows.length * cell + 10;
    ctx.clearRect(0, 0, c.width, c.height);
    ctx.font = "12px monospace"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    weights.forEach((row, t) => row.forEach((w, s) => {
      ctx.fillStyle = `rgb(${viridis(w).join(",")})`;
      ctx.fillRect(left + s * cell, top + t * cell, cell - 1, cell - 1);
    }));
    ctx.fillStyle = "#222";
    cols.forEach((ch, s) => ctx.fillText(ch === " " ? "␣" : ch, left + s * cell + cell / 2, top - 10));
    ctx.textAlign = "right";
    rows.forEach((ch, t) => ctx.fillText(ch === " " ? "␣" : ch, left - 6, top + t * cell + cell / 2));
  }

  // -- the character GPT: one T × T map per layer and head
  let gptPolling = null, gptStarted = false, gptResult = null;
  async function gptStatus() {
    try {
      const s = await api("GET", "/api/gpt");
      $("gpt-status").textContent = s.ready ? `GPT ready (${s.layers} layers × ${s.heads} heads, contexts of up to ${s.block_size} characters; ${s.message}).` : s.message;
      $("gpt-status").dataset.ready = s.ready ? "1" : "0";
      $("gpt-train-box").hidden = s.ready || s.training;
      if (s.training && !gptPolling) gptPolling = setInterval(gptStatus, 1000);
      if (!s.training && gptPolling) {
        clearInterval(gptPolling); gptPolling = null;
        if (s.ready) gptAttention();
      }
      return s;
    } catch (error) { showError("gpt-error", error); return null; }
  }
  async function gptTrain() {
    showError("gpt-error", null);
    try {
      await api("POST", "/api/gpt/train", { steps: Number($("gpt-steps").value) });
      gptStatus();
    } catch (error) { showError("gpt-error", error); }
  }
  function fillSelect(id, count) {
    const select = $(id), keep = Math.min(Number(select.value) || 0, count - 1);
    select.innerHTML = Array.from({ length: count }, (_, i) => `<option value="${i}">${i + 1}</option>`).join("");
    select.value = String(keep);
  }
  async function gptAttention() {
    showError("gpt-error", null);
    try {
      gptResult = await api("POST", "/api/gpt/attention", { text: $("gpt-text").value });
      fillSelect("gpt-layer", gptResult.layers);
      fillSelect("gpt-head", gptResult.heads);
      drawGpt();
    } catch (error) { gptResult = null; showError("gpt-error", error); }
  }
  function drawGpt() {
    if (!gptResult) return;
    const weights = gptResult.weights[Number($("gpt-layer").value)][Number($("gpt-head").value)];
    drawHeatmap($("gpt-canvas"), gptResult.tokens, gptResult.tokens, weights);
  }
  async function setMode() {
    const gpt = $("att-mode").value === "gpt";
    $("att-dates-box").hidden = gpt;
    $("att-gpt-box").hidden = !gpt;
    if (gpt && !gptStarted) {
      gptStarted = true;
      const s = await gptStatus();
      if (s && s.ready) gptAttention();
    }
  }

  function init() {
    $("att-translate").addEventListener("click", translate);
    $("att-text").addEventListener("keydown", (e) => { if (e.key === "Enter") translate(); });
    $("att-train").addEventListener("click", train);
    $("att-mode").addEventListener("change", setMode);
    $("gpt-train").addEventListener("click", gptTrain);
    $("gpt-show").addEventListener("click", gptAttention);
    $("gpt-text").addEventListener("keydown", (e) => { if (e.key === "Enter") gptAttention(); });
    $("gpt-layer").addEventListener("change", drawGpt);
    $("gpt-head").addEventListener("change", drawGpt);
  }
  async function show() {
    if (started) return;
    started = true;
    const s = await status();
    if (s && s.ready) translate();
  }
  return { init, show, translate, gptAttention };
})();

// ================================================================ start
window.playground = pages;
(async () => {
  try {
    info = await api("GET", "/api/info");
  } catch (error) {
    document.body.insertAdjacentHTML("afterbegin", `<p class="error">Cannot reach the server: ${escapeHtml(error.message)}</p>`);
    return;
  }
  Object.values(pages).forEach((page) => page.init());
  window.addEventListener("hashchange", showPage);
  showPage();
  document.body.dataset.ready = "1";
})();
