// AIaaS.Queue dashboard: plain JavaScript over the ResultApi's JSON endpoints. No build step, no dependencies.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { cursor: null, cursors: [], selected: null, timer: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// Where keys are required, the page asks once for a key and keeps it for this tab only (sessionStorage): a tenant key
// shows that tenant's jobs and models, the admin key the queues and throughput.
const apiKeyStorage = "aiaas-api-key";
let askedForKey = false;

async function getJson(url) {
  const headers = { accept: "application/json" };
  const usedKey = sessionStorage.getItem(apiKeyStorage);
  if (usedKey) headers.authorization = `Bearer ${usedKey}`;
  const response = await fetch(url, { headers });
  if (response.status === 401) {
    if (!askedForKey) {
      askedForKey = true;
      const entered = window.prompt("This deployment requires an API key (a tenant key, or the admin key for queues and throughput):");
      if (entered?.trim()) sessionStorage.setItem(apiKeyStorage, entered.trim());
    }
    // Requests that raced the prompt try once more with the key entered meanwhile.
    const current = sessionStorage.getItem(apiKeyStorage);
    if (current && current !== usedKey) return getJson(url);
  }
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body?.detail ?? body?.title ?? `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

const time = (value) => (value ? new Date(value).toLocaleTimeString() : "–");
const dateTime = (value) => (value ? new Date(value).toLocaleString() : "–");
const shortId = (id) => id.slice(0, 8) + "…" + id.slice(-4);
const num = (value, digits = 0) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));

function duration(from, to) {
  if (!from || !to) return "–";
  const ms = new Date(to) - new Date(from);
  if (ms < 1000) return `${Math.max(0, ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

function fillRows(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    tbody.append(el("tr", {}, el("td", { colspan: columns, class: "muted" }, emptyText)));
  }
  for (const row of rows) tbody.append(row);
}

// ---- health -------------------------------------------------------------------------------------------------
async function loadHealth() {
  let report;
  try {
    const response = await fetch("/health/ready");
    report = await response.json();
  } catch (error) {
    report = { status: "Unhealthy", checks: {} };
  }
  const health = $("#health");
  health.className = `badge ${report.status}`;
  health.textContent = report.status;
  $("#health-detail").textContent = Object.entries(report.checks ?? {})
    .map(([name, check]) => `${name}: ${check.status}${check.description ? " (" + check.description + ")" : ""}`)
    .join(" · ");
}

// ---- throughput ---------------------------------------------------------------------------------------------
function barChart(target, buckets, series) {
  const width = 600, height = 120, pad = 14;
  target.replaceChildren();
  const max = Math.max(1, ...buckets.flatMap((b) => series.map((s) => s.value(b))));
  const step = (width - pad) / Math.max(1, buckets.length);
  buckets.forEach((bucket, i) => {
    series.forEach((s, j) => {
      const value = s.value(bucket);
      const h = (value / max) * (height - pad * 2);
      const w = Math.max(1, step / series.length - 2);
      const rect = svg("rect", { x: pad / 2 + i * step + j * (w + 1), y: height - pad - h, width: w, height: h, fill: s.color });
      rect.append(svg("title"));
      rect.firstChild.textContent = `${time(bucket.start)}: ${s.name} ${value}`;
      target.append(rect);
    });
  });
  const label = svg("text", { x: 4, y: 11, "font-size": 10, fill: "#6b7385" });
  label.textContent = `max ${num(max, max < 10 ? 1 : 0)}`;
  target.append(label);
}

// ---- explanations --------------------------------------------------------------------------------------------
// One horizontal bar chart per explained output value: features sorted by absolute attribution, positive to the right
// (green), negative to the left (red), from the output's base value toward its value.
function explanationCharts(explanation) {
  const box = el("div", { class: "explanation" },
    el("h3", {}, `Explanation: ${explanation.method}, ${explanation.exact ? "exact" : "sampled"}, ${explanation.coalitions} coalitions, ${explanation.backgroundRows} background rows`));
  const rowHeight = 18, labelWidth = 150, width = 600, pad = 6;
  for (const output of explanation.outputs) {
    const name = output.label ? `${output.output}[${output.label}]` : `${output.output}[${output.index}]`;
    const bars = explanation.features.map((feature, i) => ({ feature, value: output.attributions[i] }))
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    const max = Math.max(1e-12, ...bars.map((b) => Math.abs(b.value)));
    const half = (width - labelWidth - pad * 2) / 2, middle = labelWidth + pad + half;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${bars.length * rowHeight + pad}`, class: "explanation-chart" });
    chart.style.height = `${bars.length * rowHeight + pad}px`;
    bars.forEach((bar, i) => {
      const y = pad / 2 + i * rowHeight, w = (Math.abs(bar.value) / max) * half;
      const label = svg("text", { x: labelWidth, y: y + 13, "font-size": 11, "text-anchor": "end", fill: "#1d2330" });
      label.textContent = bar.feature;
      const rect = svg("rect", { x: bar.value < 0 ? middle - w : middle, y: y + 3, width: Math.max(1, w), height: rowHeight - 6, fill: bar.value < 0 ? "#c62828" : "#1a7f37" });
      rect.append(svg("title"));
      rect.firstChild.textContent = `${bar.feature}: ${bar.value >= 0 ? "+" : ""}${Number(bar.value).toPrecision(4)}`;
      chart.append(label, rect);
    });
    chart.append(svg("line", { x1: middle, x2: middle, y1: 0, y2: bars.length * rowHeight + pad, stroke: "#6b7385" }));
    box.append(el("div", {}, el("b", {}, name), ` ${Number(output.value).toPrecision(4)} = base ${Number(output.baseValue).toPrecision(4)} + attributions`), chart);
  }
  return box;
}

async function loadThroughput() {
  const view = await getJson("/v1/ops/throughput");
  const buckets = view.buckets;
  const total = buckets.reduce((sum, b) => sum + b.jobs, 0);
  const batches = buckets.reduce((sum, b) => sum + b.batches, 0);
  const batched = buckets.reduce((sum, b) => sum + b.batchedJobs, 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);
  const last = buckets.at(-1) ?? { jobs: 0 };
  $("#throughput-window").textContent = `last ${view.minutes} minutes, from batch events`;
  $("#throughput-stats").replaceChildren(
    el("div", {}, el("b", { id: "stat-jobs" }, total), "jobs"),
    el("div", {}, el("b", {}, failed), "failed"),
    el("div", {}, el("b", {}, batches), "model calls"),
    el("div", {}, el("b", {}, batches ? num(batched / batches, 1) : "–"), "mean batch size"),
    el("div", {}, el("b", {}, num(last.jobs / 60, 1)), "jobs/s this minute"),
    el("div", {}, el("b", {}, view.workers.length), "active workers"));
  barChart($("#jobs-chart"), buckets, [
    { name: "succeeded", value: (b) => b.jobs - b.failed, color: "#4f8fdf" },
    { name: "failed", value: (b) => b.failed, color: "#c62828" },
  ]);
  barChart($("#batch-chart"), buckets, [
    { name: "mean batch", value: (b) => b.meanBatchSize, color: "#2e9e5b" },
    { name: "max batch", value: (b) => b.maxBatchSize, color: "#a7d8b9" },
  ]);
  fillRows($("#workers-table tbody"), view.workers.map((w) => el("tr", {},
    el("td", {}, w.name), el("td", {}, w.jobs), el("td", {}, w.failed), el("td", {}, w.batches),
    el("td", {}, num(w.meanBatchSize, 1)), el("td", {}, time(w.lastSeen)))), "No batch completed in the window.", 6);
  fillRows($("#model-throughput-table tbody"), view.models.map((m) => el("tr", { dataset: { model: m.name } },
    el("td", {}, m.name), el("td", {}, m.jobs), el("td", {}, m.failed), el("td", {}, m.batches),
    el("td", {}, num(m.meanBatchSize, 1)), el("td", {}, m.paddingEfficiency == null ? "–" : `${num(m.paddingEfficiency * 100, 1)} %`),
    el("td", {}, m.cachedJobs ? `${m.cachedJobs} (${num(m.cachedJobs / m.jobs * 100, 1)} %)` : "–"))),
    "No model ran in the window.", 7);
}

// ---- queues -------------------------------------------------------------------------------------------------
async function loadQueues() {
  const view = await getJson("/v1/ops/queues");
  $("#queues-source").textContent = view.source;
  $("#queues-note").textContent = view.note ?? "";
  fillRows($("#queues-table tbody"), view.queues.map((q) => el("tr", { dataset: { queue: q.name } },
    el("td", {}, q.name), el("td", {}, num(q.ready)), el("td", {}, num(q.unacknowledged)), el("td", {}, num(q.consumers)),
    el("td", {}, num(q.publishRate, 1)), el("td", {}, num(q.deliverRate, 1)))), view.source === "in-memory" ? "–" : "No queue yet.", 6);
}

// ---- models -------------------------------------------------------------------------------------------------
const shape = (specs) => specs.map((s) => `${s.name} ${s.datatype ?? s.elementType}[${s.shape.map((d) => (d < 0 ? "N" : d)).join("×")}]`).join(", ");

const batchingText = (m) => {
  const mode = { Dynamic: "batched", FixedOne: "batch fixed at 1", None: "unbatched" }[m.batchMode] ?? m.batchMode;
  const limits = m.batching ? `max ${m.batching.maxBatchSize ?? "default"}, ${m.batching.maxQueueDelayMilliseconds ?? "default"} ms` : "worker defaults";
  const padded = Object.keys(m.batching?.inputs ?? {}).filter((name) => (m.batching.inputs[name].padAxes ?? []).length > 0);
  return `${mode}, ${limits}${padded.length ? `, padded: ${padded.join(", ")}` : ""}`;
};

async function loadModels() {
  const models = await getJson("/v1/models");
  fillRows($("#models-table tbody"), models.map((m) => el("tr", {},
    el("td", {}, m.name), el("td", {}, m.version),
    el("td", {}, `${shape(m.inputs)} → ${shape(m.outputs)}${m.recipe ? `; recipe ${m.recipe.kind}${m.hasVocabulary ? " with vocab.txt" : ""}` : ""}`),
    el("td", {}, batchingText(m)),
    el("td", {}, `${num(m.sizeBytes / 1024, 1)} KiB`), el("td", {}, dateTime(m.createdAt)))), "No model registered.", 6);

  const select = $("#model-filter");
  const current = select.value;
  const names = [...new Set(models.map((m) => m.name))].sort();
  select.replaceChildren(el("option", { value: "" }, "any"), ...names.map((n) => el("option", { value: n }, n)));
  select.value = names.includes(current) ? current : (names.includes(state.pendingModel) ? state.pendingModel : "");
}

// ---- storage ------------------------------------------------------------------------------------------------
const mib = (bytes) => `${num(bytes / 1048576, 1)} MiB`;

async function loadStorage() {
  const view = await getJson("/v1/ops/storage");
  $("#storage-kind").textContent = view.size.kind;
  $("#storage-size").textContent = `${mib(view.size.totalBytes)} in all, ${mib(view.size.freeBytes)} free for reuse`;
  $("#storage-note").textContent = view.size.note ?? "";
  const sweep = view.lastSweep;
  const rows = sweep ? [["job outputs", sweep.jobPayloads], ["job records", sweep.jobRecords], ["files", sweep.files], ["bulk chunks", sweep.bulkOutputs]] : [];
  fillRows($("#sweep-table tbody"), rows.map(([what, c]) => el("tr", {}, el("td", {}, what), el("td", {}, num(c.count)), el("td", {}, mib(c.bytes)))),
    view.retentionConfigured ? "No sweep yet." : "No retention configured: everything is kept.", 3);
  $("#sweep-when").textContent = sweep
    ? `${dateTime(sweep.finishedAt)} by ${sweep.owner}: ${num(sweep.batches)} batches, ${mib(sweep.reclaimedBytes)} given back${sweep.error ? ` · ${sweep.error}` : ""}`
    : "";
}

// ---- jobs ---------------------------------------------------------------------------------------------------
function filters() {
  const params = new URLSearchParams();
  for (const id of ["status", "kind", "model", "limit"]) {
    const value = $(`#${id}-filter`).value;
    if (value) params.set(id, value);
  }
  return params;
}

async function loadJobs() {
  const params = filters();
  if (state.cursor) params.set("cursor", state.cursor);
  const page = await getJson(`/v1/jobs?${params}`);
  fillRows($("#jobs-table tbody"), page.items.map((j) => el("tr", {
      dataset: { jobId: j.id, status: j.status }, class: j.id === state.selected ? "selected" : null, onclick: () => openJob(j.id),
    },
    el("td", {}, el("code", { title: j.id }, shortId(j.id))), el("td", {}, j.kind),
    el("td", {}, j.modelVersion ? `${j.model} v${j.modelVersion}` : j.model), el("td", {}, badge(j.status)),
    el("td", {}, time(j.submittedAt)), el("td", {}, duration(j.submittedAt, j.startedAt)), el("td", {}, duration(j.startedAt, j.completedAt)),
    el("td", {}, j.batchSize ?? "–"), el("td", {}, j.workerId ?? "–"))), "No job matches.", 9);
  $("#jobs-count").textContent = `${page.items.length} jobs on this page`;
  state.next = page.nextCursor;
  $("#next-page").hidden = !page.nextCursor;
  $("#first-page").hidden = !state.cursor;
}

function syncUrl() {
  const params = filters();
  if (params.get("limit") === "25") params.delete("limit");
  const hash = state.selected ? `#job=${state.selected}` : "";
  history.replaceState(null, "", `${location.pathname}${params.size ? "?" + params : ""}${hash}`);
}

function describeEvent(e) {
  const metrics = [["epoch", e.epoch !== null && e.epoch !== undefined ? `${e.epoch}/${e.epochs ?? "?"}` : null], ["train loss", e.trainLoss],
    ["val loss", e.validationLoss], ["val acc", e.validationAccuracy], ["val rmse", e.validationRmse], ["attempt", e.attempt]]
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : v}`);
  return el("li", { class: `event ${e.type}` }, `${time(e.at)} ${e.type}`, metrics.length ? ` (${metrics.join(", ")})` : "", e.message ? `: ${e.message}` : "");
}

// ---- one job ------------------------------------------------------------------------------------------------
async function openJob(id) {
  state.selected = id;
  syncUrl();
  for (const row of document.querySelectorAll("#jobs-table tbody tr")) row.classList.toggle("selected", row.dataset.jobId === id);
  const panel = $("#job-detail");
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  $("#job-detail-id").textContent = id;
  let job;
  try {
    job = await getJson(`/v1/jobs/${encodeURIComponent(id)}`);
  } catch (error) {
    $("#job-detail-status").replaceWith(el("span", { id: "job-detail-status", class: "badge Failed" }, "not found"));
    $("#job-detail-fields").replaceChildren(el("dt", {}, "error"), el("dd", { class: "error" }, error.message));
    for (const part of ["#job-timeline", "#job-events", "#job-output"]) $(part).replaceChildren();
    return;
  }

  $("#job-detail-status").replaceWith(el("span", { id: "job-detail-status", class: `badge ${job.status}` }, job.status));
  const fields = [["kind", job.kind], ["model", job.modelVersion ? `${job.model} v${job.modelVersion}` : job.model],
    ["device", job.device], ["worker", job.workerId], ["batch", job.batchId ? `${job.batchId} (${job.batchSize} jobs)` : null]];
  $("#job-detail-fields").replaceChildren(...fields.filter(([, v]) => v).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
    ...(job.error ? [el("dt", {}, "error"), el("dd", { class: "error", id: "job-error" }, job.error)] : []));

  $("#job-timeline").replaceChildren(
    el("li", {}, el("b", {}, "submitted"), dateTime(job.submittedAt)),
    el("li", { class: "gap" }, `→ ${duration(job.submittedAt, job.startedAt)} waiting →`),
    el("li", {}, el("b", {}, "started"), job.startedAt ? dateTime(job.startedAt) : "–"),
    el("li", { class: "gap" }, `→ ${duration(job.startedAt, job.completedAt)} running →`),
    el("li", {}, el("b", {}, job.status === "Failed" ? "failed" : job.status === "Expired" ? "expired" : "completed"), job.completedAt ? dateTime(job.completedAt) : "–"));

  const events = [el("li", {}, `${time(job.submittedAt)} submitted by the client`)];
  if (job.batchId) {
    try {
      const batch = await getJson(`/v1/ops/batches/${encodeURIComponent(job.batchId)}`);
      const padding = batch.paddingEfficiency < 1 ? `, padding efficiency ${num(batch.paddingEfficiency * 100, 1)} %` : "";
      events.push(el("li", {}, `${time(batch.completedAt)} batch of ${batch.batchSize} ran on ${batch.workerId} (${batch.device}) in ${num(batch.modelMilliseconds, 2)} ms of model time${padding}`));
    } catch {
      events.push(el("li", {}, `batch ${job.batchId} of ${job.batchSize} ran on ${job.workerId ?? "a worker"} (older than the dashboard's window)`));
    }
  }
  if (job.completedAt) events.push(el("li", {}, `${time(job.completedAt)} result stored: ${job.status.toLowerCase()}`));
  try {
    // The job's own history where the API keeps one (lifecycle changes, retries, training epochs).
    const history = await getJson(`/v1/jobs/${encodeURIComponent(id)}/events`);
    if (Array.isArray(history) && history.length) {
      events.splice(0, events.length, ...history.map(describeEvent), ...events.filter((e) => e.textContent.includes("batch of")));
    }
  } catch {
    // Not kept by this deployment: the events above are derived from the job and its batch.
  }
  $("#job-events").replaceChildren(...events);

  const output = $("#job-output");
  output.replaceChildren();
  if (job.status === "Succeeded") {
    try {
      const view = await getJson(`/v1/jobs/${encodeURIComponent(id)}/output`);
      for (const [name, tensor] of Object.entries(view.outputs)) {
        const values = tensor.data.slice(0, 16).map((v) => Number(v).toPrecision(4)).join(", ");
        output.append(el("div", {}, el("b", {}, name), ` [${tensor.shape.join("×")}]`,
          el("pre", { class: "output-preview" }, `[${values}${tensor.data.length > 16 ? ", …" : ""}]`)));
      }
      if (view.explanation) output.append(explanationCharts(view.explanation));
    } catch (error) {
      output.append(el("p", { class: "error" }, error.message));
    }
  } else {
    output.append(el("p", { class: "muted" }, job.status === "Failed" ? "No output: the job failed." : job.status === "Expired" ? "No output: the job expired before it ran." : "No output yet."));
  }

  // Every delivery of the job's webhook events and each attempt: time, status code, latency, error.
  let deliveries = [];
  try {
    deliveries = await getJson(`/v1/jobs/${encodeURIComponent(id)}/webhooks`);
  } catch {
    // Unknown to the webhook log (for example a job submitted a moment ago).
  }
  $("#job-webhooks").textContent = deliveries.length
    ? deliveries.map((d) => [`${d.eventType} → ${d.url}: ${d.state.toLowerCase()}` + (d.nextAttemptAt ? `, next attempt ${time(d.nextAttemptAt)}` : ""),
        ...d.attempts.map((a) => `  #${a.number} ${time(a.at)} ${a.statusCode ?? "no answer"} in ${num(a.latencyMilliseconds, 0)} ms${a.error ? ` · ${a.error}` : ""}`)]
        .join("\n")).join("\n")
    : "No webhook deliveries recorded for this job.";
}

// ---- wiring -------------------------------------------------------------------------------------------------
async function refresh() {
  const parts = [loadHealth(), loadThroughput(), loadQueues(), loadModels(), loadStorage(), state.cursor ? Promise.resolve() : loadJobs()];
  const results = await Promise.allSettled(parts);
  const failed = results.filter((r) => r.status === "rejected");
  $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}` + (failed.length ? ` · ${failed[0].reason.message}` : "");
}

function schedule() {
  clearInterval(state.timer);
  if ($("#auto-refresh").checked) state.timer = setInterval(refresh, 5000);
}

function start() {
  const query = new URLSearchParams(location.search);
  for (const id of ["status", "kind", "limit"]) if (query.get(id)) $(`#${id}-filter`).value = query.get(id);
  state.pendingModel = query.get("model");
  $("#filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("#job-id").value.trim();
    if (id) {
      openJob(id);
      return;
    }
    state.cursor = null;
    syncUrl();
    loadJobs().catch((error) => ($("#jobs-count").textContent = error.message));
  });
  $("#next-page").addEventListener("click", () => { state.cursor = state.next; loadJobs(); });
  $("#first-page").addEventListener("click", () => { state.cursor = null; loadJobs(); });
  $("#close-detail").addEventListener("click", () => { state.selected = null; $("#job-detail").hidden = true; syncUrl(); });
  $("#auto-refresh").addEventListener("change", schedule);
  loadModels().catch(() => {}).then(() => {
    if (state.pendingModel) $("#model-filter").value = state.pendingModel;
    refresh();
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("job")) openJob(hash.get("job"));
  });
  schedule();
}

start();
