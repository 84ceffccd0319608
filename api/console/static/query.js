"use strict";
// The query page: editor, examples, table browser, sync / async runs, results, downloads, explain.
const QUERY = { editor: null, result: null, order: null, page: 0, pageRows: 100, lastQuery: "" };

QUERY.form = (format, maxrec) => {
  const form = new FormData();
  form.append("LANG", "ADQL");
  form.append("QUERY", document.getElementById("adql").value);
  form.append("RESPONSEFORMAT", format);
  if (maxrec !== null) form.append("MAXREC", maxrec);
  const file = document.getElementById("upload-file").files[0];
  const name = document.getElementById("upload-name").value.trim();
  if (file && name) { form.append("UPLOAD", `${name},param:${name}`); form.append(name, file, file.name); }
  return form;
};
QUERY.maxrec = () => document.getElementById("maxrec").value || null;

QUERY.status = (text) => { document.getElementById("status").textContent = text; };
QUERY.showError = (message) => {
  const box = document.getElementById("error");
  const text = document.getElementById("adql").value;
  const span = ADQL.errorSpan(text, message);
  box.hidden = !message;
  box.textContent = message ? "Error: " + message : "";
  if (span) {
    const line = text.slice(0, span[0]).split("\n").length, column = span[0] - text.lastIndexOf("\n", span[0] - 1);
    box.textContent += `\n(at line ${line}, column ${column}, marked in the editor)`;
  }
  QUERY.editor.mark(span);
};

QUERY.run = async () => {
  QUERY.showError(null);
  QUERY.status("running…");
  const started = performance.now();
  try {
    const answer = await QS.request("/tap/sync", { method: "POST", body: QUERY.form("votable/td", QUERY.maxrec()) });
    QUERY.show(XMLS.votable(await answer.text()), performance.now() - started);
  } catch (error) {
    QUERY.status("");
    QUERY.showError(error.message);
  }
};

QUERY.show = (result, elapsedMs) => {
  QUERY.result = result;
  QUERY.order = null;
  QUERY.page = 0;
  QUERY.lastQuery = document.getElementById("adql").value;
  QUERY.status(`${result.rows.length} rows${result.overflow ? " (MAXREC reached: more rows exist)" : ""}` +
    (elapsedMs !== undefined ? ` in ${(elapsedMs / 1000).toFixed(2)} s` : ""));
  QUERY.render();
  SKY.setResult(result, QUERY.lastQuery);
};

QUERY.sorted = () => {
  const rows = QUERY.result.rows.slice();
  if (QUERY.order) {
    const [index, direction] = QUERY.order;
    rows.sort((a, b) => {
      const x = a[index], y = b[index];
      if (x === y) return 0;
      if (x === null || x === "") return 1;
      if (y === null || y === "") return -1;
      return (x < y ? -1 : 1) * direction;
    });
  }
  return rows;
};

QUERY.render = () => {
  const result = QUERY.result;
  const rows = QUERY.sorted();
  const pages = Math.max(1, Math.ceil(rows.length / QUERY.pageRows));
  QUERY.page = Math.min(QUERY.page, pages - 1);
  const shown = rows.slice(QUERY.page * QUERY.pageRows, (QUERY.page + 1) * QUERY.pageRows);
  const header = result.fields.map((f, i) => {
    const active = QUERY.order && QUERY.order[0] === i;
    const sort = active ? (QUERY.order[1] > 0 ? "ascending" : "descending") : "none";
    return QS.el("th", { scope: "col", "aria-sort": sort, title: [f.description, f.ucd].filter(Boolean).join(" — ") },
      QS.el("button", { "data-column": f.name, onclick: () => {
        QUERY.order = active ? [i, -QUERY.order[1]] : [i, 1];
        QUERY.render();
      } }, f.name + (active ? (QUERY.order[1] > 0 ? " ▲" : " ▼") : "")),
      QS.el("span", { class: "unit", text: f.unit ? `[${f.unit}]` : "" }));
  });
  const body = shown.map((row) => QS.el("tr", {}, row.map((value, i) =>
    QS.el("td", { class: result.fields[i].numeric ? "num" : null, text: value === null ? "" : String(value) }))));
  QS.fill("results", QS.el("table", { id: "result-table" }, QS.el("thead", {}, QS.el("tr", {}, header)), QS.el("tbody", {}, body)));
  QS.fill("pager", QS.el("span", {},
    QS.el("button", { disabled: QUERY.page === 0 ? "" : null, onclick: () => { QUERY.page--; QUERY.render(); } }, "◀ Previous"),
    ` page ${QUERY.page + 1} of ${pages} `,
    QS.el("button", { disabled: QUERY.page >= pages - 1 ? "" : null, onclick: () => { QUERY.page++; QUERY.render(); } }, "Next ▶"),
    QS.el("label", { for: "page-rows" }, " rows per page "),
    QS.el("select", { id: "page-rows", onchange: (e) => { QUERY.pageRows = Number(e.target.value); QUERY.render(); } },
      [25, 100, 500, 2000].map((n) => QS.el("option", { value: n, selected: n === QUERY.pageRows ? "" : null }, n)))));
};

QUERY.download = async () => {
  const format = document.getElementById("format").value;
  QUERY.showError(null);
  try {
    const answer = await QS.request("/tap/sync", { method: "POST", body: QUERY.form(format, QUERY.maxrec()) });
    const extension = { "votable": "vot", "votable/td": "vot", csv: "csv", tsv: "tsv", fits: "fits", parquet: "parquet" }[format];
    QS.save(await answer.blob(), `result.${extension}`);
    QUERY.status(`downloaded result.${extension}`);
  } catch (error) { QUERY.showError(error.message); }
};

QUERY.explain = async () => {
  QUERY.showError(null);
  const box = document.getElementById("explain");
  try {
    const found = await QS.json("/console/api/explain", { method: "POST", body: QUERY.form("votable", null) });
    box.textContent = found.explain;
    box.hidden = false;
  } catch (error) { box.hidden = true; QUERY.showError(error.message); }
};

// Submit as an async job, wait for it (UWS WAIT), then show its result.
QUERY.submit = async () => {
  QUERY.showError(null);
  try {
    const form = QUERY.form("votable/td", QUERY.maxrec());
    form.append("PHASE", "RUN");
    const created = await QS.request("/tap/async", { method: "POST", body: form });
    const url = new URL(created.url).pathname;
    const id = url.split("/").pop();
    let job = XMLS.job(await created.text());
    QUERY.status(`async job ${id}: ${job.phase}`);
    while (["PENDING", "QUEUED", "EXECUTING"].includes(job.phase)) {
      job = XMLS.job(await (await QS.request(`/tap/async/${id}?WAIT=5&PHASE=${job.phase}`)).text());
      QUERY.status(`async job ${id}: ${job.phase}`);
    }
    if (job.phase === "COMPLETED") {
      const answer = await QS.request(`/tap/async/${id}/results/result`);
      QUERY.show(XMLS.votable(await answer.text()));
      QUERY.status(`async job ${id}: COMPLETED, ${job.rows} rows`);
    } else QUERY.showError(job.error || `the job ended ${job.phase}`);
  } catch (error) { QUERY.showError(error.message); }
};

QUERY.loadTables = async () => {
  const tables = XMLS.tables(await (await QS.request("/tap/tables")).text());
  const filter = document.getElementById("table-filter");
  const draw = () => {
    const word = filter.value.trim().toLowerCase();
    const shown = tables.filter((t) => !word || t.name.toLowerCase().includes(word) ||
      t.columns.some((c) => c.name.toLowerCase().includes(word)));
    QS.fill("browser", QS.el("div", { class: "tree" }, shown.map((t) => QS.el("details", { open: word ? "" : null },
      QS.el("summary", { title: t.description }, t.name),
      QS.el("ul", {}, QS.el("li", {}, QS.el("button", { onclick: () => QUERY.editor.insert(t.name),
        "aria-label": `insert table name ${t.name}` }, `(insert ${t.name})`)),
        t.columns.map((c) => QS.el("li", {},
          QS.el("button", { onclick: () => QUERY.editor.insert(c.name), "aria-label": `insert column ${c.name}` }, c.name),
          QS.el("small", { text: [c.datatype, c.unit && `[${c.unit}]`, c.ucd, c.description].filter(Boolean).join(" · ") }))))))));
  };
  filter.oninput = draw;
  draw();
};

QUERY.loadExamples = async () => {
  const found = await QS.json("/console/api/catalogs");
  const select = document.getElementById("examples");
  const choices = [];
  select.replaceChildren(QS.el("option", { value: "" }, "(choose)"));
  for (const table of found.tables) {
    const group = QS.el("optgroup", { label: table.table });
    for (const example of table.examples) {
      group.append(QS.el("option", { value: choices.length }, example.title));
      choices.push(example);
    }
    select.append(group);
  }
  select.onchange = () => {
    const example = choices[Number(select.value)];
    if (!example) return;
    QUERY.editor.set(example.query);
    if (example.upload) document.getElementById("upload-name").value = example.upload;
  };
  for (const id of ["grid-table", "map-table"]) {
    const target = document.getElementById(id);
    const keep = id === "grid-table" ? [QS.el("option", { value: "" }, "(none)")] : [];
    target.replaceChildren(...keep, ...found.tables.map((t) => QS.el("option", { value: t.table }, t.table)));
  }
  return found.tables;
};

QUERY.init = () => {
  const textarea = document.getElementById("adql");
  QUERY.editor = ADQL.attach(textarea, document.getElementById("highlight"));
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); QUERY.run(); }
  });
  document.getElementById("run-sync").addEventListener("click", QUERY.run);
  document.getElementById("run-async").addEventListener("click", QUERY.submit);
  document.getElementById("run-explain").addEventListener("click", QUERY.explain);
  document.getElementById("download").addEventListener("click", QUERY.download);
};
