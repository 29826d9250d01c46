// "Who viewed my clips": the view log's entries about this household's clips. Each row gets its
// ✓ only after this browser checked the entry's inclusion proof against the checkpoint's root
// and the checkpoint's Ed25519 signature (merkle.js); what a row says (when, what form, which
// lease) is read from the proven entry bytes, not from anything else the server sent.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { fullDate } from "../format.js";
import { verifyCheckpoint, verifyInclusion } from "../merkle.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);
const decoder = new TextDecoder();

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
  return { item, entry, proven: proven && entry?.seq === item.index };
}

function range(entry) {
  const span = entry.range;
  return span ? `bytes ${span[0]}–${span[1]}` : "whole";
}

function row({ item, entry, proven }) {
  const mark = proven
    ? h("span", { class: "verified", title: "Inclusion proof and signature checked in this browser" }, "✓", h("span", { class: "sr-only" }, " verified"))
    : h("span", { class: "unverified", title: "The proof did not check out" }, "✗ not proven");
  const clip = entry?.clip ?? "?";
  const clipCell = item.event_id
    ? h("a", { href: `/events/${encodeURIComponent(item.event_id)}` }, clip.slice(0, 8))
    : h("span", { class: "muted", title: "withdrawn" }, `${clip.slice(0, 8)} (withdrawn)`);
  return h("tr", { dataset: { index: item.index, verified: String(proven) } },
    h("td", {}, mark),
    h("td", {}, item.viewer || `user ${entry?.viewer ?? "?"}`, h("span", { class: "muted" }, ` · ${entry?.role ?? ""}`)),
    h("td", {}, entry ? fullDate(new Date(entry.time * 1000)) : "?"),
    h("td", { class: "mono" }, clipCell),
    h("td", {}, `${entry?.derivative ?? "?"}, ${entry ? range(entry) : ""}`),
    h("td", { class: "mono" }, entry?.lease ? entry.lease.slice(0, 8) : "—"));
}

async function load() {
  let views;
  try {
    views = await api("/api/views", { quiet: true });
  } catch (error) {
    $("log-panel").hidden = true;
    if (error instanceof ApiError && error.status === 403) $("not-owner").hidden = false;
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
    ? `Checked against the log's checkpoint of ${fullDate(new Date(cp.time_ms))} (${cp.size} ${cp.size === 1 ? "entry" : "entries"}, signed by key ${views.public_key.slice(0, 12)}…).`
    : "The log's checkpoint signature did not verify: no entry below can be trusted.";
  const rows = await Promise.all(views.entries.map((item) => checked(item, cp, signed)));
  $("view-rows").replaceChildren(...rows.map(row));
  $("views").hidden = rows.length === 0;
  $("views-empty").hidden = rows.length > 0;
  if (views.flags.length) {
    $("flags").hidden = false;
    $("flags").replaceChildren(h("strong", {}, "Unusual: "), ...views.flags.map((f) => h("div", { class: "flag" }, f.text)));
  }
  $("log-panel").removeAttribute("aria-busy");
}

export function init() {
  return load();
}
