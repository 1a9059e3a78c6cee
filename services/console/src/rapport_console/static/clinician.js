// Clinician console: caseload, open alerts (live over SSE, read with fetch() so the token stays in a
// header), and one client's SRS/ORS trend with its alerts. The services decide what the user may see:
// another clinician's client answers 403 and the page says so.
"use strict";
(async () => {
  const { el, api } = Rapport;
  const me = await Rapport.requireSignIn(["clinician", "supervisor"]);
  const alerts = new Map();  // alert_id -> alert (open or acknowledged)
  const list = document.getElementById("alerts");
  const announcer = document.getElementById("announcer");
  const clientMatch = location.pathname.match(/^\/clinician\/clients\/([^/]+)$/);
  const focusClient = clientMatch ? decodeURIComponent(clientMatch[1]) : null;
  const fresh = new Set();

  function render() {
    const shown = [...alerts.values()]
      .filter((a) => a.status !== "resolved" && (!focusClient || a.client_id === focusClient))
      .sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
    list.replaceChildren(...shown.map((a) => AlertCards.card(a, { onChange: upsert, fresh: fresh.has(a.alert_id) })));
    fresh.clear();
    document.getElementById("alerts-empty").hidden = shown.length > 0;
  }

  function upsert(alert) {
    alerts.set(alert.alert_id, alert);
    render();
  }

  async function loadAlerts() {
    const q = focusClient ? `&client_id=${encodeURIComponent(focusClient)}` : "";
    const [open, acked] = await Promise.all([
      api(`/api/alliance/alerts?status=open&limit=200${q}`),
      api(`/api/alliance/alerts?status=acknowledged&limit=200${q}`),
    ]);
    for (const a of [...open.alerts, ...acked.alerts]) {
      const known = alerts.get(a.alert_id);  // the stream may already have delivered something newer
      if (!known || Date.parse(known.updated_at) <= Date.parse(a.updated_at)) alerts.set(a.alert_id, a);
    }
    render();
  }

  function live() {
    const dot = document.getElementById("live-dot");
    const state = document.getElementById("live-state");
    Rapport.stream("/api/alliance/alerts/stream", {
      onStatus(s, code) {
        dot.classList.toggle("on", s === "live");
        state.textContent = s === "live" ? "(live)" : s === "error" ? `(stream refused: ${code})` : "(reconnecting…)";
        document.body.dataset.stream = s;
      },
      onEvent(type, data) {
        if (!data || !data.alert) return;
        const a = data.alert;
        if (type === "alert-raised" && a.status !== "resolved" && (!focusClient || a.client_id === focusClient)) {
          fresh.add(a.alert_id);
          announcer.textContent = `New ${AlertCards.SEVERITY[a.severity] || a.severity} alert: ${a.summary}`;
        }
        upsert(a);
      },
    });
  }

  async function caseload(clinicianId) {
    const box = document.getElementById("caseload");
    try {
      const c = await api(`/api/intake/clinicians/${encodeURIComponent(clinicianId)}/caseload`);
      if (!c.clients.length) { box.replaceChildren(el("p", { class: "muted" }, "No clients assigned.")); return; }
      box.replaceChildren(el("table", { id: "caseload-table" },
        el("caption", { class: "sr-only" }, `Clients of ${clinicianId}`),
        el("thead", {}, el("tr", {}, ["Client", "Age band", "Intake", "Baseline ORS"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, c.clients.map((row) => el("tr", { "data-client-id": row.client_id },
          el("td", {}, el("a", { href: `/clinician/clients/${encodeURIComponent(row.client_id)}` }, row.client_id)),
          el("td", {}, row.age_band),
          el("td", {}, row.intake_completed ? "complete" : "pending"),
          el("td", { class: "num" }, row.baseline_ors_total === null ? "—" : `${row.baseline_ors_total}${row.below_cutoff ? ` (below ${row.clinical_cutoff})` : ""}`))))));
    } catch (err) {
      box.replaceChildren(el("p", { class: "status bad" }, `Caseload not available: ${err.detail || err.message}`));
    }
  }

  async function clientView(clientId) {
    const section = document.getElementById("client-section");
    const body = document.getElementById("client-body");
    section.hidden = false;
    document.getElementById("client-title").textContent = `Client ${clientId}`;
    document.title = `Client ${clientId} · Rapport`;
    try {
      const trend = await api(`/api/alliance/clients/${encodeURIComponent(clientId)}/trend`);
      const last = (pts) => (pts.length ? pts[pts.length - 1].total : "—");
      body.replaceChildren(
        el("p", { class: "muted" }, `Latest SRS ${last(trend.srs.points)} · latest ORS ${last(trend.ors.points)}`
          + (trend.ors.baseline !== null ? ` · intake baseline ORS ${trend.ors.baseline}` : "")
          + (trend.ors.age_band ? ` · ${trend.ors.age_band}` : "")),
        TrendChart.render(trend),
        TrendChart.table(trend),
        el("p", { class: "muted" }, "The list of alerts above shows only this client while this client is open. ", el("a", { href: "/clinician" }, "Show all my alerts")));
    } catch (err) {
      // the monitor answers an unknown client like someone else's (403), so no one learns which ids exist
      const text = err.status === 403 ? "You cannot open this client: you are not their clinician of record (or the monitor has not learned of the assignment yet)." :
        `The client's trend is not available: ${err.detail || err.message}`;
      body.replaceChildren(el("p", { class: "status bad", role: "alert", id: "client-refused" }, text));
    }
  }

  if (me.role === "supervisor") {
    const picker = document.getElementById("caseload-picker");
    const select = document.getElementById("caseload-of");
    for (let n = 1; n <= 6; n++) select.append(el("option", {}, `clinician-0${n}`));
    picker.hidden = false;
    document.getElementById("caseload-title").textContent = "Caseloads of my team";
    select.addEventListener("change", () => caseload(select.value));
    caseload(select.value);
  } else {
    caseload(me.user_id);
  }
  if (focusClient) clientView(focusClient);
  live();
  await loadAlerts().catch((err) => { announcer.textContent = `Alerts not available: ${err.detail || err.message}`; });
  setInterval(render, 30000);  // keeps "two minutes ago" true
})();
