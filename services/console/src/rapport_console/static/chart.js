// SRS and ORS over sessions as a hand-written SVG: the SRS cutoff, the ORS cutoff of the client's age band
// and the reliable-change band around the intake baseline, each as the trend API gives it (the monitor's
// configured thresholds, never a number of this file). A data table follows for screen readers.
"use strict";
const TrendChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, H = 300, L = 48, R = 150, T = 16, B = 40;

  function s(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function xOf(point, i) { return point.session_number ?? i + 1; }

  function render(trend) {
    const srs = trend.srs.points, ors = trend.ors.points;
    const xs = [...srs.map(xOf), ...ors.map(xOf)];
    const maxX = Math.max(4, ...xs);
    const x = (v) => L + ((v - 1) / Math.max(1, maxX - 1)) * (W - L - R);
    const y = (v) => T + (1 - v / 40) * (H - T - B);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": "chart-title chart-desc", id: "trend-chart" });
    svg.append(s("title", { id: "chart-title" }, `SRS and ORS over sessions for ${trend.client_id}`));
    const desc = [`${srs.length} SRS and ${ors.length} ORS ratings.`, `SRS cutoff ${trend.srs.cutoff}.`];
    if (trend.ors.cutoff !== null) desc.push(`ORS cutoff ${trend.ors.cutoff} (${trend.ors.age_band}).`);
    if (trend.ors.reliable_change_band) desc.push(`Reliable-change band ${trend.ors.reliable_change_band.low} to ${trend.ors.reliable_change_band.high}.`);
    svg.append(s("desc", { id: "chart-desc" }, desc.join(" ")));

    const band = trend.ors.reliable_change_band;
    if (band) {
      const lo = Math.max(0, band.low), hi = Math.min(40, band.high);
      svg.append(s("rect", { x: L, y: y(hi), width: W - L - R, height: y(lo) - y(hi), fill: "#f3e3c8", "data-role": "band" }));
      svg.append(s("text", { x: W - R + 6, y: y(lo) - 4, "font-size": 11, fill: "#5c3a00" }, `ORS baseline ${trend.ors.baseline} ±${trend.ors.reliable_change}`));
    }
    for (let v = 0; v <= 40; v += 10) {
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#d5dae0" }));
      svg.append(s("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end", "font-size": 12, fill: "#4a5360" }, v));
    }
    for (let v = 1; v <= maxX; v += Math.ceil(maxX / 12)) {
      svg.append(s("text", { x: x(v), y: H - B + 18, "text-anchor": "middle", "font-size": 12, fill: "#4a5360" }, v));
    }
    svg.append(s("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", "font-size": 12, fill: "#4a5360" }, "Session number"));

    const cut = (value, colour, dash, label, role) => {
      svg.append(s("line", { x1: L, x2: W - R, y1: y(value), y2: y(value), stroke: colour, "stroke-width": 2, "stroke-dasharray": dash, "data-role": role }));
      svg.append(s("text", { x: W - R + 6, y: y(value) + 4, "font-size": 12, fill: colour }, label));
    };
    cut(trend.srs.cutoff, "#0b5cab", "6 4", `SRS cutoff ${trend.srs.cutoff}`, "srs-cutoff");
    if (trend.ors.cutoff !== null) cut(trend.ors.cutoff, "#8a4b00", "2 3", `ORS cutoff ${trend.ors.cutoff} (${trend.ors.age_band})`, "ors-cutoff");

    const series = (points, colour, dash, marker, name) => {
      if (!points.length) return;
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(xOf(p, i)).toFixed(1)},${y(p.total).toFixed(1)}`).join(" ");
      svg.append(s("path", { d, fill: "none", stroke: colour, "stroke-width": 2.5, "stroke-dasharray": dash, "data-role": `${name}-line` }));
      points.forEach((p, i) => {
        const cx = x(xOf(p, i)), cy = y(p.total);
        const m = marker === "circle" ? s("circle", { cx, cy, r: 4.5, fill: colour }) : s("rect", { x: cx - 4.5, y: cy - 4.5, width: 9, height: 9, fill: colour });
        m.setAttribute("data-role", `${name}-point`);
        m.append(s("title", {}, `${name.toUpperCase()} ${p.total} at session ${xOf(p, i)}`));
        svg.append(m);
      });
    };
    series(srs, "#0b5cab", "", "circle", "srs");
    series(ors, "#8a4b00", "7 3", "square", "ors");
    // legend
    svg.append(s("circle", { cx: W - R + 12, cy: H - 60, r: 4.5, fill: "#0b5cab" }));
    svg.append(s("text", { x: W - R + 22, y: H - 56, "font-size": 12 }, "SRS (alliance)"));
    svg.append(s("rect", { x: W - R + 7.5, y: H - 44.5, width: 9, height: 9, fill: "#8a4b00" }));
    svg.append(s("text", { x: W - R + 22, y: H - 36, "font-size": 12 }, "ORS (outcome)"));
    return svg;
  }

  function table(trend) {
    const { el } = Rapport;
    const rows = [
      ...trend.srs.points.map((p, i) => ["SRS", xOf(p, i), p.total, p.at]),
      ...trend.ors.points.map((p, i) => ["ORS", xOf(p, i), p.total, p.at]),
    ].sort((a, b) => a[1] - b[1]);
    return el("details", {}, el("summary", {}, "The chart's numbers as a table"),
      el("table", {}, el("thead", {}, el("tr", {}, ["Scale", "Session", "Total", "When"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows.map((r) => el("tr", {}, el("td", {}, r[0]), el("td", { class: "num" }, r[1]), el("td", { class: "num" }, r[2]), el("td", {}, Rapport.when(r[3])))))));
  }

  return { render, table };
})();
