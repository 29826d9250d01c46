// Entry point of every page: shared behaviour (log out, password fields, flash messages), then
// the page's own module, chosen by <body data-page>.

import { api } from "./js/api.js";
import { attachStrength } from "./js/strength.js";
import { flash, showFlash, toast } from "./js/toast.js";

const PAGES = {
  setup: () => import("./js/pages/setup.js"),
  login: () => import("./js/pages/login.js"),
  mfa: () => import("./js/pages/mfa.js"),
  account: () => import("./js/pages/account.js"),
  timeline: () => import("./js/pages/timeline.js"),
  event: () => import("./js/pages/event.js"),
  live: () => import("./js/pages/live.js"),
  history: () => import("./js/pages/history.js"),
  settings: () => import("./js/pages/settings.js"),
  shared: () => import("./js/pages/shared.js"),
  review: () => import("./js/pages/review.js"),
  views: () => import("./js/pages/views.js"),
  system: () => import("./js/pages/system.js"),
  admin: () => import("./js/pages/admin.js"),
  hub_admin: () => import("./js/pages/hub-admin.js"),
  enrol: () => import("./js/pages/enrol.js"),
  exports: () => import("./js/pages/exports.js"),
  people: () => import("./js/pages/people.js"),
};

async function logout() {
  try {
    await api("/api/logout", { method: "POST", quiet: true, authRedirect: false });
  } catch {
    /* the session may already be gone; the login page is the right place either way */
  }
  flash("You are logged out.", "info");
  location.assign("/login");
}

function wireCommon() {
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-action='logout']") : null;
    if (target) {
      event.preventDefault();
      logout();
    }
  });
  for (const button of document.querySelectorAll("[data-reveal]")) {
    const input = document.getElementById(button.getAttribute("data-reveal") ?? "");
    if (!(input instanceof HTMLInputElement)) continue;
    button.addEventListener("click", () => {
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", String(show));
      input.focus();
    });
  }
  for (const meter of document.querySelectorAll(".strength[data-strength-for]")) {
    if (meter instanceof HTMLElement) attachStrength(meter);
  }
}

// A submit before the page's module has taken its form over is held (never sent as a plain
// form, whose fields could end up in a URL) and replayed once the page is ready, so the press
// is not lost (not when the module failed to start: the toast says to reload). Returns the
// function that replays it. ``body[data-ready]`` says the page is ready (browser tests wait).
function holdEarlySubmits() {
  let pending = null;
  document.addEventListener(
    "submit",
    (event) => {
      if (document.body.dataset.ready === "true") return;
      event.preventDefault();
      event.stopPropagation();
      pending = { form: event.target, submitter: event.submitter ?? null };
    },
    true,
  );
  return () => {
    const held = pending;
    pending = null;
    if (held && held.form.isConnected) held.form.requestSubmit(held.submitter);
  };
}

async function main() {
  const replayHeldSubmit = holdEarlySubmits();
  wireCommon();
  showFlash();
  const page = document.body.dataset.page ?? "";
  const load = PAGES[page];
  let started = false;
  try {
    if (load) {
      const module = await load();
      await module.init();
    }
    started = true;
  } catch (error) {
    console.warn("page failed to start", error);
    toast("Something went wrong loading this page. Reload to try again.", "error");
  } finally {
    document.body.dataset.ready = "true";
    if (started) replayHeldSubmit();
  }
}

main();
