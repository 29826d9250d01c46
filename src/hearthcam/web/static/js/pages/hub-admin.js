// The hub operator's page: how many clips the hub holds and where they stand, each annotator's
// day, and the view log's flags. Counts only: no clip, no home's name.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";

const $ = (id) => document.getElementById(id);

function showFlags(flags) {
  const list = $("flags");
  if (!flags.length) {
    list.replaceChildren(h("li", { class: "muted" }, "No flags: nothing unusual in the view log."));
    return;
  }
  list.replaceChildren(...flags.map((flag) => h("li", { class: "flag-row" },
    h("span", { class: `pill ${flag.kind === "over_quota" ? "pill-wait" : "pill-bad"}` }, flag.kind === "over_quota" ? "Over quota" : "Same home"),
    h("span", {}, h("strong", {}, flag.viewer), " ", flag.text),
    h("span", { class: "muted" }, `${flag.views} views`))));
}

function showPeople(found) {
  const rows = found.annotators.map((person) => h("tr", {},
    h("td", {}, person.username),
    h("td", {}, person.role),
    h("td", {}, h("span", { class: `pill ${person.mfa_enabled ? "pill-ok" : "pill-wait"}` }, person.mfa_enabled ? "On" : "Not enrolled yet")),
    h("td", { class: "num" }, `${person.leases_today} of ${found.daily_quota}`),
    h("td", { class: "num" }, String(person.annotations))));
  const body = $("people").querySelector("tbody");
  body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, "Nobody yet."))]));
  $("terms").textContent = `Each annotator may take ${found.daily_quota} leases a day; a lease lasts ${found.lease_minutes} minutes.`;
}

export async function init() {
  let found;
  try {
    found = await api("/api/hub/admin", { quiet: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      $("hub-admin").hidden = true;
      $("not-admin").hidden = false;
    }
    return;
  }
  for (const cell of $("clips").querySelectorAll("[data-field]")) {
    cell.textContent = String(found[cell.dataset.field]);
  }
  showPeople(found);
  showFlags(found.flags);
}
