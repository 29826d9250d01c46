// The admin's page: the box's status, users and roles (invitations by one-time link, new links
// that reset two-factor, removal) and the view log's review flags.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { wireUsers } from "../users.js";

const $ = (id) => document.getElementById(id);

function bytes(count) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = count;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit ? 1 : 0)} ${units[unit]}`;
}

function uptime(seconds) {
  const minutes = Math.floor(seconds / 60);
  if (minutes < 1) return "less than a minute";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [];
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (!days) parts.push(`${minutes % 60} min`);
  return parts.join(" ");
}

async function loadSystem() {
  const found = await api("/api/system/status", { quiet: true });
  const set = (field, text) => {
    $("system").querySelector(`[data-field='${field}']`).textContent = text;
  };
  set("version", found.version);
  set("uptime", uptime(found.uptime_s));
  set("cameras", `${found.cameras_running} of ${found.cameras_total}`);
  set("disk", `${bytes(found.disk_free)} of ${bytes(found.disk_total)}`);
}

async function loadFlags() {
  const list = $("flags");
  let flags;
  try {
    flags = await api("/api/review/flags", { quiet: true });
  } catch {
    list.replaceChildren(h("li", { class: "muted" }, "Could not load the flags."));
    return;
  }
  if (!flags.length) {
    list.replaceChildren(h("li", { class: "muted" }, "No flags: nothing unusual in the view log."));
    return;
  }
  list.replaceChildren(...flags.map((flag) => h("li", { class: "flag-row" },
    h("span", { class: `pill ${flag.kind === "over_quota" ? "pill-wait" : "pill-bad"}` }, flag.kind === "over_quota" ? "Over quota" : "Same household"),
    h("span", {}, h("strong", {}, flag.viewer), " ", flag.text),
    h("span", { class: "muted" }, `${flag.views} views`))));
}

export async function init() {
  try {
    await loadSystem();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      $("admin").hidden = true;
      $("not-admin").hidden = false;
      return;
    }
  }
  const loadUsers = wireUsers();
  await Promise.all([loadUsers(), loadFlags()]);
}
