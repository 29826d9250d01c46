// The second step of logging in: a TOTP code (submitted as soon as 6 digits are typed) or a
// recovery code.

import { ApiError, api, safeNext } from "../api.js";
import { formError, setBusy } from "../dom.js";
import { afterLogin, throttledMessage } from "./login.js";

export async function init() {
  const form = document.getElementById("mfa-form");
  const code = document.getElementById("code");
  const recovery = document.getElementById("recovery");
  const totpField = document.getElementById("totp-field");
  const recoveryField = document.getElementById("recovery-field");
  const toggle = form?.querySelector("[data-action='toggle-recovery']");
  if (!(form instanceof HTMLFormElement) || !(code instanceof HTMLInputElement)) return;
  if (!(recovery instanceof HTMLInputElement) || !totpField || !recoveryField) return;
  const next = safeNext(new URLSearchParams(location.search).get("next") ?? "/");
  let usingRecovery = false;

  const submit = async () => {
    const value = usingRecovery ? recovery.value.trim() : code.value.replace(/\D/g, "");
    if (!usingRecovery && value.length !== 6) {
      formError(form, "The code has 6 digits.");
      return;
    }
    if (usingRecovery && value.replace(/[\s-]/g, "").length < 16) {
      formError(form, "A recovery code looks like abcd-efgh-ijkl-mnop.");
      return;
    }
    formError(form, "");
    setBusy(form, true, "Checking…");
    try {
      const result = await api("/api/login/mfa", {
        method: "POST",
        body: { code: value },
        quiet: true,
        authRedirect: false,
      });
      location.assign(afterLogin(result?.state, next));
    } catch (error) {
      setBusy(form, false);
      if (error instanceof ApiError && error.status === 429) {
        // The server ended this half-finished login: it starts again with the password.
        formError(form, `${throttledMessage(error)} Then log in again.`);
      }
      else if (error instanceof ApiError && error.status === 401) {
        formError(form, "That code did not work. Codes change every 30 seconds; try the current one.");
      } else formError(form, error instanceof ApiError ? error.detail : String(error));
      const input = usingRecovery ? recovery : code;
      input.select();
    }
  };

  code.addEventListener("input", () => {
    const digits = code.value.replace(/\D/g, "").slice(0, 6);
    if (digits !== code.value) code.value = digits;
    if (digits.length === 6 && !form.hasAttribute("aria-busy")) submit();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  toggle?.addEventListener("click", () => {
    usingRecovery = !usingRecovery;
    totpField.hidden = usingRecovery;
    recoveryField.hidden = !usingRecovery;
    code.required = !usingRecovery;
    toggle.textContent = usingRecovery ? "Use a code from the app instead" : "Use a recovery code instead";
    formError(form, "");
    (usingRecovery ? recovery : code).focus();
  });
}
