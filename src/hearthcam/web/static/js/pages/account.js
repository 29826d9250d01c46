// The signed-in user's account: two-factor enrollment (QR code, setup key, recovery codes shown
// once) and changing the password.

import { ApiError, api, capitalize, refreshCsrf, setCsrfToken } from "../api.js";
import { formError, formValues, h, setBusy } from "../dom.js";
import { qrSvg } from "../qr.js";
import { passwordProblem } from "../strength.js";
import { flash, toast } from "../toast.js";
import * as push from "../push.js";

const $ = (id) => document.getElementById(id);

/** "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP" */
export function groupSecret(secret) {
  return (secret.match(/.{1,4}/g) ?? []).join(" ");
}

function showOnly(id) {
  for (const part of ["tfa-off", "tfa-enroll", "tfa-codes", "tfa-on"]) $(part).hidden = part !== id;
}

function setStatus(on) {
  const pill = $("tfa-status");
  pill.textContent = on ? "On" : "Off";
  pill.dataset.on = String(on);
}

async function enroll(button) {
  button.disabled = true;
  try {
    const { secret, uri } = await api("/api/me/totp/enroll", { method: "POST" });
    const qr = $("totp-qr");
    qr.replaceChildren();
    try {
      qr.append(qrSvg(uri));
    } catch {
      qr.hidden = true; // too long to draw: the key below still works
    }
    $("totp-secret").textContent = groupSecret(secret);
    $("totp-uri").textContent = uri;
    showOnly("tfa-enroll");
    $("confirm-code").focus();
  } catch {
    button.disabled = false;
  }
}

function showCodes(codes) {
  const list = $("recovery-codes");
  list.replaceChildren(...codes.map((code) => h("li", {}, h("code", {}, code))));
  showOnly("tfa-codes");
  setStatus(true);
  const text = `hearthcam recovery codes (each works once)\n\n${codes.join("\n")}\n`;
  document.querySelector("[data-action='copy-codes']").onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast("Recovery codes copied.", "ok");
    } catch {
      toast("Copying is not allowed here; select the codes and copy them.", "error");
    }
  };
  document.querySelector("[data-action='download-codes']").onclick = () => {
    const link = h("a", {
      href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
      download: "hearthcam-recovery-codes.txt",
    });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  };
  document.querySelector("[data-action='codes-saved']").onclick = () => {
    list.replaceChildren(); // shown once: gone from the page too
    showOnly("tfa-on");
  };
}

function wireConfirm(enrollPending) {
  const form = $("confirm-form");
  const input = $("confirm-code");
  input.addEventListener("input", () => {
    input.value = input.value.replace(/\D/g, "").slice(0, 6);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value;
    if (code.length !== 6) {
      formError(form, "The code has 6 digits.");
      return;
    }
    formError(form, "");
    setBusy(form, true, "Checking…");
    try {
      const result = await api("/api/me/totp/confirm", {
        method: "POST",
        body: { code },
        quiet: true,
        authRedirect: false,
      });
      // The session was rotated with a new CSRF token.
      if (result?.csrf_token) setCsrfToken(result.csrf_token);
      else await refreshCsrf().catch(() => null);
      showCodes(result?.recovery_codes ?? []);
      $("enroll-required").hidden = true;
      if (enrollPending) {
        // The login is complete now: the rest of the app opens once the codes are saved.
        document.querySelector("[data-action='codes-saved']").addEventListener("click", () => {
          flash("Two-factor authentication is on.", "ok");
          location.assign("/");
        });
      }
    } catch (error) {
      const detail = error instanceof ApiError ? error.detail : String(error);
      const wrong = error instanceof ApiError && (error.status === 400 || error.status === 401);
      formError(form, wrong ? "That code did not work. Try the one the app shows now." : capitalize(detail));
      input.select();
    } finally {
      setBusy(form, false);
    }
  });
}

function wirePassword() {
  const form = $("password-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    let message = "";
    if (!values.current) message = "Enter your current password.";
    else if (values.new !== values.repeat) message = "The new passwords do not match.";
    else if (values.new === values.current) message = "The new password is the same as the current one.";
    else message = await passwordProblem(values.new, values.username);
    formError(form, message);
    if (message) return;
    setBusy(form, true, "Changing…");
    try {
      await api("/api/me/password", {
        method: "POST",
        body: { current: values.current, new: values.new },
        quiet: true,
        authRedirect: false,
      });
      form.reset();
      form.querySelector(".strength")?.removeAttribute("data-score");
      await refreshCsrf().catch(() => null); // the session was rotated
      toast("Password changed. Your other devices were logged out.", "ok");
    } catch (error) {
      const detail = error instanceof ApiError ? error.detail : String(error);
      let message = capitalize(detail);
      if (error instanceof ApiError && error.status === 400) message = "The current password is not right.";
      if (error instanceof ApiError && error.status === 429) message = "Too many attempts. Wait a while and try again.";
      formError(form, message);
    } finally {
      setBusy(form, false);
    }
  });
}

async function showPush() {
  const on = Boolean(await push.current().catch(() => null));
  const status = $("push-status");
  status.textContent = on ? "On" : "Off";
  status.dataset.on = String(on);
  $("push-on").hidden = on;
  $("push-off").hidden = !on;
}

function wirePush(me) {
  const panel = $("push-panel");
  // Web Push is for household members, in a browser that has it, when the server offers it.
  if (!push.supported() || !["owner", "member"].includes(me.role) || me.state !== "active") return;
  // And only when the server sends Web Push (404 when it is turned off).
  api("/api/push/key", { quiet: true }).then(() => {
    panel.hidden = false;
  }, () => {});
  const error = $("push-error");
  const run = async (button, action, done) => {
    button.disabled = true;
    error.hidden = true;
    try {
      await action();
      toast(done, "ok");
    } catch (failure) {
      error.textContent = failure instanceof ApiError ? capitalize(failure.detail) : String(failure?.message ?? failure);
      error.hidden = false;
    } finally {
      button.disabled = false;
      await showPush();
    }
  };
  $("push-on").addEventListener("click", (event) => run(event.currentTarget, push.turnOn, "Alerts will show on this device."));
  $("push-off").addEventListener("click", (event) => run(event.currentTarget, push.turnOff, "This device gets no more alerts."));
  showPush();
}

function showVault(status) {
  const on = status.password_mode;
  const pill = $("vault-status");
  pill.textContent = on ? (status.unlocked ? "On · unlocked" : "On · locked") : "Off";
  pill.dataset.on = String(on);
  $("vault-locked").hidden = status.unlocked;
  $("vault-member").hidden = status.can_manage;
  $("vault-form").hidden = !status.can_manage;
  $("vault-warning").hidden = on;
  $("vault-toggle").textContent = on ? "Stop protecting with my password" : "Protect with my password";
  $("vault-toggle").className = on ? "btn" : "btn btn-primary";
  $("vault-lock").hidden = !on || !status.unlocked;
}

async function wireVault(me) {
  if (!["owner", "member"].includes(me.role) || me.state !== "active") return;
  let status;
  try {
    status = await api("/api/me/encryption", { quiet: true });
  } catch {
    return;
  }
  if (!status.available) return; // media stored plain here: nothing to protect
  $("vault-panel").hidden = false;
  showVault(status);
  const form = $("vault-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { password } = formValues(form);
    if (!password) {
      formError(form, "Enter your password.");
      return;
    }
    formError(form, "");
    const wanted = !status.password_mode;
    setBusy(form, true, wanted ? "Protecting…" : "Turning off…");
    try {
      status = await api("/api/me/encryption", {
        method: "PUT",
        body: { password_mode: wanted, password },
        quiet: true,
        authRedirect: false,
      });
      form.reset();
      toast(wanted ? "Recordings now need your password after a restart." : "Recordings no longer need your password.", "ok");
    } catch (error) {
      const wrong = error instanceof ApiError && error.status === 400;
      formError(form, wrong ? "That is not your password." : capitalize(error instanceof ApiError ? error.detail : String(error)));
    } finally {
      setBusy(form, false); // restores the button's old label: show the new state after it
      showVault(status);
    }
  });
  $("vault-lock").addEventListener("click", async (event) => {
    const button = event.currentTarget; // null once the handler awaits
    button.disabled = true;
    try {
      await api("/api/me/encryption/lock", { method: "POST" });
      status = await api("/api/me/encryption", { quiet: true });
      showVault(status);
      toast("Locked. Recordings open again when you sign in.", "ok");
    } finally {
      button.disabled = false;
    }
  });
}

export async function init() {
  const enrollButton = document.querySelector("[data-action='enroll']");
  enrollButton?.addEventListener("click", () => enroll(enrollButton));
  let me = null;
  try {
    me = await api("/api/me");
  } catch {
    return;
  }
  const pending = me?.state === "enroll_pending";
  const summary = $("account-summary");
  const household = typeof me.household === "string" ? me.household : me.household?.name;
  summary.replaceChildren(
    "Signed in as ", h("strong", {}, me.username), ` · ${capitalize(me.role ?? "")}`,
    household ? ` of ${household}` : "",
  );
  $("enroll-required").hidden = !pending;
  $("password-panel").hidden = pending;
  setStatus(Boolean(me.mfa_enabled));
  wirePush(me);
  wireVault(me);
  showOnly(me.mfa_enabled ? "tfa-on" : "tfa-off");
  wireConfirm(pending);
  wirePassword();
}
