// Sharing one clip as feedback: the receipt, shown in full before anything happens. The
// owner's agreement carries the receipt's digest, so the server stores exactly what was shown.

import { ApiError, api, capitalize } from "./api.js";
import { h } from "./dom.js";
import { fullDate, parseTime } from "./format.js";

/** The receipt's parts, in reading order, with the headings the owner sees. */
export const RECEIPT_PARTS = [
  ["purpose", "Why"],
  ["who_may_see", "Who may see it"],
  ["what_they_see", "What they see"],
  ["checks", "Before anyone sees it"],
  ["kept", "How long it is kept"],
  ["withdraw", "Changing your mind"],
  ["views", "Every view is logged"],
];

/** The receipt as a definition list (also used under My shared clips). */
export function receiptList(receipt) {
  const items = [];
  for (const [key, title] of RECEIPT_PARTS) {
    const text = key === "kept"
      ? `${receipt.kept_days} days (until ${receipt.kept_until}), then every copy is deleted.`
      : receipt[key];
    if (text) items.push(h("dt", {}, title), h("dd", {}, text));
  }
  return h("dl", { class: "receipt" }, items);
}

/** "clip 2 of 3" for a receipt of one of a long event's clips; "" for an event's only clip. */
export function partOf(receipt) {
  const { part, parts } = receipt.clip ?? {};
  return parts > 1 ? `clip ${part} of ${parts}` : "";
}

/**
 * Shows the receipt for an event's clip (``part``: which of a long event's clips, from 1) and
 * shares it if the owner agrees.
 * @returns {Promise<object|null>} the share, or null when the owner did not agree
 */
export async function shareWithReceipt(eventId, part = 1) {
  const path = `/api/events/${encodeURIComponent(eventId)}/share`;
  const { receipt, sha256 } = await api(`${path}/receipt?part=${part}`);
  const which = partOf(receipt);
  const agree = h("button", { type: "button", class: "btn btn-primary", value: "ok" }, "Share this clip");
  const cancel = h("button", { type: "button", class: "btn btn-ghost", value: "cancel" }, "Don't share");
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const dialog = h("dialog", { class: "dialog dialog-wide", "aria-labelledby": "receipt-title" },
    h("h2", { id: "receipt-title" }, "Share this clip as feedback?"),
    h("p", { class: "muted" }, `${receipt.clip.camera}, ${fullDate(parseTime(receipt.clip.start))}${which ? `, ${which}` : ""}. Nothing is shared until you agree.`),
    receiptList(receipt),
    error,
    h("div", { class: "dialog-actions" }, cancel, agree));
  document.body.append(dialog);
  dialog.showModal();
  cancel.focus();
  return new Promise((resolve) => {
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    agree.addEventListener("click", async () => {
      agree.disabled = true;
      try {
        finish(await api(path, { method: "POST", body: { receipt_sha256: sha256, part }, quiet: true }));
      } catch (failure) {
        agree.disabled = false;
        error.hidden = false;
        error.textContent = failure instanceof ApiError ? capitalize(failure.detail) : String(failure);
      }
    });
  });
}
