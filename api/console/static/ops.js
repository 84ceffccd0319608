"use strict";
// Operations (an administrator's token): workers, databases and replicas, chunk maps, admin jobs,
// transactions and query-log statistics, all from /admin/v1 and /tap/history.
const OPS = { API: "/admin/v1" };

OPS.bar = (done, total) => total ? QS.el("span", {}, QS.el("span", { class: "bar", role: "progressbar",
  "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": done }, QS.el("span", { style: `width:${100 * done / total}%` })),
  ` ${done} / ${total}`) : "";

OPS.workers = async () => {
  const workers = await QS.json(OPS.API + "/workers");
  QS.fill("workers", QS.table([
    { label: "Worker", cell: (w) => w.name }, { label: "Backend", cell: (w) => w.backend },
    { label: "Location", cell: (w) => w.location },
    { label: "State", cell: (w) => QS.el("span", { class: "state-" + w.state, text: w.state }) },
    { label: "Health", cell: (w) => QS.el("span", { class: w.error ? "state-error" : "state-ok", text: w.error || "ok" }) },
    { label: "Chunks", cell: (w) => w.chunks, num: true }, { label: "Rows", cell: (w) => w.rows, num: true },
    { label: "Bytes", cell: (w) => w.bytes, num: true },
  ], workers, "no workers"));
};

OPS.databases = async () => {
  const databases = await QS.json(OPS.API + "/databases");
  const catalogs = await QS.json("/console/api/catalogs");
  const stats = await Promise.all(catalogs.tables.map((t) => QS.json(`${OPS.API}/tables/${encodeURIComponent(t.table)}/stats`)));
  QS.fill("databases", QS.el("div", {},
    QS.table([
      { label: "Database", cell: (d) => d.name }, { label: "Published", cell: (d) => d.published ? "yes" : "no" },
      { label: "Chunk order", cell: (d) => d.chunk_order, num: true }, { label: "Replicas per chunk", cell: (d) => d.replication, num: true },
      { label: "Overlap", cell: (d) => d.overlap_arcsec + "″", num: true }, { label: "Tables", cell: (d) => d.tables.join(", ") },
    ], databases, "no databases"),
    stats.map((s) => QS.el("div", {}, QS.el("h3", { text: `${s.table}: ${s.chunks} chunks, ${s.rows} rows (+${s.overlap_rows} overlap)` +
      (s.rows_per_chunk ? `; rows per chunk min/median/max ${s.rows_per_chunk.join(" / ")}` : "") }),
      s.warning ? QS.el("p", { class: "state-error", text: s.warning }) : null,
      QS.table([{ label: "Worker", cell: ([name]) => name }, { label: "Chunk replicas", cell: ([, w]) => w.chunks, num: true },
        { label: "Rows", cell: ([, w]) => w.rows, num: true }, { label: "Overlap rows", cell: ([, w]) => w.overlap_rows, num: true }],
      Object.entries(s.workers))))));
};

OPS.map = async () => {
  const table = document.getElementById("map-table").value;
  const image = document.getElementById("chunk-map");
  if (!table) return;
  const blob = await (await QS.request(`${OPS.API}/tables/${encodeURIComponent(table)}/map.png`)).blob();
  if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(blob);
  image.alt = `Chunk map of ${table}: rows, replicas and workers per chunk`;
};

OPS.jobs = async () => {
  const jobs = await QS.json(OPS.API + "/jobs");
  QS.fill("admin-jobs", QS.table([
    { label: "Job", cell: (j) => j.id, num: true }, { label: "Kind", cell: (j) => j.kind }, { label: "Target", cell: (j) => j.target },
    { label: "Owner", cell: (j) => j.owner }, { label: "State", cell: (j) => QS.el("span", { class: "state-" + j.state, text: j.state }) },
    { label: "Progress", cell: (j) => OPS.bar(j.done, j.total) }, { label: "Created", cell: (j) => j.created },
    { label: "Ended", cell: (j) => j.ended }, { label: "Errors", cell: (j) => j.errors.join("; ") },
  ], jobs, "no operations yet"));
  OPS.follow(jobs.some((j) => !["done", "failed"].includes(j.state)));
};

// While an operation runs and the page is shown, its progress is read again every 1.5 s.
OPS.follow = (running) => {
  clearTimeout(OPS.timer);
  if (running && !document.getElementById("page-ops").hidden) {
    OPS.timer = setTimeout(() => OPS.jobs().catch((e) => { document.getElementById("ops-status").textContent = e.message; }), 1500);
  }
};

OPS.transactions = async () => {
  const found = await QS.json(OPS.API + "/transactions");
  QS.fill("transactions", QS.table([
    { label: "Id", cell: (t) => t.id, num: true }, { label: "Database", cell: (t) => t.database },
    { label: "State", cell: (t) => QS.el("span", { class: "state-" + t.state, text: t.state }) },
    { label: "Started", cell: (t) => t.started }, { label: "Ended", cell: (t) => t.ended },
  ], found.slice(-50).reverse(), "no transactions"));
};

// Statistics of the newest logged queries: counts by status, the slowest ones, the latest errors.
OPS.logStats = async () => {
  const { queries } = await QS.json("/tap/history?limit=1000");
  const counts = {};
  for (const q of queries) counts[q.status] = (counts[q.status] || 0) + 1;
  const slowest = queries.filter((q) => q.duration_s !== null).sort((a, b) => b.duration_s - a.duration_s).slice(0, 10);
  const errors = queries.filter((q) => q.error).slice(0, 10);
  const text = (q) => QS.el("code", { text: q.query.length > 100 ? q.query.slice(0, 100) + "…" : q.query });
  QS.fill("log-stats", QS.el("div", {},
    QS.el("p", { text: `${queries.length} newest queries: ` + Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ") }),
    QS.el("h3", { text: "Slowest" }),
    QS.table([{ label: "Duration", cell: (q) => QS.seconds(q.duration_s), num: true }, { label: "User", cell: (q) => q.user },
      { label: "Rows", cell: (q) => q.rows, num: true }, { label: "Chunks", cell: (q) => q.chunks, num: true },
      { label: "Query", cell: text }], slowest, "none"),
    QS.el("h3", { text: "Latest errors" }),
    QS.table([{ label: "Submitted", cell: (q) => q.submitted }, { label: "User", cell: (q) => q.user },
      { label: "Error", cell: (q) => q.error }, { label: "Query", cell: text }], errors, "none")));
};

OPS.load = async () => {
  const status = document.getElementById("ops-status"), denied = document.getElementById("ops-denied");
  const body = document.getElementById("ops-body");
  status.textContent = "loading…";
  try {
    await OPS.workers();
  } catch (error) {
    denied.hidden = false;
    body.hidden = true;
    denied.textContent = (error.status === 401 ? "The operations pages need an administrator's bearer token: enter it above. "
      : error.status === 403 ? "This token is not an administrator's. " : "") + "The server said: " + error.message;
    status.textContent = "";
    return;
  }
  denied.hidden = true;
  body.hidden = false;
  const parts = [OPS.databases(), OPS.jobs(), OPS.transactions(), OPS.logStats(), OPS.map()];
  const failed = (await Promise.allSettled(parts)).filter((p) => p.status === "rejected");
  status.textContent = failed.length ? failed.map((p) => p.reason.message).join("; ") : `updated ${new Date().toLocaleTimeString()}`;
};
