// Sign-in page: demo users (embedded default) or a pasted token; either way the token is checked by
// /auth/me before the user is sent to their role's page.
"use strict";
(() => {
  const { el, api, setToken } = Rapport;
  const message = document.getElementById("message");

  function fail(text) {
    message.className = "status bad";
    message.textContent = text;
  }

  async function enter(token) {
    setToken(token);
    try {
      const me = await api("/auth/me");
      location.assign(me.home || "/signin");
    } catch (err) {
      sessionStorage.removeItem("rapport.token");
      fail(`Sign-in failed: ${err.detail || err.message}`);
    }
  }

  async function load() {
    const config = await api("/auth/config");
    if (!config.demo_login) return;
    const list = document.getElementById("demo-users");
    config.demo_users.forEach((user, i) => {
      const id = `user-${user.user_id}`;
      list.append(
        el("label", { for: id },
          el("input", { type: "radio", name: "user", id, value: user.user_id, checked: i === 0 }),
          `${user.label} `, el("span", { class: "muted mono" }, `(${user.user_id})`)),
      );
    });
    document.getElementById("demo-section").hidden = false;
  }

  document.getElementById("demo-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = document.querySelector("input[name=user]:checked");
    if (!chosen) { fail("Choose a demo user first."); return; }
    try {
      const answer = await api("/auth/demo-login", { method: "POST", body: { user_id: chosen.value } });
      await enter(answer.token);
    } catch (err) {
      fail(`Sign-in failed: ${err.detail || err.message}`);
    }
  });

  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    enter(document.getElementById("token-input").value.trim());
  });

  load().catch((err) => fail(`Could not load the sign-in options: ${err.detail || err.message}`));
})();
