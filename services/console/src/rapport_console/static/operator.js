// Operator dashboard: /ops/summary every 2 s (the console scrapes the services' /metrics and /readyz and
// keeps only whitelisted, client-free numbers). Bars and the history line are hand-written SVG.
"use strict";
(async () => {
  const { el, api } = Rapport;
  await Rapport.requireSignIn(["operator"]);
  const NS = "http://www.w3.org/2000/svg";
  const EVERY_MS = 2000;
  const history = [];  // [time, published events/s]
  let paused = false;

  function s(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  }
  const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));

  function table(caption, headers, rows, numeric) {
    if (!rows.length) return el("p", { class: "muted" }, "None.");
    return el("table", {}, el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: numeric.includes(i) ? "num" : null }, c))))));
  }

  function bars(items, label) {
    const W = 560, row = 22, L = 190, H = Math.max(1, items.length) * row + 8;
    const max = Math.max(1, ...items.map((i) => i.value));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label });
    items.forEach((item, k) => {
      const y = 4 + k * row;
      svg.append(s("text", { x: L - 6, y: y + 14, "text-anchor": "end", "font-size": 12 }, item.name));
      svg.append(s("rect", { x: L, y: y + 3, width: Math.max(1, ((W - L - 70) * item.value) / max), height: row - 8, fill: "#0b5cab" }));
      svg.append(s("text", { x: L + 4 + ((W - L - 70) * item.value) / max, y: y + 14, "font-size": 12 }, fmt(item.value)));
    });
    return svg;
  }

  function line(points) {
    const W = 560, H = 160, L = 40, B = 20;
    const max = Math.max(1, ...points.map((p) => p[1]));
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Published events per second over the last ${points.length} refreshes; latest ${fmt(points.length ? points[points.length - 1][1] : 0)}` });
    svg.append(s("line", { x1: L, x2: W, y1: H - B, y2: H - B, stroke: "#9aa3ad" }));
    svg.append(s("text", { x: L - 4, y: 12, "text-anchor": "end", "font-size": 11 }, fmt(max, 0)));
    svg.append(s("text", { x: L - 4, y: H - B, "text-anchor": "end", "font-size": 11 }, "0"));
    if (points.length > 1) {
      const t0 = points[0][0], t1 = points[points.length - 1][0];
      const d = points.map((p, i) => `${i ? "L" : "M"}${(L + ((p[0] - t0) / Math.max(1, t1 - t0)) * (W - L - 4)).toFixed(1)},${(H - B - (p[1] / max) * (H - B - 8)).toFixed(1)}`).join(" ");
      svg.append(s("path", { d, fill: "none", stroke: "#0b5cab", "stroke-width": 2 }));
    }
    return svg;
  }

  function show(sum) {
    document.getElementById("window").textContent = sum.window_s === null ? "—" : sum.window_s;
    document.getElementById("updated").textContent = `Updated ${new Date(sum.scraped_at * 1000).toLocaleTimeString()}.`;
    document.getElementById("health").replaceChildren(...sum.services.map((svc) => el("div", { class: `tile ${svc.status}`, "data-service": svc.service },
      el("div", {}, el("strong", {}, svc.service)), el("div", { class: "big" }, svc.status === "ready" ? "Ready" : svc.status === "not-ready" ? "Not ready" : "Down"),
      el("div", { class: "muted" }, svc.metrics ? "metrics scraped" : "no metrics"))));
    const tp = sum.topics.filter((t) => !t.topic.endsWith(".dlq"));
    document.getElementById("throughput-chart").replaceChildren(bars(tp.map((t) => ({ name: t.topic, value: t.published_per_s || 0 })), "Published events per second per topic"));
    document.getElementById("throughput").replaceChildren(table("Throughput per topic", ["Topic", "Published/s", "Consumed/s (all groups)", "Published total", "Consumed total (all groups)"],
      tp.map((t) => [t.topic, fmt(t.published_per_s, 2), fmt(t.consumed_per_s, 2), t.published_total, t.consumed_total]), [1, 2, 3, 4]));
    const total = tp.reduce((acc, t) => acc + (t.published_per_s || 0), 0);
    if (sum.window_s !== null) { history.push([sum.scraped_at, total]); if (history.length > 150) history.shift(); }
    document.getElementById("history").replaceChildren(line(history), el("p", { class: "muted", id: "total-rate" }, `Now: ${fmt(total, 2)} events/s across topics.`));
    document.getElementById("lag").replaceChildren(table("Consumer lag per group", ["Service", "Group", "Lag"], sum.consumer_lag.map((g) => [g.service, g.group, g.lag]), [2]));
    document.getElementById("alert-rates").replaceChildren(
      table("Alerts raised by rule and severity", ["Rule", "Severity", "Per minute", "Raised total"], sum.alerts.map((a) => [a.rule, a.severity, fmt(a.per_min, 2), a.raised_total]), [2, 3]),
      el("p", { class: "muted" }, `Events held waiting for consent: ${sum.consent_holds}`));
    document.getElementById("dlq").replaceChildren(table("Dead-lettered records", ["Topic", "Reason", "Count"], sum.dead_letters.map((d) => [d.topic, d.reason, d.count]), [2]));
    document.getElementById("outbox").replaceChildren(table("Outbox backlog", ["Service", "Pending rows"], sum.outbox_pending.map((o) => [o.service, o.pending]), [1]));
  }

  async function tick() {
    if (!paused) {
      try { show(await api("/ops/summary")); } catch (err) { document.getElementById("updated").textContent = `Refresh failed: ${err.detail || err.message}`; }
    }
    setTimeout(tick, EVERY_MS);
  }
  document.getElementById("pause").addEventListener("click", (e) => {
    paused = !paused;
    e.target.setAttribute("aria-pressed", String(paused));
    e.target.textContent = paused ? "Resume refresh" : "Pause refresh";
  });
  tick();
})();
