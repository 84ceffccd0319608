"use strict";
// ADQL syntax highlighting: a tokenizer and the overlay <pre> under the transparent textarea.
const ADQL = {};
ADQL.KEYWORDS = new Set(("SELECT FROM WHERE AND OR NOT AS JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING " +
  "GROUP BY ORDER HAVING ASC DESC TOP DISTINCT ALL UNION INTERSECT EXCEPT IN IS NULL LIKE ILIKE BETWEEN EXISTS " +
  "CASE WHEN THEN ELSE END OFFSET LIMIT WITH CAST TRUE FALSE").split(" "));
ADQL.FUNCTIONS = new Set(("POINT CIRCLE BOX POLYGON REGION CONTAINS INTERSECTS DISTANCE AREA CENTROID COORD1 COORD2 " +
  "COORDSYS COUNT SUM AVG MIN MAX ABS CEILING FLOOR ROUND TRUNCATE SQRT POWER EXP LOG LOG10 PI RAND MOD SIN COS " +
  "TAN ASIN ACOS ATAN ATAN2 DEGREES RADIANS LOWER UPPER COALESCE IN_UNIT").split(" "));
ADQL.TOKEN = /(--[^\n]*)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<>|<=|>=|!=|\|\||[-+*\/=<>(),.;])|(\s+)|(.)/g;

// [{text, kind}] of a query text; kinds: kw fn str num com op id ws other.
ADQL.tokens = (text) => {
  const found = [];
  for (const m of text.matchAll(ADQL.TOKEN)) {
    let kind = "other";
    if (m[1]) kind = "com"; else if (m[2]) kind = "str"; else if (m[3]) kind = "id";
    else if (m[4]) kind = "num"; else if (m[6]) kind = "op"; else if (m[7]) kind = "ws";
    else if (m[5]) {
      const upper = m[5].toUpperCase();
      kind = ADQL.KEYWORDS.has(upper) ? "kw" : ADQL.FUNCTIONS.has(upper) ? "fn" : "id";
    }
    found.push({ text: m[0], kind });
  }
  return found;
};

// Fill the overlay for ``text``; ``mark`` = [start, end) characters to flag as the error position.
ADQL.paint = (pre, text, mark) => {
  const nodes = [];
  let offset = 0;
  for (const token of ADQL.tokens(text)) {
    const start = offset;
    offset += token.text.length;
    const classes = [];
    if (token.kind !== "ws" && token.kind !== "id" && token.kind !== "other") classes.push("tk-" + token.kind);
    if (mark && start < mark[1] && offset > mark[0] && token.kind !== "ws") classes.push("tk-err");
    nodes.push(classes.length ? QS.el("span", { class: classes.join(" ") }, token.text) : document.createTextNode(token.text));
  }
  nodes.push(document.createTextNode("\n"));  // keeps a last empty line as tall as the textarea's
  pre.replaceChildren(...nodes);
};

// [start, end) of the position an error message names (sqlglot's "Line 1, Col: 15", or
// "line 2 column 4"), as character offsets in ``text``; null when it names none.
ADQL.errorSpan = (text, message) => {
  const m = /line[:\s]*(\d+)[,\s]+col(?:umn)?[:\s]*(\d+)/i.exec(message || "");
  if (!m) return ADQL.namedSpan(text, message);
  const lines = text.split("\n");
  const line = Math.min(Math.max(Number(m[1]), 1), lines.length);
  let start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0);
  start += Math.max(Number(m[2]) - 1, 0);
  start = Math.min(start, text.length);
  const word = /^[A-Za-z0-9_.']*/.exec(text.slice(start))[0];
  const wordStart = /[A-Za-z0-9_.']*$/.exec(text.slice(0, start))[0].length;
  return [start - wordStart, start + Math.max(word.length, 1)];
};

// [start, end) of the first whole-word use of the name an "unknown column/table NAME" error names.
ADQL.namedSpan = (text, message) => {
  const m = /unknown (?:column|table|function)s? '?"?([A-Za-z_][\w.]*)/i.exec(message || "");
  if (!m) return null;
  const escaped = m[1].replace(/[.]/g, "\\.");
  const found = new RegExp(`(^|[^\\w.])(${escaped})(?![\\w])`, "i").exec(text);
  return found ? [found.index + found[1].length, found.index + found[1].length + m[1].length] : null;
};

ADQL.attach = (textarea, pre) => {
  const state = { mark: null };
  const repaint = () => { ADQL.paint(pre, textarea.value, state.mark); pre.scrollTop = textarea.scrollTop; };
  textarea.addEventListener("input", () => { state.mark = null; repaint(); });
  textarea.addEventListener("scroll", () => { pre.scrollTop = textarea.scrollTop; pre.scrollLeft = textarea.scrollLeft; });
  repaint();
  return {
    repaint,
    mark(span) { state.mark = span; repaint(); },
    insert(text) {
      const start = textarea.selectionStart, end = textarea.selectionEnd;
      textarea.setRangeText(text, start, end, "end");
      textarea.focus();
      state.mark = null;
      repaint();
    },
    set(text) { textarea.value = text; state.mark = null; repaint(); },
  };
};
