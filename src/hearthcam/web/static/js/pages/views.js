// "Who viewed my clips": the view log's entries about this household's clips, one row per
// viewing (every byte range one viewer fetched of one clip in one lease). A row gets its ✓ only
// after this browser checked the checkpoint's Ed25519 signature and every entry's inclusion
// proof against its root (merkle.js); what a row says (who, when, what form, which lease) is
// read from the proven entry bytes. The clip's camera and start are the share receipt's label.
//
// Each checkpoint verified here is kept in this browser (kept-checkpoints.js); on the next visit
// the page proves the new checkpoint extends the newest kept one and raises an alarm when the
// log is smaller than it was, or no longer its continuation.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { fullDate } from "../format.js";
import { exportJson, including, loadKept, newest, saveKept } from "../kept-checkpoints.js";
import { verifyCheckpoint, verifyConsistency, verifyInclusion } from "../merkle.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);
const decoder = new TextDecoder();
const SESSION_GAP_MS = 30 * 60 * 1000; // entries without a lease: a pause this long starts a new viewing
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function bytesOf(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function checked(item, checkpoint, signed) {
  const data = bytesOf(item.entry);
  let proven = false;
  try {
    proven = signed && (await verifyInclusion(data, item.index, checkpoint.size, item.proof, checkpoint.root));
  } catch {
    proven = false;
  }
  let entry = null;
  try {
    entry = JSON.parse(decoder.decode(data));
  } catch {
    proven = false;
  }
  if (!entry || typeof entry !== "object") entry = null;
  return { item, entry, proven: proven && entry?.seq === item.index };
}

// -- viewings --------------------------------------------------------------------------------

function viewingKey({ entry, item }) {
  if (!entry) return `unreadable ${item.index}`;
  return [entry.viewer, entry.clip, entry.lease ?? "", entry.derivative].join("\u0000");
}

// The entries (newest first, as the server sends them) as viewings, newest first.
export function viewings(rows) {
  const open = new Map();
  const all = [];
  for (const row of [...rows].reverse()) {
    const key = viewingKey(row);
    const time = (row.entry?.time ?? 0) * 1000;
    let group = open.get(key);
    if (group && !row.entry?.lease && time - group.last > SESSION_GAP_MS) group = undefined;
    if (!group) {
      group = { key, rows: [], first: time, last: time };
      open.set(key, group);
      all.push(group);
    }
    group.rows.push(row);
    group.first = Math.min(group.first, time);
    group.last = Math.max(group.last, time);
  }
  return all.reverse();
}

function span(first, last) {
  const start = new Date(first);
  if (last - first < 1000) return fullDate(start);
  const end = new Date(last);
  const sameDay = start.toDateString() === end.toDateString();
  return `${fullDate(start)} – ${sameDay ? clockFormat.format(end) : fullDate(end)}`;
}

function clipLabel(item, entry) {
  const clip = entry?.clip ?? "?";
  const start = item.clip_start ? new Date(item.clip_start) : null;
  const name = item.camera
    ? `${item.camera}${start && !Number.isNaN(start.getTime()) ? `, ${fullDate(start)}` : ""}`
    : `clip ${clip.slice(0, 8)}`;
  if (item.event_id) return h("a", { href: `/events/${encodeURIComponent(item.event_id)}` }, name);
  return h("span", {}, name, h("span", { class: "muted" }, " (withdrawn)"));
}

function what(group) {
  const entry = group.rows[0].entry;
  const ranges = group.rows.filter((r) => Array.isArray(r.entry?.range)).length;
  const form = `${entry?.derivative ?? "?"} copy`;
  const parts = ranges ? `${ranges} byte ${ranges === 1 ? "range" : "ranges"}` : "whole file";
  return `${form} · ${parts}`;
}

function mark(proven, total) {
  if (proven === total) {
    const title = `Signature and all ${total} inclusion ${total === 1 ? "proof" : "proofs"} checked in this browser`;
    return h("span", { class: "verified viewing-mark", title }, "✓", h("span", { class: "sr-only" }, " verified"));
  }
  return h("span", { class: "unverified viewing-mark", title: "Some proofs did not check out" }, "✗", h("span", { class: "sr-only" }, " not proven"));
}

function unproven(proven, total) {
  if (proven === total) return null;
  return h("p", { class: "unverified viewing-bad" }, `${total - proven} of ${total} ${total === 1 ? "entry" : "entries"} not proven`);
}

function rangeText(entry) {
  const r = entry?.range;
  return Array.isArray(r) ? `${r[0]}–${r[1]}` : "whole";
}

function proofRow({ item, entry, proven }) {
  const path = item.proof.length
    ? h("code", { class: "proof-path", title: item.proof.join("\n") }, item.proof.map((p) => `${p.slice(0, 8)}…`).join(" "))
    : h("span", { class: "muted" }, "(the only entry)");
  return h("tr", { class: "view-entry", dataset: { index: item.index, verified: String(proven) } },
    h("td", { class: "num" }, `#${item.index}`),
    h("td", {}, entry ? clockFormat.format(new Date(entry.time * 1000)) : "?"),
    h("td", { class: "num" }, rangeText(entry)),
    h("td", {}, proven ? h("span", { class: "verified" }, "✓") : h("span", { class: "unverified" }, "✗")),
    h("td", {}, path));
}

function viewingRow(group) {
  const head = group.rows[0];
  const { item, entry } = head;
  const proven = group.rows.filter((r) => r.proven).length;
  const total = group.rows.length;
  const who = item.viewer || `user ${entry?.viewer ?? "?"}`;
  const lease = entry?.lease ? ` · lease ${entry.lease.slice(0, 8)}` : "";
  const rows = [...group.rows].sort((a, b) => a.item.index - b.item.index);
  return h("li", { class: "viewing", dataset: { verified: String(proven === total), entries: String(total) } },
    mark(proven, total),
    h("div", { class: "viewing-body" },
      h("p", { class: "viewing-line" },
        h("strong", {}, who), h("span", { class: "muted" }, ` (${entry?.role ?? "?"})`), " viewed ", clipLabel(item, entry)),
      h("p", { class: "viewing-meta muted" }, `${span(group.first, group.last)} · ${what(group)}${lease}`),
      unproven(proven, total),
      h("details", { class: "viewing-proof" },
        h("summary", {}, `Proof of ${total === 1 ? "its entry" : `each of its ${total} entries`}`),
        h("div", { class: "table-wrap" },
          h("table", { class: "table proof-table" },
            h("thead", {}, h("tr", {},
              h("th", { scope: "col" }, "Entry"), h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Bytes"),
              h("th", { scope: "col" }, "Checked"), h("th", { scope: "col" }, "Audit path"))),
            h("tbody", {}, rows.map(proofRow)))))));
}

// -- the checkpoints this browser kept ----------------------------------------------------------

function alarm(title, detail) {
  const box = $("log-alarm");
  box.replaceChildren(
    h("strong", {}, title),
    h("p", {}, detail),
    h("p", { class: "hint" }, "Save the checkpoints this browser kept (below) and run hearthcam audit verify --against with them on the server. docs/privacy.md says what this means."));
  box.hidden = false;
}

function entries(n) {
  return `${n} ${n === 1 ? "entry" : "entries"}`;
}

// Whether the log still extends what this browser saw; raises the alarm when it does not.
async function extendsKept(kept, views) {
  const cp = views.checkpoint;
  if (kept.publicKey !== views.public_key) {
    alarm("The view log is now signed by another key.",
      `This browser checked it before under key ${kept.publicKey.slice(0, 12)}…; now the server signs with ${views.public_key.slice(0, 12)}…. A new key can hide a log that was cut back or rewritten.`);
    return false;
  }
  const last = newest(kept);
  const when = fullDate(new Date(last.time_ms));
  if (last.size > cp.size) {
    alarm("The view log is smaller than when this browser last checked it.",
      `On ${when} it held ${entries(last.size)}; now it holds ${entries(cp.size)}: ${last.size - cp.size} were erased.`);
    return false;
  }
  let consistent = false;
  try {
    const proof = await api(`/api/views/consistency?first=${last.size}&second=${cp.size}`, { quiet: true });
    consistent = await verifyConsistency(last.size, cp.size, last.root, cp.root, proof.proof);
  } catch {
    consistent = false;
  }
  if (!consistent) {
    alarm("The view log is no longer the one this browser checked.",
      `The log of ${entries(last.size)} this browser checked on ${when} is not the start of today's log of ${entries(cp.size)}: entries were rewritten or removed.`);
  }
  return consistent;
}

function showKept(kept, householdId) {
  const count = kept?.checkpoints.length ?? 0;
  $("kept").textContent = count
    ? `This browser keeps ${count} signed ${count === 1 ? "checkpoint" : "checkpoints"} of this log, the first of ${fullDate(new Date(kept.checkpoints[0].time_ms))}; each visit proves the log only grew since.`
    : "This browser keeps no checkpoint of this log yet.";
  const save = $("save-checkpoints");
  save.hidden = count === 0;
  save.onclick = () => {
    const blob = new Blob([exportJson(kept)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `hearthcam-view-log-${householdId}.json` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  };
}

async function keep(views, signed) {
  const household = views.household_id;
  const kept = loadKept(household);
  let fine = signed;
  if (kept && signed) fine = await extendsKept(kept, views);
  if (!fine) {
    showKept(kept, household);
    return;
  }
  const updated = including(kept, views.public_key, views.checkpoint);
  try {
    saveKept(household, updated);
  } catch {
    toast("This browser could not keep the log's checkpoint (storage full or off).", "error");
  }
  showKept(loadKept(household) ?? updated, household);
}

// -- the page -----------------------------------------------------------------------------------

async function load() {
  let views;
  try {
    views = await api("/api/views", { quiet: true });
  } catch (error) {
    $("log-panel").hidden = true;
    if (error instanceof ApiError && error.status === 403) $("not-owner").hidden = false;
    else if (error instanceof ApiError && error.status === 503) alarm("The view log cannot be read.", error.detail);
    else toast("Could not load the view log. Reload to try again.", "error");
    return;
  }
  const cp = views.checkpoint;
  let signed = false;
  try {
    signed = await verifyCheckpoint({ size: cp.size, rootHex: cp.root, timeMs: cp.time_ms, signature: cp.signature }, views.public_key);
  } catch {
    signed = false; // no Ed25519 in this browser's WebCrypto: nothing can be shown as checked
  }
  $("checkpoint").textContent = signed
    ? `Checked against the log's checkpoint of ${fullDate(new Date(cp.time_ms))} (${entries(cp.size)}, signed by key ${views.public_key.slice(0, 12)}…).`
    : "The log's checkpoint signature did not verify: no entry below can be trusted.";
  await keep(views, signed);
  const rows = await Promise.all(views.entries.map((item) => checked(item, cp, signed)));
  const groups = viewings(rows);
  $("viewings").replaceChildren(...groups.map(viewingRow));
  $("viewings").hidden = groups.length === 0;
  $("views-empty").hidden = groups.length > 0;
  if (views.flags.length) {
    $("flags").hidden = false;
    $("flags").replaceChildren(h("strong", {}, "Unusual: "), ...views.flags.map((f) => h("div", { class: "flag" }, f.text)));
  }
  $("log-panel").removeAttribute("aria-busy");
}

export function init() {
  return load();
}
