// My shared clips: each share with the receipt agreed to, where it stands (being checked,
// shared after redaction, not shared and why), and Withdraw in one click.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { fullDate, parseTime } from "../format.js";
import { receiptList } from "../share.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);

const STATUS = {
  consented: ["Waiting for the checks", "pill-wait", "Nobody but you can see it yet."],
  checking: ["Being checked", "pill-wait", "Scanning and blurring; nobody but you can see it yet."],
  published: ["Shared, blurred", "pill-on", "Annotators may be offered the blurred copy."],
  disposed: ["Not shared", "pill-bad", ""],
  owner_only: ["Failed — owner only", "pill-bad", ""],
};

function facts(share) {
  const f = share.facts ?? {};
  if (share.status !== "published" || f.faces_blurred === undefined) return null;
  return h("p", { class: "hint" },
    `${f.faces_blurred} face${f.faces_blurred === 1 ? "" : "s"} and ${f.people_blurred} person boxes blurred over ${f.frames} frames; a second check found ${f.faces_left} faces left.`);
}

async function withdraw(share, button) {
  button.disabled = true;
  try {
    const done = await api(`/api/shares/${encodeURIComponent(share.id)}`, { method: "DELETE" });
    const extra = done.actions.length ? ` ${done.actions.join("; ")}.` : "";
    toast(`Withdrawn: ${done.files_deleted} file${done.files_deleted === 1 ? "" : "s"} deleted.${extra}`, "ok");
  } catch (error) {
    button.disabled = false;
    if (!(error instanceof ApiError && error.status === 404)) return;
  }
  load();
}

function row(share) {
  const [label, pill, note] = STATUS[share.status] ?? [share.status, "", ""];
  const start = share.clip_start ? parseTime(share.clip_start) : null;
  const withdrawButton = h("button", { type: "button", class: "btn btn-sm btn-danger" }, "Withdraw");
  withdrawButton.addEventListener("click", () => withdraw(share, withdrawButton));
  return h("li", { class: "share-row", dataset: { id: share.id, status: share.status } },
    h("div", { class: "share-head" },
      h("div", {},
        h("strong", {}, share.camera),
        start ? h("span", { class: "muted" }, ` · ${fullDate(start)}`) : null,
        h("div", { class: "muted share-kept" }, `Shared ${fullDate(parseTime(share.shared))} · kept until ${fullDate(parseTime(share.kept_until))}`)),
      h("span", { class: `pill ${pill}` }, label)),
    h("p", { class: "share-reason" }, share.reason || note),
    facts(share),
    h("details", { class: "share-receipt" },
      h("summary", {}, "What you agreed to"),
      receiptList(share.receipt),
      h("p", { class: "hint mono" }, `Receipt ${share.receipt_sha256.slice(0, 16)}…`)),
    h("div", { class: "row" },
      share.status === "disposed" ? null : withdrawButton,
      h("a", { class: "btn btn-sm btn-ghost", href: `/events/${encodeURIComponent(share.event_id)}` }, "Open the event")));
}

async function load() {
  let shares;
  try {
    shares = (await api("/api/shares", { quiet: true })) ?? [];
  } catch (error) {
    $("shares-panel").hidden = true;
    if (error instanceof ApiError && error.status === 403) $("not-owner").hidden = false;
    else toast("Could not load your shared clips. Reload to try again.", "error");
    return;
  }
  $("shares").replaceChildren(...shares.map(row));
  $("shares-empty").hidden = shares.length > 0;
  $("shares-panel").removeAttribute("aria-busy");
  // A share being checked changes on its own: look again shortly.
  if (shares.some((s) => s.status === "consented" || s.status === "checking")) setTimeout(load, 3000);
}

export function init() {
  return load();
}
