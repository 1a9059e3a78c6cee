// Shared by every page: the signed-in token (sessionStorage), API calls through the console's own origin,
// a fetch()-based Server-Sent Events reader (EventSource cannot send the Authorization header), and
// small formatting helpers. No framework, no build step.
"use strict";

const Rapport = (() => {
  const KEY = "rapport.token";

  function token() { return sessionStorage.getItem(KEY); }
  function setToken(value) { sessionStorage.setItem(KEY, value); }
  function signOut() { sessionStorage.removeItem(KEY); location.assign("/signin"); }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; this.detail = detail; }
  }

  async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
    const h = { Accept: "application/json", ...headers };
    const t = token();
    if (t) h.Authorization = `Bearer ${t}`;
    if (body !== undefined) h["Content-Type"] = "application/json";
    if (method !== "GET" && !h["Idempotency-Key"] && window.crypto && crypto.randomUUID) h["Idempotency-Key"] = crypto.randomUUID();
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && location.pathname !== "/signin") { signOut(); throw new ApiError(401, "signed out"); }
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try { const j = await res.json(); if (j && j.detail) detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) { /* not JSON */ }
      throw new ApiError(res.status, detail);
    }
    return raw ? res : res.json();
  }

  /** The verified caller, or a redirect to the sign-in page. `roles` limits who the page is for. */
  async function requireSignIn(roles) {
    if (!token()) { location.assign("/signin"); return new Promise(() => {}); }
    const me = await api("/auth/me");
    const who = document.getElementById("who");
    if (who) who.textContent = `Signed in as ${me.user_id} (${me.role})`;
    const out = document.getElementById("signout");
    if (out) out.addEventListener("click", signOut);
    if (roles && !roles.includes(me.role)) {
      const main = document.querySelector("main");
      main.innerHTML = "";
      const p = el("p", { class: "status bad", role: "alert" }, `This page is for ${roles.join(" or ")} users. `);
      if (me.home) p.append(el("a", { href: me.home }, "Go to your page"));
      main.append(p);
      return new Promise(() => {});
    }
    return me;
  }

  /** Reads an SSE stream with fetch() so the bearer token travels in a header; reconnects with Last-Event-ID. */
  function stream(path, { onEvent, onStatus }) {
    let lastId = null;
    let stopped = false;
    let controller = null;
    let retryMs = 2000;

    function dispatch(block) {
      let id = null, event = "message";
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (!line || line.startsWith(":")) continue;
        const idx = line.indexOf(":");
        const field = idx < 0 ? line : line.slice(0, idx);
        let value = idx < 0 ? "" : line.slice(idx + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") id = value;
        else if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
      }
      if (id !== null) lastId = id;
      if (data.length) {
        let parsed = null;
        try { parsed = JSON.parse(data.join("\n")); } catch (_) { return; }
        onEvent(event, parsed, id);
      }
    }

    async function run() {
      while (!stopped) {
        controller = new AbortController();
        try {
          const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token()}` };
          if (lastId !== null) headers["Last-Event-ID"] = lastId;
          const res = await fetch(path, { headers, signal: controller.signal, cache: "no-store" });
          if (res.status === 401) { signOut(); return; }
          if (!res.ok || !res.body) { onStatus("error", res.status); await sleep(retryMs); continue; }
          onStatus("live");
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let cut;
            while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
              dispatch(block);
            }
          }
        } catch (err) {
          if (stopped) return;
        }
        onStatus("reconnecting");
        await sleep(retryMs);
      }
    }
    run();
    return { stop() { stopped = true; if (controller) controller.abort(); } };
  }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  /** Element builder: el("p", {class: "x"}, "text", child...). Text is always set as text, never as HTML. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];
  /** "just now", "two minutes ago", "3 hours ago": times as a person says them. */
  function ago(iso, now = Date.now()) {
    const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    const say = (n, unit) => `${n <= 10 ? WORDS[n] : n} ${unit}${n === 1 ? "" : "s"} ago`;
    if (s < 45) return "just now";
    if (s < 90) return "a minute ago";
    if (s < 3600) return say(Math.round(s / 60), "minute");
    if (s < 86400) return say(Math.round(s / 3600), "hour");
    return say(Math.round(s / 86400), "day");
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

  /** A file from an authorised GET, saved through a temporary link (the token cannot ride on a plain link). */
  async function download(path, filename) {
    const res = await api(path, { raw: true, headers: { Accept: "*/*" } });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return blob.size;
  }

  return { token, setToken, signOut, api, ApiError, requireSignIn, stream, el, ago, when, download, sleep };
})();
