// Federation dashboard: plain JS over the HTTP API, polled every 2 s.
"use strict";

const API = "/api/v1alpha1";
const POLL_MS = 2000;
const PHASES = ["Queued", "Assigned", "Running", "Succeeded", "Failed", "Aborting", "Aborted"];
const TIERS = ["critical", "standard", "best-effort"];
const QUEUE_SCAN = 1000; // queued executions counted per poll; more shows as "1000+"

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const enc = encodeURIComponent;

// --- API --------------------------------------------------------------

const tokenInput = $("#token");
tokenInput.value = localStorage.getItem("federation.token") || "";
tokenInput.addEventListener("change", () => { localStorage.setItem("federation.token", tokenInput.value.trim()); poll(); });

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  const tok = tokenInput.value.trim();
  if (tok) headers["Authorization"] = "Bearer " + tok;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
  if (!resp.ok) {
    const msg = data && data.error ? data.error.code + ": " + data.error.message : resp.status + " " + text;
    throw new Error(method + " " + path + ": " + msg);
  }
  return data;
}

// An action's error (a refused drain) stays up for a while; a poll's
// error goes away with the next good poll.
let stickyUntil = 0;
function showError(err, sticky) {
  const box = $("#error");
  if (!err) {
    if (Date.now() < stickyUntil) return;
    box.hidden = true; box.textContent = ""; return;
  }
  if (sticky) stickyUntil = Date.now() + 8000;
  box.hidden = false;
  box.textContent = err.message || String(err);
}

// --- formatting -------------------------------------------------------

function ago(ts) {
  if (!ts || ts.startsWith("0001")) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 60) return Math.round(s) + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return Math.round(s / 86400) + "d ago";
}
function cores(milli) { return (milli / 1000).toFixed(milli % 1000 ? 1 : 0); }
function gib(bytes) { return (bytes / 2 ** 30).toFixed(1); }
function badge(text) { return `<span class="badge ${esc(text)}">${esc(text)}</span>`; }

function bar(label, free, alloc, fmt) {
  if (!alloc) return `<div class="bar"><span>${esc(label)}: none</span></div>`;
  const used = Math.max(0, alloc - free);
  const pct = Math.min(100, Math.round((100 * used) / alloc));
  const cls = pct >= 95 ? "full" : pct >= 75 ? "hot" : "";
  return `<div class="bar" title="${esc(label)} ${pct}% requested"><div class="${cls}" style="width:${pct}%"></div>` +
    `<span>${esc(label)} ${fmt(used)} / ${fmt(alloc)} (${pct}%)</span></div>`;
}

// --- overview: clusters -------------------------------------------------

const cards = new Map(); // cluster name → {el, info, actions}

function clusterCard(name) {
  let c = cards.get(name);
  if (c) return c;
  const el = document.createElement("div");
  el.className = "cluster";
  el.dataset.cluster = name;
  const info = document.createElement("div");
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.innerHTML =
    `<button class="cordon"></button>` +
    `<label>deadline <input class="deadline" value="10m" title="Go duration: running executions may finish until then"></label>` +
    `<button class="drain danger">Drain</button>`;
  actions.querySelector(".drain").addEventListener("click", () => drain(name, actions.querySelector(".deadline").value.trim()));
  actions.querySelector(".cordon").addEventListener("click", (ev) => cordon(name, ev.target.dataset.op));
  el.append(info, actions);
  c = { el, info, actions };
  cards.set(name, c);
  return c;
}

function renderClusters(items) {
  const box = $("#clusters");
  $("#cluster-count").textContent = `(${items.length})`;
  const names = new Set(items.map((c) => c.name));
  for (const [name, c] of cards) if (!names.has(name)) { c.el.remove(); cards.delete(name); }
  for (const cl of items) {
    const c = clusterCard(cl.name);
    const cap = cl.capacity || { allocatable: {}, free: {} };
    const a = cap.allocatable || {}, f = cap.free || {};
    const labels = Object.entries(cl.labels || {}).map(([k, v]) => `<span class="label">${esc(k)}=${esc(v)}</span>`).join("");
    const drain = cl.state === "Draining" && cl.drainDeadline ? ` until ${esc(new Date(cl.drainDeadline).toLocaleTimeString())}` : "";
    c.info.innerHTML =
      `<div class="top"><span class="dot ${cl.healthy ? "ok" : "bad"}" title="${cl.healthy ? "healthy" : "unhealthy"}"></span>` +
      `<span class="name">${esc(cl.name)}</span>${badge(cl.state)}${drain}` +
      (cl.breaker && cl.breaker !== "closed" ? badge(cl.breaker) : "") + `</div>` +
      `<div class="labels">${labels || '<span class="muted">no labels</span>'}</div>` +
      bar("cpu", f.milliCPU || 0, a.milliCPU || 0, cores) +
      bar("memory GiB", f.memoryBytes || 0, a.memoryBytes || 0, gib) +
      (a.gpu ? bar("gpu", f.gpu || 0, a.gpu, (x) => x) : "") +
      `<div class="meta"><span>weight ${esc(cl.weight)}</span><span>running ${esc(cl.running)}</span>` +
      `<span>heartbeat ${esc(ago(cl.lastHeartbeat))}</span>${cl.tiers && cl.tiers.length ? `<span>tiers ${esc(cl.tiers.join(", "))}</span>` : ""}</div>`;
    const cb = c.actions.querySelector(".cordon");
    const op = cl.state === "Ready" || cl.state === "Registered" || cl.state === "Unhealthy" ? "cordon" : "uncordon";
    cb.dataset.op = op;
    cb.textContent = op === "cordon" ? "Cordon" : "Uncordon";
    c.actions.querySelector(".drain").disabled = cl.state === "Draining" || cl.state === "Drained";
    box.append(c.el); // keeps the API's order (by name)
  }
}

async function drain(name, deadline) {
  if (!deadline) { showError(new Error("drain " + name + ": give a deadline such as 10m"), true); return; }
  if (!window.confirm(`Drain ${name}? Running executions may finish for ${deadline}, then move elsewhere.`)) return;
  try {
    await api("POST", `/clusters/${enc(name)}/drain`, { deadline });
  } catch (e) { showError(e, true); }
  poll();
}

async function cordon(name, op) {
  try {
    await api("POST", `/clusters/${enc(name)}/${op}`);
  } catch (e) { showError(e, true); }
  poll();
}

// --- overview: queue and executions ---------------------------------------

async function loadQueue() {
  const list = await api("GET", `/executions?phase=Queued&limit=${QUEUE_SCAN}`);
  const by = Object.fromEntries(TIERS.map((t) => [t, 0]));
  for (const ex of list.items) by[ex.tier] = (by[ex.tier] || 0) + 1;
  const more = list.continue ? "+" : "";
  $("#queue").innerHTML = TIERS.map((t) =>
    `<div class="tile" data-tier="${t}"><div class="muted">${t}</div><div class="n">${by[t]}${more && by[t] ? more : ""}</div></div>`).join("");
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const el of $("#filters").elements) if (el.name && el.value.trim()) q.set(el.name, el.value.trim());
  q.set("limit", "100");
  return q.toString();
}

async function loadExecutions() {
  const list = await api("GET", `/executions?${filterQuery()}`);
  const items = list.items.slice().sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));
  $("#executions").innerHTML = items.map((ex) => {
    const key = `${ex.project}/${ex.domain}/${ex.name}`;
    return `<tr class="click" data-key="${esc(key)}"><td>${esc(key)}</td><td>${badge(ex.phase)}</td><td>${esc(ex.tier)}</td>` +
      `<td>${esc(ex.cluster || "")}</td><td>${esc(ex.attempt)}</td><td>${esc(ago(ex.updatedAt))}</td><td>${esc(ex.message || "")}</td></tr>`;
  }).join("") || `<tr><td colspan="7" class="muted">no executions match</td></tr>`;
  $("#exec-more").textContent = list.continue ? "showing the first 100 matches, newest first; narrow the filters for more" : "";
}

$("#executions").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr[data-key]");
  if (tr) location.hash = "#/exec/" + tr.dataset.key.split("/").map(enc).join("/");
});

function setupFilters() {
  const f = $("#filters");
  for (const p of PHASES) f.phase.insertAdjacentHTML("beforeend", `<option>${p}</option>`);
  for (const t of TIERS) f.tier.insertAdjacentHTML("beforeend", `<option>${t}</option>`);
  f.addEventListener("input", () => poll());
  f.addEventListener("submit", (ev) => { ev.preventDefault(); poll(); });
}

// --- detail: DAG, placement, history --------------------------------------

const NODE_COLORS = { Pending: "#cbd5e0", Running: "#90cdf4", Succeeded: "#9ae6b4", Failed: "#feb2b2", Skipped: "#e2e8f0", Aborted: "#fbd38d" };

function renderDAG(ex) {
  const nodes = (ex.workflow && ex.workflow.nodes) || [];
  const status = ex.nodes || {};
  const depth = {};
  const byId = Object.fromEntries(nodes.map((n) => [n.id, n]));
  const depthOf = (id, seen = new Set()) => {
    if (depth[id] !== undefined) return depth[id];
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = (byId[id] && byId[id].dependsOn) || [];
    depth[id] = deps.length ? 1 + Math.max(...deps.map((d) => depthOf(d, seen))) : 0;
    return depth[id];
  };
  nodes.forEach((n) => depthOf(n.id));
  const cols = [];
  for (const n of nodes) (cols[depth[n.id]] = cols[depth[n.id]] || []).push(n.id);
  const W = 150, H = 44, GX = 60, GY = 18, pos = {};
  cols.forEach((col, x) => col.forEach((id, y) => { pos[id] = { x: 10 + x * (W + GX), y: 10 + y * (H + GY) }; }));
  const width = 20 + cols.length * (W + GX), height = 20 + Math.max(1, ...cols.map((c) => c.length)) * (H + GY);
  let svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`;
  svg += `<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#718096"/></marker></defs>`;
  for (const n of nodes) for (const d of n.dependsOn || []) {
    if (!pos[d]) continue;
    const a = pos[d], b = pos[n.id];
    svg += `<line x1="${a.x + W}" y1="${a.y + H / 2}" x2="${b.x}" y2="${b.y + H / 2}" stroke="#718096" marker-end="url(#arr)"/>`;
  }
  for (const n of nodes) {
    const p = pos[n.id], st = status[n.id] || { phase: "Pending" };
    svg += `<g data-node="${esc(n.id)}"><title>${esc(n.id)}: ${esc(st.phase)}${st.message ? " — " + esc(st.message) : ""}</title>` +
      `<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6" fill="${NODE_COLORS[st.phase] || "#e2e8f0"}" stroke="#4a5568"/>` +
      `<text x="${p.x + 8}" y="${p.y + 18}" font-weight="600">${esc(n.id.slice(0, 20))}</text>` +
      `<text x="${p.x + 8}" y="${p.y + 34}">${esc(st.phase)}${st.attempts ? " · try " + st.attempts : ""}${st.cached ? " · cached" : ""}</text></g>`;
  }
  $("#d-dag").innerHTML = svg + "</svg>";
}

async function loadDetail(path) {
  const ex = await api("GET", `/executions/${path}`);
  $("#d-title").innerHTML = `${esc(ex.project)}/${esc(ex.domain)}/${esc(ex.name)} ${badge(ex.phase)}`;
  const kv = [["tier", ex.tier], ["cluster", ex.cluster || "—"], ["attempt", ex.attempt], ["reason", ex.reason],
    ["message", ex.message || "—"], ["created", new Date(ex.createdAt).toLocaleString()], ["updated", ago(ex.updatedAt)]];
  $("#d-summary").innerHTML = kv.map(([k, v]) => `<b>${esc(k)}</b><span>${esc(v)}</span>`).join("");
  renderDAG(ex);
  $("#d-history").innerHTML = (ex.history || []).slice().reverse().map((h) =>
    `<tr><td>${esc(new Date(h.at).toLocaleTimeString())}</td><td>${badge(h.phase)}</td><td>${esc(h.attempt)}</td>` +
    `<td>${esc(h.cluster || "")}</td><td>${esc(h.reason || "")}</td><td>${esc(h.message || "")}</td></tr>`).join("");
  try {
    const e = await api("GET", `/executions/${path}/explain`);
    const now = ex.phase === "Queued" ? "" : "Were it queued now: ";
    $("#d-explain-summary").textContent = now + (e.summary || "");
    $("#d-explain").innerHTML = (e.clusters || []).map((v) => {
      const scores = Object.entries(v.scores || {}).map(([k, s]) => `${esc(k)} ${Number(s).toFixed(2)}`).join(", ");
      return `<tr><td>${esc(v.cluster)}${v.cluster === e.chosen ? " ★" : ""}</td><td>${v.feasible ? badge("feasible") : badge("Failed").replace(">Failed<", ">filtered<")}</td>` +
        `<td>${esc(v.filter || "")}</td><td>${esc(v.reason || "")}</td><td>${scores}</td><td>${v.feasible ? Number(v.total).toFixed(2) : ""}</td></tr>`;
    }).join("");
  } catch (err) {
    $("#d-explain-summary").textContent = "explanation unavailable: " + err.message;
    $("#d-explain").innerHTML = "";
  }
}

// --- polling and routing ----------------------------------------------------

async function loadRaft() {
  try {
    const r = await api("GET", "/raft");
    $("#raft").textContent = `replica ${r.id} · ${r.state} · leader ${r.leader ? r.leader.id : "none"} · term ${r.term} · ${r.members.length} members`;
  } catch (e) {
    $("#raft").textContent = "raft status unavailable";
  }
}

let inflight = false;
async function poll() {
  if (inflight) return;
  inflight = true;
  try {
    const m = location.hash.match(/^#\/exec\/(.+)$/);
    $("#overview").hidden = !!m;
    $("#detail").hidden = !m;
    if (m) {
      await loadDetail(m[1]);
    } else {
      const clusters = await api("GET", "/clusters");
      renderClusters(clusters.items);
      await Promise.all([loadQueue(), loadExecutions()]);
    }
    loadRaft();
    $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
    showError(null);
  } catch (e) {
    showError(e);
  } finally {
    inflight = false;
  }
}

window.addEventListener("hashchange", poll);
setupFilters();
poll();
setInterval(poll, POLL_MS);
