// Username and password; then the two-factor page, or the app.

import { ApiError, api, safeNext } from "../api.js";
import { formError, formValues, setBusy } from "../dom.js";

/** Where a login in the given state goes next. */
export function afterLogin(state, next) {
  const query = next && next !== "/" ? `?next=${encodeURIComponent(next)}` : "";
  if (state === "mfa_pending") return `/login/mfa${query}`;
  if (state === "enroll_pending") return "/account?enroll=1";
  return next || "/";
}

export function throttledMessage(error) {
  const wait = error.retryAfter;
  if (!wait) return "Too many attempts. Wait a while and try again.";
  const minutes = Math.ceil(wait / 60);
  return wait < 90
    ? `Too many attempts. Try again in ${wait} seconds.`
    : `Too many attempts. Try again in ${minutes} minutes.`;
}

export async function init() {
  const form = document.getElementById("login-form");
  if (!(form instanceof HTMLFormElement)) return;
  const next = safeNext(new URLSearchParams(location.search).get("next") ?? "/");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { username, password } = formValues(form);
    if (!username || !password) {
      formError(form, "Enter your username and password.");
      return;
    }
    formError(form, "");
    setBusy(form, true, "Logging in…");
    try {
      const result = await api("/api/login", {
        method: "POST",
        body: { username, password },
        quiet: true,
        authRedirect: false,
      });
      location.assign(afterLogin(result?.state, next));
    } catch (error) {
      setBusy(form, false);
      const field = form.querySelector("#password");
      if (error instanceof ApiError && error.status === 429) formError(form, throttledMessage(error));
      else if (error instanceof ApiError && error.status === 401) {
        formError(form, "Wrong username or password.");
        if (field instanceof HTMLInputElement) field.select();
      } else formError(form, error instanceof ApiError ? error.detail : String(error));
    }
  });
}
