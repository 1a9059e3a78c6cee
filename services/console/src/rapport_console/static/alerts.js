// Alert cards: the monitor's own reflective summary, when it happened in words ("two minutes ago"), what the
// rule looks at in plain language, the evidence behind it, and acknowledge / resolve with a note.
// What a rule looks at comes from rules.js (generated from the monitor's rule declarations, loaded first),
// so no threshold is written here.
"use strict";
const AlertCards = (() => {
  const { el, api, ago, when } = Rapport;

  const SEVERITY = { high: "High priority", medium: "Medium", low: "Low", info: "For information" };

  function evidence(alert) {
    const n = alert.evidence.length;
    return el("details", { class: "meta" },
      el("summary", {}, `Based on ${n === 1 ? "one recorded event" : `${n} recorded events`}`),
      el("p", {}, RuleTexts[alert.rule] || `Rule ${alert.rule}.`),
      el("ul", {}, alert.evidence.map((id) => el("li", { class: "mono" }, id))));
  }

  function card(alert, { onChange, fresh = false } = {}) {
    const sev = alert.severity;
    const li = el("li", { class: `alert sev-${sev}${fresh ? " fresh" : ""}`, "data-alert-id": alert.alert_id, "data-rule": alert.rule, "data-severity": sev, "data-status": alert.status });
    const client = el("a", { href: `/clinician/clients/${encodeURIComponent(alert.client_id)}` }, alert.client_id);
    li.append(
      el("div", {}, el("span", { class: "pill sev" }, SEVERITY[sev] || sev), el("span", { class: "meta" }, "Client ", client, ` · raised ${ago(alert.raised_at)} (${when(alert.raised_at)})`)),
      el("p", { class: "prompt" }, alert.summary),
    );
    if (alert.status !== "open") {
      const who = alert.status === "acknowledged" ? `Acknowledged by ${alert.acknowledged_by} ${ago(alert.acknowledged_at)}` : `Resolved by ${alert.resolved_by}: ${alert.resolution || ""}`;
      li.append(el("p", { class: "meta", "data-role": "state" }, who));
    }
    li.append(evidence(alert));
    if (alert.status !== "resolved") li.append(actions(alert, onChange));
    return li;
  }

  function actions(alert, onChange) {
    const noteId = `note-${alert.alert_id}`;
    const msg = el("span", { role: "status", class: "meta" });
    const note = el("textarea", { id: noteId, rows: 1, maxlength: 2000 });
    async function act(action) {
      const text = note.value.trim();
      if (action === "resolve" && !text) { msg.textContent = "A note is needed to resolve."; note.focus(); return; }
      try {
        const updated = await api(`/api/alliance/alerts/${encodeURIComponent(alert.alert_id)}/${action}`, { method: "POST", body: text ? { note: text } : {} });
        onChange && onChange(updated);
      } catch (err) {
        msg.textContent = `Not done: ${err.detail || err.message}`;
      }
    }
    const form = el("form", { onsubmit: (e) => { e.preventDefault(); act("resolve"); } },
      el("div", {}, el("label", { for: noteId }, "Note (needed to resolve)"), note));
    if (alert.status === "open") form.append(el("button", { type: "button", class: "secondary", onclick: () => act("acknowledge") }, "Acknowledge"));
    form.append(el("button", { type: "submit" }, "Resolve"), msg);
    return form;
  }

  return { card, SEVERITY };
})();
