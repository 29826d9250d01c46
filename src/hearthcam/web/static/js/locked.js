// Recordings locked in password mode (the server restarted since the owner signed in, or they
// pressed "Lock now"): thumbnails and players say so instead of showing broken images, and the
// owner unlocks them in place with their password (POST /api/me/encryption/unlock).

import { ApiError, api, capitalize } from "./api.js";
import { formError, h, setBusy } from "./dom.js";
import { toast } from "./toast.js";

let status = { locked: false, canUnlock: false };

/** Asks the server whether the household's recordings are locked now. */
export async function checkLock() {
  try {
    const found = await api("/api/me/encryption", { quiet: true });
    status = { locked: Boolean(found.password_mode && !found.unlocked), canUnlock: Boolean(found.can_manage) };
  } catch {
    status = { locked: false, canUnlock: false }; // the media requests will tell
  }
  return status;
}

export function isLocked() {
  return status.locked;
}

function lockIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "lock-icon");
  svg.innerHTML = '<rect x="5" y="11" width="14" height="10" rx="2" fill="none" stroke="currentColor" stroke-width="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3" fill="none" stroke="currentColor" stroke-width="2"/>';
  return svg;
}

/** A thumbnail's stand-in while the recordings are locked. */
export function lockedThumb() {
  return h("div", { class: "thumb-locked", title: "Recordings are locked" }, lockIcon(), h("span", {}, "Locked"));
}

/**
 * The notice with the owner's in-place unlock (members are told who can open them).
 * @param {{onUnlocked: () => void}} options
 */
export function lockedPanel({ onUnlocked }) {
  const panel = h("div", { class: "locked-panel", role: "region", "aria-label": "Locked recordings" },
    lockIcon(),
    h("p", { class: "locked-title" }, h("strong", {}, "Recordings are locked: sign in again as the owner to unlock.")));
  if (!status.canUnlock) {
    panel.append(h("p", { class: "hint" }, "They are under the owner's password. They open when the owner signs in."));
    return panel;
  }
  const id = `unlock-${Math.random().toString(36).slice(2, 8)}`;
  const input = h("input", { id, name: "password", type: "password", required: true, maxlength: 1024, autocomplete: "current-password" });
  const form = h("form", { class: "unlock-form", novalidate: true },
    h("label", { for: id }, "Your password"),
    h("div", { class: "inline-field" }, input, h("button", { type: "submit", class: "btn btn-primary" }, "Unlock")),
    h("p", { class: "form-error", role: "alert", hidden: true }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value) {
      formError(form, "Enter your password.");
      input.focus();
      return;
    }
    formError(form, "");
    setBusy(form, true, "Unlocking…");
    try {
      await api("/api/me/encryption/unlock", { method: "POST", body: { password: input.value }, quiet: true });
      status = { ...status, locked: false };
      toast("Recordings unlocked.", "ok");
      onUnlocked();
    } catch (error) {
      setBusy(form, false);
      formError(form, error instanceof ApiError ? capitalize(error.detail) : String(error));
      input.select();
    }
  });
  panel.append(form);
  return panel;
}
