"use strict";
// Shared helpers: the bearer token (sessionStorage), requests to this server, DOM building.
const QS = {};

QS.token = () => sessionStorage.getItem("qserv.token") || "";
QS.setToken = (value) => value ? sessionStorage.setItem("qserv.token", value) : sessionStorage.removeItem("qserv.token");

QS.headers = (extra) => {
  const found = Object.assign({}, extra || {});
  if (QS.token()) found["Authorization"] = "Bearer " + QS.token();
  return found;
};

// fetch on this server with the token; errors (HTTP >= 400) throw Error(message from the body).
QS.request = async (url, options) => {
  const opts = Object.assign({}, options || {});
  opts.headers = QS.headers(opts.headers);
  const answer = await fetch(url, opts);
  if (!answer.ok) {
    const error = new Error(await QS.errorText(answer));
    error.status = answer.status;
    throw error;
  }
  return answer;
};
QS.json = async (url, options) => (await QS.request(url, options)).json();

// The message of an error answer: JSON {"error"}, a VOTable QUERY_STATUS INFO, or the text.
QS.errorText = async (answer) => {
  const text = await answer.text();
  try { return JSON.parse(text).error || text; } catch (e) { /* not JSON */ }
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const info = [...doc.getElementsByTagName("INFO")].find((i) => i.getAttribute("name") === "QUERY_STATUS");
  if (info) return (info.textContent || info.getAttribute("value")).trim();
  return `HTTP ${answer.status}: ${text.slice(0, 300)}`;
};

QS.el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
};

// A plain table: columns [{label, cell(row) -> Node|string, num}] over rows.
QS.table = (columns, rows, empty) => {
  if (!rows.length) return QS.el("p", { class: "help", text: empty || "(none)" });
  return QS.el("table", {},
    QS.el("thead", {}, QS.el("tr", {}, columns.map((c) => QS.el("th", { scope: "col", text: c.label })))),
    QS.el("tbody", {}, rows.map((row) => QS.el("tr", {}, columns.map((c) => {
      const value = c.cell(row);
      return QS.el("td", { class: c.num ? "num" : null }, value === null || value === undefined ? "" : value);
    })))));
};

QS.fill = (id, node) => { const target = document.getElementById(id); target.replaceChildren(node); };

QS.seconds = (value) => value === null || value === undefined ? "" : Number(value).toFixed(3) + " s";

// Save a Blob as a file through a temporary link.
QS.save = (blob, name) => {
  const url = URL.createObjectURL(blob);
  const link = QS.el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
};
