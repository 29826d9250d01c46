// My shared clips: each share with the receipt agreed to, where it stands (being checked,
// shared after redaction, not shared and why, and which check decided), its history, Withdraw in
// one click, and "Re-run the checks" for a share whose checks failed (after a model update).

import { ApiError, api, capitalize } from "../api.js";
import { h } from "../dom.js";
import { fullDate, parseTime } from "../format.js";
import { hubWhere, partOf, receiptList } from "../share.js";
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

const EVENTS = {
  consent: "You shared it",
  start_checks: "Checks started",
  checks_passed: "Checks passed: shared, blurred",
  checks_failed: "Checks failed: owner only",
  scan_positive: "Disposed of by the scan",
  reported: "Reported by an annotator: disposed of",
  retry: "Checks asked for again",
};

function decided(share) {
  const f = share.facts ?? {};
  if (share.status === "disposed") {
    const by = f.decided_by ? `Decided by ${f.decided_by.model} (${f.decided_by.label}). ` : "";
    return h("p", { class: "hint share-decided" },
      `${by}The copy was destroyed, so these checks cannot be run again: to have the clip checked anew, share it again.`);
  }
  if (share.status === "owner_only" && f.failed_step) {
    return h("p", { class: "hint share-decided" },
      `The ${f.failed_step} step decided. If the models were updated since, you can re-run the checks.`);
  }
  return null;
}

function history(share) {
  const moves = share.history ?? [];
  if (!moves.length) return null;
  return h("details", { class: "share-history" },
    h("summary", {}, "History"),
    h("ol", { class: "share-moves" }, ...moves.map((m) =>
      h("li", {},
        `${fullDate(parseTime(m.at))}: ${EVENTS[m.event] ?? STATUS[m.after]?.[0] ?? m.after}`,
        m.by ? h("span", { class: "muted" }, ` · by ${m.by}`) : null))));
}

/** Where the review hub's copy of a share stands (null for a share kept at home). */
function hubCopy(share) {
  if (!share.receipt.hub) return null;
  const copy = share.hub;
  let text;
  if (share.status !== "published") {
    text = "Goes to the review hub only once the checks here pass; nothing has left this home.";
  } else if (!copy || copy.state === "sending") {
    text = "Waiting to be sent to the review hub" + (copy?.error ? `: ${copy.error}` : ".");
  } else if (copy.state === "held") {
    text = `At the review hub since ${fullDate(parseTime(copy.sent))}: its blurred copy only.`;
  } else if (copy.state === "refused") {
    text = `${capitalize(copy.error)}. Nothing of it is there.`;
  } else {
    text = hubState(copy);
  }
  return h("p", { class: "hint share-hub", dataset: { hub: copy?.state ?? "waiting" } },
    text, h("br"), h("span", { class: "muted" }, hubWhere(share.receipt.hub)));
}

function hubState(copy) {
  if (copy.state === "deleted") {
    const at = copy.receipt?.deleted_at;
    return `Deleted at the review hub${at ? ` on ${fullDate(new Date(at * 1000))}` : ""}; its signed receipt is kept here.`;
  }
  if (copy.state === "gone") return "The review hub no longer held it (deleted there already).";
  if (copy.state === "refused") return `${capitalize(copy.error)}.`;
  return "To be deleted at the review hub: asked again until it answers" + (copy.error ? ` (${copy.error}).` : ".");
}

function deletionRow(copy) {
  const receipt = copy.receipt;
  return h("li", { class: "share-row", dataset: { id: copy.share_id, hub: copy.state } },
    h("p", { class: "share-reason" }, hubState(copy)),
    receipt ? h("details", { class: "share-receipt" },
      h("summary", {}, "The hub's deletion receipt"),
      h("p", { class: "hint mono" }, `clip ${receipt.clip_id} · ${receipt.sha256.slice(0, 16)}… · hub key ${receipt.hub_key_id}`),
      h("p", { class: "hint mono" }, `signature ${receipt.signature.slice(0, 32)}…`)) : null);
}

async function rerun(share, button) {
  button.disabled = true;
  try {
    await api(`/api/shares/${encodeURIComponent(share.id)}/rerun`, { method: "POST" });
    toast("The checks will run again; nobody but you can see the clip until they pass.", "ok");
  } catch (error) {
    button.disabled = false;
    if (!(error instanceof ApiError && (error.status === 404 || error.status === 409))) return;
  }
  load();
}

async function withdraw(share, button) {
  button.disabled = true;
  try {
    const done = await api(`/api/shares/${encodeURIComponent(share.id)}`, { method: "DELETE" });
    const extra = done.actions.length ? ` ${capitalize(done.actions.join("; "))}.` : "";
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
  let rerunButton = null;
  if (share.status === "owner_only") {
    rerunButton = h("button", { type: "button", class: "btn btn-sm" }, "Re-run the checks");
    rerunButton.addEventListener("click", () => rerun(share, rerunButton));
  }
  return h("li", { class: "share-row", dataset: { id: share.id, status: share.status } },
    h("div", { class: "share-head" },
      h("div", {},
        h("strong", {}, share.camera),
        start ? h("span", { class: "muted" }, ` · ${fullDate(start)}`) : null,
        partOf(share.receipt) ? h("span", { class: "muted" }, ` · ${partOf(share.receipt)}`) : null,
        h("div", { class: "muted share-kept" }, `Shared ${fullDate(parseTime(share.shared))} · kept until ${fullDate(parseTime(share.kept_until))}`)),
      h("span", { class: `pill ${pill}` }, label)),
    h("p", { class: "share-reason" }, share.reason || (share.receipt.hub && share.status === "published" ? "Shared with the review hub, blurred." : note)),
    hubCopy(share),
    facts(share),
    decided(share),
    h("details", { class: "share-receipt" },
      h("summary", {}, "What you agreed to"),
      receiptList(share.receipt),
      h("p", { class: "hint mono" }, `Receipt ${share.receipt_sha256.slice(0, 16)}…`)),
    history(share),
    h("div", { class: "row" },
      rerunButton,
      share.status === "disposed" ? null : withdrawButton,
      h("a", { class: "btn btn-sm btn-ghost", href: `/events/${encodeURIComponent(share.event_id)}` }, "Open the event")));
}

/** The last round of checking the review hub's view log of this home's clips. */
async function hubLog() {
  const box = $("hub-log");
  const hub = await api("/api/hub", { quiet: true }).catch(() => null);
  const round = hub?.log;
  if (!round) {
    box.hidden = true;
    return;
  }
  const when = fullDate(parseTime(round.checked_at));
  if (round.ok) {
    box.className = "notice notice-ok";
    box.replaceChildren(`The review hub's view log was checked ${when}: ${round.views} view${round.views === 1 ? "" : "s"} of your clips, every one in its signed log (${round.size} entries in all).`);
  } else {
    box.className = "notice notice-alarm";
    box.replaceChildren(
      h("strong", {}, "The review hub's view log does NOT check out"),
      h("p", {}, `Checked ${when} at ${round.url}. An honest hub cannot show this; it is checked again every hour and named until you act (withdraw your clips, or unlink).`),
      h("ul", {}, ...round.findings.map((f) => h("li", {}, f))));
  }
  box.hidden = false;
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
  await hubLog();
  const deletions = (await api("/api/hub/deletions", { quiet: true }).catch(() => [])) ?? [];
  $("hub-deletions").replaceChildren(...deletions.map(deletionRow));
  $("hub-deletions-panel").hidden = deletions.length === 0;
  // A share being checked, or on its way to or from the hub, changes on its own: look again.
  const moving = shares.some((s) => s.status === "consented" || s.status === "checking"
    || (s.receipt.hub && s.status === "published" && s.hub?.state !== "held" && s.hub?.state !== "refused"))
    || deletions.some((d) => d.state === "withdrawing");
  if (moving) setTimeout(load, 3000);
}

export function init() {
  return load();
}
