"use strict";
// Reading the XML this server answers: VOTable TABLEDATA results, VOSI /tables, UWS job documents.
const XMLS = {};
XMLS.NUMERIC = new Set(["short", "int", "long", "float", "double", "unsignedByte"]);

XMLS.parse = (text) => {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) throw new Error("the answer is not XML");
  return doc;
};
XMLS.all = (node, name) => [...node.getElementsByTagNameNS("*", name)];
XMLS.text = (node, name) => {
  const found = XMLS.all(node, name)[0];
  return found && found.getAttributeNS("http://www.w3.org/2001/XMLSchema-instance", "nil") !== "true"
    ? found.textContent.trim() : null;
};

// {fields: [{name, datatype, unit, ucd, description}], rows: [[value]], overflow} of a TABLEDATA VOTable.
XMLS.votable = (text) => {
  const doc = XMLS.parse(text);
  const status = XMLS.all(doc, "INFO").find((i) => i.getAttribute("name") === "QUERY_STATUS");
  if (status && status.getAttribute("value") === "ERROR") throw new Error(status.textContent.trim());
  const fields = XMLS.all(doc, "FIELD").map((f) => ({
    name: f.getAttribute("name"), datatype: f.getAttribute("datatype"), unit: f.getAttribute("unit") || "",
    ucd: f.getAttribute("ucd") || "", description: XMLS.text(f, "DESCRIPTION") || "",
    numeric: XMLS.NUMERIC.has(f.getAttribute("datatype")) && !f.getAttribute("arraysize"),
  }));
  const rows = XMLS.all(doc, "TR").map((tr) => XMLS.all(tr, "TD").map((td, i) => {
    const value = td.textContent;
    if (!fields[i] || !fields[i].numeric) return value;
    return value === "" ? null : Number(value);
  }));
  return { fields, rows, overflow: status && status.getAttribute("value") === "OVERFLOW" };
};

// [{name, description, columns: [{name, datatype, unit, ucd, description}]}] of VOSI /tables.
XMLS.tables = (text) => XMLS.all(XMLS.parse(text), "table").map((t) => ({
  name: XMLS.text(t, "name"), description: XMLS.all(t, "description").filter((d) => d.parentNode === t)
    .map((d) => d.textContent.trim())[0] || "",
  columns: XMLS.all(t, "column").map((c) => ({
    name: XMLS.text(c, "name"), datatype: XMLS.text(c, "dataType") || "", unit: XMLS.text(c, "unit") || "",
    ucd: XMLS.text(c, "ucd") || "", description: XMLS.text(c, "description") || "",
  })),
}));

// A UWS job document as {id, phase, created, started, ended, query, rows, result, error}.
XMLS.job = (text) => {
  const doc = XMLS.parse(text);
  const result = XMLS.all(doc, "result")[0];
  const query = XMLS.all(doc, "parameter").find((p) => p.getAttribute("id").toLowerCase() === "query");
  return {
    id: XMLS.text(doc, "jobId"), phase: XMLS.text(doc, "phase"), owner: XMLS.text(doc, "ownerId"),
    created: XMLS.text(doc, "creationTime"), started: XMLS.text(doc, "startTime"), ended: XMLS.text(doc, "endTime"),
    query: query ? query.textContent : "", rows: result && result.getAttribute("size") !== null ? Number(result.getAttribute("size")) : null,
    result: result ? result.getAttributeNS("http://www.w3.org/1999/xlink", "href") : null,
    error: XMLS.text(doc, "message"),
  };
};

// [{id, phase, href}] of a UWS job list.
XMLS.jobList = (text) => XMLS.all(XMLS.parse(text), "jobref").map((j) => ({
  id: j.getAttribute("id"), phase: XMLS.text(j, "phase"), created: XMLS.text(j, "creationTime"),
}));
