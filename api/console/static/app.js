"use strict";
// The page frame: tabs (arrow keys move between them), the token form, the first loads.
const APP = { pages: ["query", "sky", "work", "ops"], loaded: {} };

APP.select = (name) => {
  for (const page of APP.pages) {
    const tab = document.getElementById("tab-" + page), selected = page === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById("page-" + page).hidden = !selected;
  }
  history.replaceState(null, "", "#" + name);
  if (name === "sky") SKY.draw();
  if (name === "work") WORK.load();
  if (name === "ops") OPS.load();
};

APP.who = async () => {
  const who = document.getElementById("who");
  if (!QS.token()) { who.textContent = "anonymous"; who.dataset.user = ""; return; }
  try {
    const found = await QS.json("/tap/history?limit=1");
    who.textContent = "as " + found.user;
    who.dataset.user = found.user;
  } catch (error) { who.textContent = error.message; who.dataset.user = ""; }
};

APP.reload = () => {
  APP.who();
  QUERY.loadTables().catch((error) => QUERY.showError(error.message));
  QUERY.loadExamples().catch((error) => QUERY.showError(error.message));
  const current = APP.pages.find((p) => !document.getElementById("page-" + p).hidden);
  if (current === "work") WORK.load();
  if (current === "ops") OPS.load();
};

document.addEventListener("DOMContentLoaded", () => {
  QUERY.init();
  SKY.init();
  for (const page of APP.pages) {
    const tab = document.getElementById("tab-" + page);
    tab.addEventListener("click", () => APP.select(page));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = APP.pages[(APP.pages.indexOf(page) + step + APP.pages.length) % APP.pages.length];
      APP.select(next);
      document.getElementById("tab-" + next).focus();
    });
  }
  document.getElementById("token").value = QS.token();
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    QS.setToken(document.getElementById("token").value.trim());
    APP.reload();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    QS.setToken("");
    document.getElementById("token").value = "";
    APP.reload();
  });
  document.getElementById("work-refresh").addEventListener("click", WORK.load);
  document.getElementById("ops-refresh").addEventListener("click", OPS.load);
  document.getElementById("map-table").addEventListener("change", () => OPS.map().catch((e) => {
    document.getElementById("ops-status").textContent = e.message; }));
  APP.reload();
  const start = location.hash.slice(1);
  APP.select(APP.pages.includes(start) ? start : "query");
});
