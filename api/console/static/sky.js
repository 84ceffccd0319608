"use strict";
// The sky view: result positions, the searched region and the chunk grid on an all-sky Mollweide
// canvas and a zoomable gnomonic canvas. Everything is drawn here; nothing is fetched but the grid.
const SKY = { points: [], regions: [], grid: [], view: { ra: 0, dec: 0, fov: 180 } };
const RAD = Math.PI / 180;

// Mollweide of (ra, dec) in degrees -> [x, y] in [-2, 2] x [-1, 1], RA 180 at the centre, increasing left.
SKY.mollweide = (ra, dec) => {
  const lon = (((ra - 180) % 360 + 540) % 360 - 180) * RAD;  // -180..180, 0 at RA 180
  const phi = dec * RAD;
  let theta = phi;
  if (Math.abs(Math.abs(phi) - Math.PI / 2) < 1e-9) theta = phi;
  else for (let i = 0; i < 30; i++) {
    const step = (2 * theta + Math.sin(2 * theta) - Math.PI * Math.sin(phi)) / (2 + 2 * Math.cos(2 * theta));
    theta -= step;
    if (Math.abs(step) < 1e-10) break;
  }
  return [-(2 / Math.PI) * lon * Math.cos(theta), Math.sin(theta)];
};

// Gnomonic of (ra, dec) around (ra0, dec0) -> [x, y] in degrees-ish tangent units, or null behind.
SKY.gnomonic = (ra, dec, ra0, dec0) => {
  const a = ra * RAD, d = dec * RAD, a0 = ra0 * RAD, d0 = dec0 * RAD;
  const cosc = Math.sin(d0) * Math.sin(d) + Math.cos(d0) * Math.cos(d) * Math.cos(a - a0);
  if (cosc <= 0.05) return null;
  const x = Math.cos(d) * Math.sin(a - a0) / cosc;
  const y = (Math.cos(d0) * Math.sin(d) - Math.sin(d0) * Math.cos(d) * Math.cos(a - a0)) / cosc;
  return [-x / RAD, y / RAD];  // RA increases to the left
};

// The point at ``radius`` degrees from (ra, dec) towards position angle ``pa`` (degrees).
SKY.offset = (ra, dec, radius, pa) => {
  const d = dec * RAD, r = radius * RAD, p = pa * RAD;
  const dec2 = Math.asin(Math.sin(d) * Math.cos(r) + Math.cos(d) * Math.sin(r) * Math.cos(p));
  const ra2 = ra * RAD + Math.atan2(Math.sin(p) * Math.sin(r) * Math.cos(d), Math.cos(r) - Math.sin(d) * Math.sin(dec2));
  return [((ra2 / RAD) % 360 + 360) % 360, dec2 / RAD];
};

// Closed polylines of the regions a query's text names with literal numbers (CIRCLE, BOX, POLYGON).
SKY.regionsOf = (text) => {
  const num = "\\s*(-?[\\d.]+(?:[eE][-+]?\\d+)?)\\s*";
  const found = [];
  for (const m of text.matchAll(new RegExp(`CIRCLE\\s*\\(\\s*(?:'[^']*'\\s*,)?${num},${num},${num}\\)`, "gi"))) {
    const [ra, dec, r] = m.slice(1, 4).map(Number);
    found.push(Array.from({ length: 73 }, (_, i) => SKY.offset(ra, dec, r, i * 5)));
  }
  for (const m of text.matchAll(new RegExp(`BOX\\s*\\(\\s*(?:'[^']*'\\s*,)?${num},${num},${num},${num}\\)`, "gi"))) {
    const [ra, dec, w, h] = m.slice(1, 5).map(Number);
    const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]];
    found.push(corners.map(([sx, sy]) => [ra + sx * w / 2 / Math.max(Math.cos(dec * RAD), 1e-6), dec + sy * h / 2]));
  }
  for (const m of text.matchAll(/POLYGON\s*\(\s*(?:'[^']*'\s*,)?([-\d.eE+,\s]+)\)/gi)) {
    const values = m[1].split(",").map(Number);
    if (values.length >= 6 && values.every(Number.isFinite)) {
      const ring = [];
      for (let i = 0; i + 1 < values.length; i += 2) ring.push([values[i], values[i + 1]]);
      ring.push(ring[0]);
      found.push(ring);
    }
  }
  return found;
};

// The RA / Dec columns of a result: by UCD, else by usual names.
SKY.positionColumns = (fields) => {
  const byUcd = (word) => fields.findIndex((f) => f.ucd.toLowerCase().split(";").includes(word));
  const byName = (names) => fields.findIndex((f) => names.includes(f.name.toLowerCase()));
  let ra = byUcd("pos.eq.ra"), dec = byUcd("pos.eq.dec");
  if (ra < 0) ra = byName(["ra", "ra_deg", "raj2000", "coord_ra"]);
  if (dec < 0) dec = byName(["dec", "decl", "dec_deg", "dej2000", "coord_dec"]);
  return ra >= 0 && dec >= 0 ? [ra, dec] : null;
};

SKY.setResult = (result, queryText) => {
  const columns = result ? SKY.positionColumns(result.fields) : null;
  SKY.points = columns ? result.rows.map((r) => [r[columns[0]], r[columns[1]]])
    .filter(([ra, dec]) => Number.isFinite(ra) && Number.isFinite(dec)) : [];
  SKY.regions = SKY.regionsOf(queryText || "");
  SKY.fit();
};

// Centre the zoomed view on the points (or the region) with a field of view that holds them.
SKY.fit = () => {
  const shown = SKY.points.length ? SKY.points : SKY.regions.flat();
  if (!shown.length) { SKY.view = { ra: 0, dec: 0, fov: 120 }; return SKY.draw(); }
  let x = 0, y = 0, z = 0;
  for (const [ra, dec] of shown) {
    x += Math.cos(dec * RAD) * Math.cos(ra * RAD); y += Math.cos(dec * RAD) * Math.sin(ra * RAD); z += Math.sin(dec * RAD);
  }
  const norm = Math.hypot(x, y, z) || 1;
  const ra0 = ((Math.atan2(y, x) / RAD) + 360) % 360, dec0 = Math.asin(z / norm) / RAD;
  let far = 0;
  for (const [ra, dec] of shown) {
    const p = SKY.gnomonic(ra, dec, ra0, dec0);
    far = p ? Math.max(far, Math.abs(p[0]), Math.abs(p[1])) : 90;
  }
  SKY.view = { ra: ra0, dec: dec0, fov: Math.min(Math.max(far * 2.4, 0.01), 120) };
  SKY.draw();
};

SKY.line = (ctx, points, project) => {
  let previous = null;
  ctx.beginPath();
  for (const [ra, dec] of points) {
    const p = project(ra, dec);
    if (p && previous && Math.abs(p[0] - previous[0]) < ctx.canvas.width / 3) ctx.lineTo(p[0], p[1]);
    else if (p) ctx.moveTo(p[0], p[1]);
    previous = p;
  }
  ctx.stroke();
};

SKY.paint = (ctx, project, graticule) => {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(150,170,200,0.25)";
  graticule();
  ctx.strokeStyle = "rgba(120,200,255,0.55)";
  for (const chunk of SKY.grid) SKY.line(ctx, chunk.boundary, project);
  ctx.fillStyle = "#ffd34d";
  const size = SKY.points.length > 20000 ? 1 : 2;
  for (const [ra, dec] of SKY.points) {
    const p = project(ra, dec);
    if (p) ctx.fillRect(p[0] - size / 2, p[1] - size / 2, size, size);
  }
  ctx.strokeStyle = "#ff5a5f";
  ctx.lineWidth = 2;
  for (const region of SKY.regions) SKY.line(ctx, region, project);
};

SKY.draw = () => {
  const all = document.getElementById("allsky"), zoom = document.getElementById("zoom");
  if (!all || !zoom) return;
  const actx = all.getContext("2d");
  const sx = all.width / 4.2, sy = all.height / 2.2;
  const moll = (ra, dec) => { const [x, y] = SKY.mollweide(ra, dec); return [all.width / 2 + x * sx, all.height / 2 - y * sy]; };
  SKY.paint(actx, moll, () => {
    for (let dec = -60; dec <= 60; dec += 30) SKY.line(actx, Array.from({ length: 73 }, (_, i) => [180.001 + i * 5 * 0.99999, dec]), moll);
    for (let ra = 0; ra < 360; ra += 30) SKY.line(actx, Array.from({ length: 37 }, (_, i) => [ra + 0.001, -90 + i * 5]), moll);
    actx.beginPath(); actx.ellipse(all.width / 2, all.height / 2, 2 * sx, sy, 0, 0, 2 * Math.PI); actx.stroke();
  });
  const v = SKY.view;
  const outline = Array.from({ length: 37 }, (_, i) => SKY.offset(v.ra, v.dec, v.fov / 2, i * 10));
  actx.strokeStyle = "#9fffa0"; actx.lineWidth = 1; SKY.line(actx, outline, moll);

  const zctx = zoom.getContext("2d");
  const scale = zoom.width / v.fov;
  const gno = (ra, dec) => {
    const p = SKY.gnomonic(ra, dec, v.ra, v.dec);
    return p && [zoom.width / 2 + p[0] * scale, zoom.height / 2 - p[1] * scale];
  };
  SKY.paint(zctx, gno, () => {
    const step = SKY.niceStep(v.fov / 4);
    const decs = [], ras = [];
    for (let d = -90; d <= 90; d += step) decs.push(d);
    const raStep = Math.min(step / Math.max(Math.cos(v.dec * RAD), 0.05), 90);
    for (let r = 0; r < 360; r += raStep) ras.push(r);
    if (decs.length * ras.length > 4000) return;
    for (const d of decs) SKY.line(zctx, ras.concat([360]).map((r) => [r, d]), gno);
    for (const r of ras) SKY.line(zctx, Array.from({ length: 61 }, (_, i) => [r, -90 + i * 3]), gno);
  });
  document.getElementById("zoom-caption").textContent =
    `Zoomed view (gnomonic) at RA ${v.ra.toFixed(3)}°, Dec ${v.dec.toFixed(3)}°, field ${v.fov.toPrecision(3)}°; ` +
    `${SKY.points.length} positions, ${SKY.grid.length} chunks drawn`;
};

SKY.niceStep = (target) => {
  const steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30];
  return steps.find((s) => s >= target) || 30;
};

SKY.zoomBy = (factor) => { SKY.view.fov = Math.min(Math.max(SKY.view.fov * factor, 0.001), 150); SKY.draw(); };
SKY.pan = (dx, dy) => {
  const v = SKY.view;
  v.dec = Math.max(Math.min(v.dec + dy * v.fov / 10, 90), -90);
  v.ra = ((v.ra - dx * v.fov / 10 / Math.max(Math.cos(v.dec * RAD), 0.05)) % 360 + 360) % 360;
  SKY.draw();
};

SKY.loadGrid = async (table) => {
  const status = document.getElementById("sky-status");
  SKY.grid = [];
  if (table) {
    const grid = await QS.json("/console/api/chunk_grid?table=" + encodeURIComponent(table));
    SKY.grid = grid.chunks;
    status.textContent = `chunk order ${grid.chunk_order}: ${grid.chunks.length} of ${grid.chunks_total} populated chunks drawn`;
  } else status.textContent = "";
  SKY.draw();
};

// Mollweide inverse for clicks: [x, y] in projection units -> [ra, dec] or null outside.
SKY.inverse = (x, y) => {
  if (x * x / 4 + y * y > 1) return null;
  const theta = Math.asin(y);
  const dec = Math.asin((2 * theta + Math.sin(2 * theta)) / Math.PI) / RAD;
  const lon = -Math.PI * x / (2 * Math.cos(theta) || 1e-9) / RAD;
  return [((lon + 180) % 360 + 360) % 360, dec];
};

SKY.init = () => {
  const all = document.getElementById("allsky"), zoom = document.getElementById("zoom");
  all.addEventListener("click", (event) => {
    const box = all.getBoundingClientRect();
    const x = ((event.clientX - box.left) * all.width / box.width - all.width / 2) / (all.width / 4.2);
    const y = -((event.clientY - box.top) * all.height / box.height - all.height / 2) / (all.height / 2.2);
    const found = SKY.inverse(x, y);
    if (found) { SKY.view.ra = found[0]; SKY.view.dec = found[1]; SKY.draw(); }
  });
  zoom.addEventListener("wheel", (event) => { event.preventDefault(); SKY.zoomBy(event.deltaY > 0 ? 1.25 : 0.8); });
  const keys = (event) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
    if (moves[event.key]) { event.preventDefault(); SKY.pan(...moves[event.key]); }
    else if (event.key === "+" || event.key === "=") SKY.zoomBy(0.8);
    else if (event.key === "-") SKY.zoomBy(1.25);
  };
  zoom.addEventListener("keydown", keys);
  all.addEventListener("keydown", keys);
  document.getElementById("zoom-in").addEventListener("click", () => SKY.zoomBy(0.8));
  document.getElementById("zoom-out").addEventListener("click", () => SKY.zoomBy(1.25));
  document.getElementById("zoom-reset").addEventListener("click", SKY.fit);
  document.getElementById("grid-table").addEventListener("change", (event) =>
    SKY.loadGrid(event.target.value).catch((error) => { document.getElementById("sky-status").textContent = error.message; }));
  SKY.draw();
};
