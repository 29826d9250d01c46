// A one-time enrolment link: choose a password, enrol TOTP, see the recovery codes. The token
// comes in the URL's fragment (never sent to a server by the browser) and is taken out of the
// address bar at once, so it stays in no history or bookmark.

import { ApiError, api, capitalize, setCsrfToken } from "../api.js";
import { formError, formValues, h, setBusy } from "../dom.js";
import { qrSvg } from "../qr.js";
import { passwordProblem } from "../strength.js";

const $ = (id) => document.getElementById(id);
const groupSecret = (secret) => (secret.match(/.{1,4}/g) ?? []).join(" ");

function invalid() {
  $("enrol-lead").textContent = "";
  $("enrol-invalid").hidden = false;
  for (const id of ["enrol-password", "enrol-totp"]) $(id).hidden = true;
}

function call(path, body) {
  return api(path, { method: "POST", body, quiet: true, authRedirect: false });
}

export async function init() {
  const token = location.hash.slice(1);
  history.replaceState(null, "", location.pathname);
  if (!token) {
    invalid();
    return;
  }
  let who;
  try {
    who = await call("/api/enrol/info", { token });
  } catch {
    who = null;
  }
  if (!who?.valid) {
    invalid();
    return;
  }
  $("enrol-lead").textContent = `Welcome, ${who.username}. You were added as ${/^[aeiou]/.test(who.role) ? "an" : "a"} ${who.role}: choose your password, then set up two-factor sign-in.`;
  $("enrol-username").value = who.username;
  const form = $("enrol-password");
  form.hidden = false;
  $("enrol-new").focus();
  let password = "";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    let message = values.password !== values.repeat ? "The passwords do not match." : "";
    if (!message) message = await passwordProblem(values.password, who.username);
    formError(form, message);
    if (message) return;
    setBusy(form, true, "Preparing…");
    try {
      const { secret, uri } = await call("/api/enrol/totp", { token });
      password = values.password;
      $("totp-qr").replaceChildren(qrSvg(uri));
      $("totp-secret").textContent = groupSecret(secret);
      form.hidden = true;
      $("enrol-totp").hidden = false;
      $("enrol-code-input").focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) invalid();
      else formError(form, capitalize(error instanceof ApiError ? error.detail : String(error)));
    } finally {
      setBusy(form, false);
    }
  });

  const codeForm = $("enrol-code");
  codeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { code } = formValues(codeForm);
    if (!/^\s*\d{3}\s?\d{3}\s*$/.test(code)) {
      formError(codeForm, "Enter the 6 digits your app shows.");
      return;
    }
    formError(codeForm, "");
    setBusy(codeForm, true, "Checking…");
    try {
      const done = await call("/api/enrol", { token, password, code });
      setCsrfToken(done.csrf_token);
      $("recovery-codes").replaceChildren(...done.recovery_codes.map((c) => h("li", {}, h("code", {}, c))));
      $("enrol-totp").hidden = true;
      $("enrol-lead").textContent = `Signed in as ${who.username}.`;
      $("enrol-done").hidden = false;
      $("enrol-continue").focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) invalid();
      else if (error instanceof ApiError && error.status === 401) formError(codeForm, "That code is not right. Check the app and try the current one.");
      else formError(codeForm, capitalize(error instanceof ApiError ? error.detail : String(error)));
    } finally {
      setBusy(codeForm, false);
    }
  });
}
