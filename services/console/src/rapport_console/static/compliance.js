// Compliance audit: ledger search (paginated by after_seq), chain verification, point-in-time consent state,
// CSV and FHIR exports. Every call goes to the consent service, which ledgers compliance reads itself.
"use strict";
(async () => {
  const { el, api, download } = Rapport;
  await Rapport.requireSignIn(["compliance"]);

  const form = document.getElementById("search-form");
  const tbody = document.querySelector("#ledger-table tbody");
  const status = document.getElementById("search-status");
  const prev = document.getElementById("prev-page");
  const next = document.getElementById("next-page");
  let cursors = [0];      // after_seq of each page shown so far
  let nextCursor = null;

  /** datetime-local value (local time) -> RFC 3339 in UTC, as the consent service requires an offset. */
  function isoOf(local) { return local ? new Date(local).toISOString() : null; }

  function filters() {
    const q = new URLSearchParams();
    for (const name of ["client_id", "scope", "actor_id", "action"]) {
      const v = form.elements[name].value.trim();
      if (v) q.set(name, v);
    }
    for (const name of ["since", "until"]) {
      const v = isoOf(form.elements[name].value);
      if (v) q.set(name, v);
    }
    return q;
  }

  async function search(afterSeq) {
    const q = filters();
    q.set("limit", form.elements.limit.value);
    if (afterSeq) q.set("after_seq", String(afterSeq));
    status.className = "status note";
    status.textContent = "Searching…";
    try {
      const page = await api(`/api/consent/compliance/ledger?${q}`);
      tbody.replaceChildren(...page.entries.map((e) => el("tr", { "data-seq": e.seq },
        el("td", { class: "num" }, e.seq), el("td", { class: "mono" }, e.at), el("td", {}, e.action),
        el("td", { class: "mono" }, e.client_id || ""), el("td", {}, e.scope || ""),
        el("td", { class: "mono" }, `${e.actor_id} (${e.actor_role})`), el("td", {}, e.channel || ""),
        el("td", {}, e.reason || ""), el("td", { class: "mono", title: e.hash }, (e.hash || "").slice(0, 12) + "…"))));
      nextCursor = page.next_after_seq;
      next.disabled = nextCursor === null;
      prev.disabled = cursors.length <= 1;
      status.className = "status note";
      status.textContent = page.entries.length
        ? `Page ${cursors.length}: ${page.entries.length} entries (seq ${page.entries[0].seq}–${page.entries[page.entries.length - 1].seq})${nextCursor === null ? ", last page" : ""}.`
        : "No ledger entries match these filters.";
    } catch (err) {
      status.className = "status bad";
      status.textContent = `Search refused: ${err.detail || err.message}`;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); cursors = [0]; search(0); });
  next.addEventListener("click", () => { if (nextCursor !== null) { cursors.push(nextCursor); search(nextCursor); } });
  prev.addEventListener("click", () => { if (cursors.length > 1) { cursors.pop(); search(cursors[cursors.length - 1]); } });

  document.getElementById("verify").addEventListener("click", async () => {
    const out = document.getElementById("verify-result");
    out.className = "status note";
    out.textContent = "Verifying…";
    try {
      const r = await api("/api/consent/compliance/ledger/verify");
      if (r.ok) {
        out.className = "status ok";
        out.textContent = `Chain intact: ${r.checked} entries checked; head is entry ${r.head.seq} (hash ${String(r.head.hash).slice(0, 16)}…).`;
      } else {
        const b = r.first_broken;
        out.className = "status bad";
        out.textContent = `Chain BROKEN at entry ${b.seq} (${b.entry_id}): ${b.reason}. ${r.checked} entries were checked before it.`;
      }
      out.dataset.ok = String(r.ok);
    } catch (err) {
      out.className = "status bad";
      out.textContent = `Verification could not run: ${err.detail || err.message}`;
    }
  });

  async function exportFile(path, name) {
    status.className = "status note";
    status.textContent = `Preparing ${name}…`;
    try {
      const bytes = await download(`${path}?${filters()}`, name);
      status.textContent = `Downloaded ${name} (${bytes} bytes).`;
    } catch (err) {
      status.className = "status bad";
      status.textContent = `Export refused: ${err.detail || err.message}`;
    }
  }
  document.getElementById("download-csv").addEventListener("click", () => exportFile("/api/consent/compliance/ledger/export.csv", "consent-ledger.csv"));
  document.getElementById("download-fhir").addEventListener("click", () => exportFile("/api/consent/compliance/export/fhir", "consent-fhir-bundle.json"));

  document.getElementById("pit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("pit-result");
    const client = document.getElementById("pit-client").value.trim();
    const at = isoOf(document.getElementById("pit-at").value);
    const q = at ? `?at=${encodeURIComponent(at)}` : "";
    try {
      const r = await api(`/api/consent/clients/${encodeURIComponent(client)}/consents${q}`);
      out.className = "";
      out.replaceChildren(
        el("p", {}, `At ${r.at}, active scopes for `, el("code", {}, r.client_id), ": ",
          el("strong", { id: "pit-active" }, r.active_scopes.length ? r.active_scopes.join(", ") : "none")),
        el("table", {},
          el("caption", { class: "sr-only" }, "Consents of the client and their state at that time"),
          el("thead", {}, el("tr", {}, ["Scope", "State then", "Valid from", "Valid until", "Revoked from", "Consenter", "Document"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, r.consents.map((c) => el("tr", {},
            el("td", {}, c.scope), el("td", {}, el("strong", {}, c.state)), el("td", { class: "mono" }, c.valid_from),
            el("td", { class: "mono" }, c.valid_until || "—"),
            el("td", { class: "mono" }, c.revocation ? c.revocation.effective_at : "—"),
            el("td", { class: "mono" }, `${c.consenter.actor_id} (${c.consenter.role})`),
            el("td", {}, c.document_version))))),
      );
    } catch (err) {
      out.className = "status bad";
      out.textContent = `Could not read consents: ${err.detail || err.message}`;
    }
  });

  search(0);
})();
