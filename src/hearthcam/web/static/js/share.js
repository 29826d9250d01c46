// Sharing one clip as feedback: the receipt, shown in full before anything happens. The
// owner's agreement carries the receipt's digest, so the server stores exactly what was shown.

import { ApiError, api, capitalize } from "./api.js";
import { h } from "./dom.js";
import { fullDate, parseTime } from "./format.js";

/** The receipt's parts, in reading order, with the headings the owner sees. */
export const RECEIPT_PARTS = [
  ["where", "Where it goes"],
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
    let text = receipt[key];
    if (key === "kept") {
      text = `${receipt.kept_days} days (until ${receipt.kept_until}), then every copy is deleted.`;
    } else if (key === "where") {
      text = hubWhere(receipt.hub);
    }
    if (text) items.push(h("dt", {}, title), h("dd", {}, text));
  }
  return h("dl", { class: "receipt" }, items);
}

/** Where a clip shared with a review hub goes, in words ("" for one shared at home). */
export function hubWhere(hub) {
  if (!hub) return "";
  return `The review hub at ${hub.address}, run by ${hub.operator}; its annotators work in ${hub.annotators_in}. Its key's fingerprint: ${hub.fingerprint}.`;
}

/** "clip 2 of 3" for a receipt of one of a long event's clips; "" for an event's only clip. */
export function partOf(receipt) {
  const { part, parts } = receipt.clip ?? {};
  return parts > 1 ? `clip ${part} of ${parts}` : "";
}

/** The review hub this home can share with, or null (not linked, or not asked: not an owner). */
async function linkedHub() {
  try {
    const hub = await api("/api/hub", { quiet: true });
    return hub?.linked ? hub : null;
  } catch {
    return null;
  }
}

/**
 * Shows the receipt for an event's clip (``part``: which of a long event's clips, from 1) and
 * shares it if the owner agrees. A home linked to a review hub is asked where the clip goes
 * (this installation's annotators, or the hub's); the receipt shown is the one for that choice.
 * @returns {Promise<object|null>} the share, or null when the owner did not agree
 */
export async function shareWithReceipt(eventId, part = 1) {
  const path = `/api/events/${encodeURIComponent(eventId)}/share`;
  const hub = await linkedHub();
  let to = "home";
  let shown = await api(`${path}/receipt?part=${part}&to=${to}`);
  const which = partOf(shown.receipt);
  const agree = h("button", { type: "button", class: "btn btn-primary", value: "ok" }, "Share this clip");
  const cancel = h("button", { type: "button", class: "btn btn-ghost", value: "cancel" }, "Don't share");
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const receiptBox = h("div", { class: "receipt-box" }, receiptList(shown.receipt));
  let choice = null;
  if (hub) {
    const option = (value, title, detail) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "share-to", value, checked: value === to }),
      h("span", {}, h("strong", {}, title), h("span", { class: "muted" }, ` ${detail}`)));
    choice = h("fieldset", { class: "share-to" },
      h("legend", {}, "Who annotates it"),
      option("home", "This installation", "Annotators with accounts on this box."),
      option("hub", `The review hub run by ${hub.operator}`, `Annotators in ${hub.annotators_in}, with clips from many homes; only the blurred copy leaves this home.`));
    choice.addEventListener("change", async (event) => {
      const wanted = event.target.value;
      agree.disabled = true;
      try {
        shown = await api(`${path}/receipt?part=${part}&to=${wanted}`, { quiet: true });
        to = wanted;
        receiptBox.replaceChildren(receiptList(shown.receipt));
        error.hidden = true;
      } catch (failure) {
        error.hidden = false;
        error.textContent = failure instanceof ApiError ? capitalize(failure.detail) : String(failure);
      } finally {
        agree.disabled = false;
      }
    });
  }
  const dialog = h("dialog", { class: "dialog dialog-wide", "aria-labelledby": "receipt-title" },
    h("h2", { id: "receipt-title" }, "Share this clip as feedback?"),
    h("p", { class: "muted" }, `${shown.receipt.clip.camera}, ${fullDate(parseTime(shown.receipt.clip.start))}${which ? `, ${which}` : ""}. Nothing is shared until you agree.`),
    choice,
    receiptBox,
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
        const body = { receipt_sha256: shown.sha256, part, to };
        finish(await api(path, { method: "POST", body, quiet: true }));
      } catch (failure) {
        agree.disabled = false;
        error.hidden = false;
        error.textContent = failure instanceof ApiError ? capitalize(failure.detail) : String(failure);
      }
    });
  });
}
