// The circuitgrad playground: the public HTTP API only (POST /v1/circuits, POST
// /v1/gradients, GET /v1/jobs/{id}?wait=, GET .../picture, POST .../evaluate).
// URLs are relative to this page, so it also works under a path prefix.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "circuitgrad.apiKey"; // sessionStorage only: gone when the tab closes
const state = { circuit: null, gradient: null, busy: false };

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = "Bearer " + key;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { detail: "the service cannot be reached: " + e.message });
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  return { status: response.status, data };
}

// -- errors, next to what they concern -----------------------------------------------
function clearErrors() {
  for (const id of ["source-error", "options-error", "evaluate-error"]) {
    $(id).hidden = true;
    $(id).textContent = "";
  }
  for (const el of document.querySelectorAll(".field-error")) el.remove();
  for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function addError(boxId, path, message, marked) {
  const box = $(boxId);
  box.hidden = false;
  const line = document.createElement("div");
  if (path) {
    const where = document.createElement("span");
    where.className = "where";
    where.textContent = path + ": ";
    line.append(where);
  }
  line.append(message);
  if (marked) line.append(marked);
  box.append(line);
}

function markOffset(text, offset) {
  // the expression with the character at ``offset`` marked (a space past the end)
  const pre = document.createElement("pre");
  const mark = document.createElement("mark");
  mark.textContent = text.slice(offset, offset + 1) || " ";
  mark.title = `offset ${offset}`;
  pre.append(text.slice(0, offset), mark, text.slice(offset + 1));
  return pre;
}

function showProblem(err, context) {
  const problem = err.problem || {};
  const items = problem.errors && problem.errors.length ? problem.errors : [{ path: "", message: err.message }];
  for (const { path, message } of items) {
    const point = /^\/points\/\d+\/(.+)$/.exec(path || "");
    const offset = /at offset (\d+)/.exec(message || "");
    if (point && context === "evaluate") {
      fieldError(point[1].replace(/~1/g, "/").replace(/~0/g, "~"), message);
    } else if (context === "evaluate") {
      addError("evaluate-error", path, message);
    } else if (/^\/(mode|simplify|wrt|of|include_value)/.test(path || "")) {
      addError("options-error", path, message);
    } else {
      const text = $("source").value;
      const marked = offset && path === "/expression" ? markOffset(text, Number(offset[1])) : null;
      addError("source-error", path, message, marked);
      if (marked) $("source").setSelectionRange(Number(offset[1]), Number(offset[1]) + 1);
    }
  }
}

function fieldError(name, message) {
  const input = document.querySelector(`#point input[data-name="${CSS.escape(name)}"]`);
  if (!input) return addError("evaluate-error", `/points/0/${name}`, message);
  input.setAttribute("aria-invalid", "true");
  const note = document.createElement("span");
  note.className = "field-error";
  note.textContent = message;
  input.parentElement.append(note);
}

// -- pictures and measures ---------------------------------------------------------------
async function showPicture(targetId, path) {
  const target = $(targetId);
  target.textContent = "drawing…";
  try {
    const { data } = await api("GET", path);
    const url = URL.createObjectURL(new Blob([data], { type: "image/svg+xml" }));
    const picture = document.createElement("object");
    picture.type = "image/svg+xml";
    picture.data = url;
    picture.setAttribute("aria-label", (/<title>([^<]*)<\/title>/.exec(data) || [])[1] || "picture");
    target.replaceChildren(picture);
  } catch (e) {
    target.textContent = "no picture: " + e.message;
  }
}

function row(table, label, value, cls) {
  const tr = table.insertRow();
  const th = document.createElement("th");
  th.textContent = label;
  const td = tr.insertCell();
  tr.prepend(th);
  td.textContent = value;
  td.className = cls || "num";
}

function showMeasures(tableId, m, extra) {
  const table = $(tableId);
  table.replaceChildren();
  for (const k of ["size", "depth", "wires", "nodes"]) row(table, k, m[k]);
  for (const [label, value, cls] of extra || []) row(table, label, value, cls);
}

function certificateRows(cert) {
  const rows = [["raw size", `${cert.raw.size} (before simplification)`]];
  if (cert.theorem3_bound !== undefined) {
    const within = cert.within_bound;
    rows.push(["Theorem 3", `3·wires + nodes = ${cert.theorem3_bound}`]);
    rows.push(["", within ? `✓ within the bound (raw size ${cert.raw.size})` : "✗ NOT within the bound", within ? "within" : "beyond"]);
  } else {
    rows.push(["Theorem 3", "bounds backpropagation only"]);
  }
  return rows;
}

// -- the flow ----------------------------------------------------------------------------
function status(text, progress) {
  $("status").hidden = false;
  $("status-text").textContent = text;
  if (progress !== undefined) $("progress").value = progress;
}

async function differentiate(event) {
  event.preventDefault();
  if (state.busy) return;
  clearErrors();
  state.busy = true;
  $("differentiate").disabled = true;
  try {
    const text = $("source").value;
    const kind = document.querySelector('input[name="kind"]:checked').value;
    status("uploading the circuit…", 0);
    const body = kind === "expression" ? { expression: text } : text;
    state.gradient = null;
    const { data: circuit } = await api("POST", "v1/circuits", body);
    state.circuit = circuit;
    $("results").hidden = false;
    showMeasures("circuit-measures", circuit, [["inputs", circuit.inputs.join(", "), ""], ["outputs", circuit.outputs.join(", "), ""]]);
    showPicture("circuit-picture", `v1/circuits/${circuit.id}/picture`);
    const options = { circuit_id: circuit.id, mode: $("mode").value, simplify: $("simplify").value === "true" };
    let { data: job } = await api("POST", "v1/gradients", options);
    while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
      status(`${job.status}: ${Math.round(100 * job.progress)}%`, job.progress);
      ({ data: job } = await api("GET", `v1/jobs/${job.id}?wait=2`));
    }
    if (job.status !== "succeeded") {
      status(`the job ${job.status}`, 0);
      throw new ApiError(422, job.error || { detail: `the job was ${job.status}` });
    }
    status("done: 100%", 1);
    const result = job.result;
    state.gradient = { id: result.circuit_id, outputs: result.outputs };
    $("gradient-mode").textContent = `by ${result.mode === "backward" ? "backpropagation" : "forward propagation"}`;
    showMeasures("gradient-measures", result.certificate.result, certificateRows(result.certificate));
    showPicture("gradient-picture", `v1/jobs/${job.id}/picture`);
    buildPoint(circuit.inputs);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showProblem(e, "source");
    $("status").hidden = true;
    if (!state.gradient || state.circuit === null) $("results").hidden = true;
    $("evaluate-card").hidden = true; // its point belonged to the previous circuit
    state.gradient = null;
  } finally {
    state.busy = false;
    $("differentiate").disabled = false;
  }
}

function buildPoint(inputs) {
  const point = $("point");
  const kept = {};
  for (const input of point.querySelectorAll("input")) kept[input.dataset.name] = input.value;
  point.replaceChildren();
  inputs.forEach((name, i) => {
    const label = document.createElement("label");
    label.textContent = name;
    const input = document.createElement("input");
    input.dataset.name = name;
    input.name = name;
    input.inputMode = "decimal";
    input.value = kept[name] !== undefined ? kept[name] : String(i + 1);
    label.append(input);
    point.append(label);
  });
  $("values").replaceChildren();
  $("evaluate-card").hidden = false;
}

function number(text) {
  const t = text.trim();
  if (["NaN", "Infinity", "-Infinity"].includes(t)) return t;
  return t === "" || isNaN(Number(t)) ? t : Number(t); // the API says what is wrong
}

function show(v) {
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)));
}

async function evaluate(event) {
  event.preventDefault();
  clearErrors();
  const point = {};
  for (const input of $("point").querySelectorAll("input")) point[input.dataset.name] = number(input.value);
  const table = $("values");
  table.replaceChildren();
  try {
    for (const [what, id] of [["f", state.circuit.id], ["∇f", state.gradient.id]]) {
      const { data } = await api("POST", `v1/circuits/${id}/evaluate`, { points: [point] });
      data.outputs.forEach((name, j) => {
        const tr = table.insertRow();
        tr.dataset.output = name;
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = name;
        tr.append(th);
        const td = tr.insertCell();
        td.className = "num";
        td.textContent = show(data.values[0][j]);
        tr.insertCell().textContent = what === "f" ? "circuit" : "gradient circuit";
      });
    }
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showProblem(e, "evaluate");
  }
}

function init() {
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY) || "";
  key.addEventListener("input", () => {
    if (key.value) sessionStorage.setItem(KEY, key.value);
    else sessionStorage.removeItem(KEY);
  });
  $("source-form").addEventListener("submit", differentiate);
  $("evaluate-form").addEventListener("submit", evaluate);
  for (const radio of document.querySelectorAll('input[name="kind"]')) {
    radio.addEventListener("change", () => {
      if (radio.checked && radio.value === "document" && !$("source").value.trim().startsWith("{")) {
        $("source").value = JSON.stringify(EXAMPLE, null, 1);
        $("source").rows = 12;
      }
    });
  }
}

const EXAMPLE = {
  inputs: ["x", "y"],
  gates: [{ op: "mul", args: [0, 1] }, { op: "sin", args: [0] }, { op: "add", args: [2, 3], coeffs: [1, -2] }],
  outputs: [4],
  output_names: ["f"],
};

init();
