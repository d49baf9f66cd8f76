// brainrecon web viewer: browse the test trials a bundle carries, as its decoder sees them.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { bundle: null, examples: [] };

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(path, options = {}) {
  const key = $("api-key").value;
  const headers = Object.assign({}, options.headers || {}, key ? { "X-API-Key": key } : {});
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`${response.status}: ${typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)}`);
  }
  return body;
}

const mediaUrl = (bundle, stimulusId, media) =>
  `/api/bundles/${encodeURIComponent(bundle)}/gallery/${encodeURIComponent(stimulusId)}/${media}`;
const imageUrl = (bundle, stimulusId) => mediaUrl(bundle, stimulusId, "image");

async function authorisedMedia(element, url) {  // an <img> or <audio>: the key travels too
  const key = $("api-key").value;
  const response = await fetch(url, { headers: key ? { "X-API-Key": key } : {} });
  if (response.ok) element.src = URL.createObjectURL(await response.blob());
}

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function metricRows(prefix, results, rows) {
  const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : "");
  for (const [name, entry] of Object.entries(results || {})) {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) continue;
    if (entry.decoder === undefined) {  // a kind of generated output: its metrics inside
      metricRows(`${prefix}${name} `, entry, rows);
      continue;
    }
    const ci = entry.decoder_ci ? ` [${entry.decoder_ci.map((v) => v.toFixed(3)).join(", ")}]` : "";
    const star = entry.beats_chance || entry.above_chance ? " *" : "";
    const lower = entry.higher_is_better === false ? " (lower is better)" : "";
    rows.push(row([`${prefix}${name}${lower}`, `${fmt(entry.decoder)}${ci}${star}`,
                   fmt(entry.baseline), fmt(entry.chance)]));
  }
}

function showMetrics(metrics) {
  const rows = [];
  for (const results of Object.values(metrics || {})) metricRows("", results, rows);
  $("metrics").querySelector("tbody").replaceChildren(...rows);
}

async function generate(kind, latent) {
  return api(`/api/bundles/${encodeURIComponent(state.bundle)}/generate/${kind}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ latent }),
  });
}

async function showTrial() {
  const index = Number($("trial").value);
  if (!state.examples.length) return;
  setStatus("decoding…");
  try {
    const model = $("model").value;
    const decoded = await api(`/api/bundles/${encodeURIComponent(state.bundle)}/examples/${index}?k=5&gallery=test&model=${model}`);
    const trial = decoded.trials[0];
    const sounds = Boolean(state.gallery.audio);  // heard speech: play it; matches show words
    $("stimulus").hidden = sounds;
    $("stimulus-audio").hidden = !sounds;
    if (sounds) {
      await authorisedMedia($("stimulus-audio"), mediaUrl(state.bundle, trial.stimulus_id, "audio"));
    } else {
      await authorisedMedia($("stimulus"), imageUrl(state.bundle, trial.stimulus_id));
    }
    $("stimulus-caption").textContent = `${trial.stimulus_id} · subject ${trial.subject}`;
    const list = $("matches");
    list.replaceChildren();
    for (const match of decoded.matches[0]) {
      const item = document.createElement("li");
      if (match.stimulus_id === trial.stimulus_id) item.className = "correct";
      const rank = list.children.length + 1;
      const label = `${rank}. ${match.stimulus_id} (${match.score.toFixed(3)})`;
      if (sounds) {  // a segment of speech: its words
        item.append(document.createTextNode(`${label}: ${match.caption || ""}`));
      } else {
        const img = document.createElement("img");
        img.alt = match.stimulus_id;
        item.append(img, document.createTextNode(label));
        authorisedMedia(img, imageUrl(state.bundle, match.stimulus_id));
      }
      list.append(item);
    }
    const latent = decoded.latents[0];
    const kinds = state.generators;
    const jobs = [];
    if (kinds.image) jobs.push(generate("image", latent).then((out) => { $("generated-image").src = `data:image/png;base64,${out.png_base64}`; }));
    if (kinds.shape) jobs.push(generate("shape", latent).then((out) => { $("shape-view").src = `data:image/png;base64,${out.png_base64}`; }));
    if (kinds.text) jobs.push(generate("text", latent).then((out) => { $("caption").textContent = out.caption; }));
    await Promise.all(jobs);
    setStatus(`trial ${index + 1} of ${state.examples.length} decoded`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function chooseBundle() {
  state.bundle = $("bundle").value;
  try {
    const info = await api(`/api/bundles/${encodeURIComponent(state.bundle)}`);
    state.generators = info.generators;
    state.gallery = info.gallery || {};
    showMetrics(info.metrics);
    state.examples = await api(`/api/bundles/${encodeURIComponent(state.bundle)}/examples`);
    $("trial").replaceChildren(...state.examples.map(
      (e) => option(e.index, `${e.index}: ${e.stimulus_id} (sub-${e.subject})`)));
    if (!state.examples.length) setStatus("this bundle carries no trials to browse");
    await showTrial();
  } catch (error) {
    setStatus(error.message, true);
  }
}

async function start() {
  $("api-key").value = localStorage.getItem("brainrecon-api-key") || "";
  try {
    const bundles = await api("/api/bundles");
    $("bundle").replaceChildren(...bundles.map((b) => option(b.name, b.name)));
    if (bundles.length) await chooseBundle();
  } catch (error) {
    setStatus(error.message, true);
  }
}

function step(delta) {
  const select = $("trial");
  const next = Math.min(Math.max(select.selectedIndex + delta, 0), select.options.length - 1);
  if (next !== select.selectedIndex) { select.selectedIndex = next; showTrial(); }
}

$("bundle").addEventListener("change", chooseBundle);
$("trial").addEventListener("change", showTrial);
$("model").addEventListener("change", showTrial);
$("previous").addEventListener("click", () => step(-1));
$("next").addEventListener("click", () => step(1));
$("api-key").addEventListener("change", () => { localStorage.setItem("brainrecon-api-key", $("api-key").value); start(); });
start();
