"use strict";
// My work: the caller's async jobs (phase, duration, rows, links, abort, delete) and query history.
const WORK = {};

WORK.duration = (job) => {
  if (!job.started) return "";
  const end = job.ended ? Date.parse(job.ended) : Date.now();
  return ((end - Date.parse(job.started)) / 1000).toFixed(2) + " s";
};

WORK.action = async (id, body, method) => {
  const status = document.getElementById("work-status");
  try {
    if (method === "DELETE") await QS.request(`/tap/async/${id}`, { method: "DELETE" });
    else await QS.request(`/tap/async/${id}/phase`, { method: "POST", body: new URLSearchParams(body) });
    status.textContent = method === "DELETE" ? `job ${id} deleted` : `job ${id}: ${body.PHASE}`;
  } catch (error) { status.textContent = error.message; }
  WORK.load();
};

WORK.open = async (job) => {
  const answer = await QS.request(`/tap/async/${job.id}/results/result`);
  QUERY.editor.set(job.query);
  QUERY.show(XMLS.votable(await answer.text()));
  APP.select("query");
};

WORK.jobs = async () => {
  const list = XMLS.jobList(await (await QS.request("/tap/async")).text());
  const jobs = await Promise.all(list.slice(-100).reverse().map(async (ref) =>
    XMLS.job(await (await QS.request(`/tap/async/${ref.id}`)).text())));
  QS.fill("jobs", QS.table([
    { label: "Job", cell: (j) => QS.el("code", { text: j.id }) },
    { label: "Phase", cell: (j) => QS.el("span", { class: "state-" + j.phase, text: j.phase }) },
    { label: "Created", cell: (j) => j.created },
    { label: "Duration", cell: WORK.duration, num: true },
    { label: "Rows", cell: (j) => j.rows, num: true },
    { label: "Query", cell: (j) => QS.el("code", { text: j.query.length > 90 ? j.query.slice(0, 90) + "…" : j.query }) },
    { label: "Links", cell: (j) => QS.el("span", {},
      j.result ? QS.el("button", { onclick: () => WORK.open(j).catch((e) => { document.getElementById("work-status").textContent = e.message; }),
        "aria-label": `show result of job ${j.id}` }, "Show") : null,
      j.result ? QS.el("button", { onclick: async () => QS.save(await (await QS.request(new URL(j.result).pathname)).blob(), `${j.id}.vot`),
        "aria-label": `download result of job ${j.id}` }, "Download") : null,
      j.error ? QS.el("small", { text: j.error }) : null) },
    { label: "Actions", cell: (j) => QS.el("span", {},
      ["PENDING", "QUEUED", "EXECUTING"].includes(j.phase)
        ? QS.el("button", { onclick: () => WORK.action(j.id, { PHASE: "ABORT" }), "aria-label": `abort job ${j.id}` }, "Abort") : null,
      QS.el("button", { onclick: () => WORK.action(j.id, null, "DELETE"), "aria-label": `delete job ${j.id}` }, "Delete")) },
  ], jobs, "no async jobs"));
  clearTimeout(WORK.timer);  // jobs still running are read again every 2 s while the page is shown
  if (jobs.some((j) => ["QUEUED", "EXECUTING"].includes(j.phase)) && !document.getElementById("page-work").hidden) {
    WORK.timer = setTimeout(() => WORK.jobs().catch((e) => { document.getElementById("work-status").textContent = e.message; }), 2000);
  }
};

WORK.history = async () => {
  let found;
  try { found = await QS.json("/tap/history?limit=200"); } catch (error) {
    QS.fill("history", QS.el("p", { class: "help", text: error.status === 401 ? "Enter a bearer token to see your query history." : error.message }));
    return;
  }
  const extra = found.queries.length ? Object.keys(found.queries[0]).filter((k) =>
    !["id", "user", "lang", "query", "status", "submitted", "duration_s", "rows", "chunks", "error"].includes(k)) : [];
  QS.fill("history", QS.table([
    { label: "Submitted", cell: (q) => q.submitted },
    { label: "User", cell: (q) => q.user },
    { label: "Status", cell: (q) => QS.el("span", { class: "state-" + q.status, text: q.status }) },
    { label: "Duration", cell: (q) => QS.seconds(q.duration_s), num: true },
    { label: "Rows", cell: (q) => q.rows, num: true },
    { label: "Chunks", cell: (q) => q.chunks, num: true },
    ...extra.map((k) => ({ label: k, cell: (q) => typeof q[k] === "object" && q[k] !== null ? JSON.stringify(q[k]) : q[k] })),
    { label: "Query", cell: (q) => QS.el("button", { class: "query-link", title: q.query, "aria-label": "load this query into the editor",
      onclick: () => { QUERY.editor.set(q.query); APP.select("query"); } }, q.query.length > 90 ? q.query.slice(0, 90) + "…" : q.query) },
    { label: "Error", cell: (q) => q.error },
  ], found.queries, "no queries yet"));
};

WORK.load = async () => {
  const status = document.getElementById("work-status");
  status.textContent = "loading…";
  try { await Promise.all([WORK.jobs(), WORK.history()]); status.textContent = `as ${document.getElementById("who").dataset.user || "anonymous"}`; }
  catch (error) { status.textContent = error.message; }
};
