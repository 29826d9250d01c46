// The timeline: the household's recent events as cards grouped by day, filtered by verdict and
// camera, kept current by the event stream, with multi-select and bulk delete.

import { api } from "../api.js";
import { confirmDialog, h } from "../dom.js";
import {
  badgeClass, clock, dayKey, dayLabel, duration, labelList, parseTime, verdictLabel,
} from "../format.js";
import { checkLock, isLocked, lockedPanel, lockedThumb } from "../locked.js";
import { followEvents } from "../stream.js";
import { toast } from "../toast.js";

const DEFAULT_HOURS = 24;
const LIMIT = 500;
const BULK_MAX = 500;

const state = {
  hours: DEFAULT_HOURS,
  filter: { camera: "", verdict: "" },
  events: new Map(), // id -> event, as the API gives it
  cards: new Map(), // id -> card element (kept across renders so images are not reloaded)
  selected: new Set(),
  cameras: new Map(), // name -> display name
  loading: null, // AbortController of the running load
};

const $ = (id) => document.getElementById(id);

function cameraName(event) {
  return event.camera_name || state.cameras.get(event.camera) || event.camera;
}

function matches(event) {
  const { camera, verdict } = state.filter;
  if (camera && event.camera !== camera) return false;
  if (verdict && event.verdict !== verdict) return false;
  return parseTime(event.start).getTime() >= Date.now() - state.hours * 3600 * 1000;
}

function describe(event) {
  const when = clock(parseTime(event.start));
  return `${verdictLabel(event.verdict)} at ${cameraName(event)}, ${when}`;
}

function bellIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.innerHTML = '<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z M10 20a2 2 0 0 0 4 0" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>';
  return svg;
}

/** Shows the locked notice above the timeline, or rebuilds the cards once unlocked. */
async function watchLock() {
  if (document.getElementById("locked-banner") || !(await checkLock()).locked) return;
  const banner = lockedPanel({
    onUnlocked: () => {
      banner.remove();
      state.cards.clear(); // rebuilt with their snapshots
      render();
    },
  });
  banner.id = "locked-banner";
  $("timeline").before(banner);
  state.cards.clear();
  render();
}

function buildCard(event) {
  const start = parseTime(event.start);
  const label = describe(event);
  let thumb = h("div", { class: "thumb-empty" }, "No snapshot");
  if (event.snapshot_url && isLocked()) thumb = lockedThumb();
  else if (event.snapshot_url) {
    thumb = h("img", { src: event.snapshot_url, alt: "", loading: "lazy", decoding: "async", width: 320, height: 180 });
    thumb.addEventListener("error", watchLock, { once: true }); // locked since the page loaded?
  }
  const objects = labelList(event.labels);
  const zones = event.zones?.length ? h("ul", { class: "tags", "aria-label": "Zones" }, event.zones.map((zone) => h("li", {}, zone))) : null;
  const checkbox = h("input", { type: "checkbox", class: "select-input", "aria-label": `Select: ${label}` });
  checkbox.checked = state.selected.has(event.id);
  checkbox.addEventListener("change", () => {
    if (checkbox.checked) state.selected.add(event.id);
    else state.selected.delete(event.id);
    updateSelection();
  });
  const card = h(
    "article",
    { class: "event-card", dataset: { id: event.id, verdict: event.verdict } },
    h(
      "a",
      { class: "event-link", href: `/events/${encodeURIComponent(event.id)}`, "aria-label": `${label}, ${duration(event.duration)}` },
      h("div", { class: "thumb" }, thumb, h("span", { class: "thumb-duration" }, duration(event.duration))),
      h(
        "div",
        { class: "event-card-body" },
        h(
          "div",
          { class: "event-card-top" },
          h("span", { class: badgeClass(event.verdict) }, verdictLabel(event.verdict)),
          event.alert ? h("span", { class: "alerted", title: "Alert sent" }, bellIcon(), h("span", { class: "sr-only" }, "Alert sent")) : null,
          h("time", { datetime: start.toISOString(), class: "event-time" }, clock(start)),
        ),
        h("h3", { class: "event-camera" }, cameraName(event)),
        objects ? h("p", { class: "event-objects" }, objects) : null,
        zones,
      ),
    ),
    h("label", { class: "select-box", title: "Select" }, checkbox),
  );
  return card;
}

function sortedEvents() {
  return [...state.events.values()]
    .filter(matches)
    .sort((a, b) => parseTime(b.start) - parseTime(a.start) || String(a.id).localeCompare(String(b.id)));
}

function render() {
  const root = $("timeline");
  const events = sortedEvents();
  const groups = new Map();
  for (const event of events) {
    const date = parseTime(event.start);
    const key = dayKey(date);
    if (!groups.has(key)) groups.set(key, { date, items: [] });
    groups.get(key).items.push(event);
  }
  const sections = [];
  for (const { date, items } of groups.values()) {
    const cards = items.map((event) => {
      let card = state.cards.get(event.id);
      if (!card) {
        card = buildCard(event);
        state.cards.set(event.id, card);
      }
      return card;
    });
    const count = `${items.length} event${items.length === 1 ? "" : "s"}`;
    sections.push(
      h("section", { class: "day", "aria-label": `${dayLabel(date)}, ${count}` },
        h("h2", { class: "day-title" }, dayLabel(date), h("span", { class: "day-count" }, count)),
        h("div", { class: "cards" }, cards)),
    );
  }
  root.replaceChildren(...sections);
  root.removeAttribute("aria-busy");
  const filtered = Boolean(state.filter.camera || state.filter.verdict);
  const empty = $("empty");
  empty.hidden = events.length > 0;
  $("empty-title").textContent = filtered ? "No matching events" : "All quiet";
  $("empty-text").textContent = filtered
    ? "Nothing matches these filters in this time."
    : `Nothing happened in the ${windowLabel().toLowerCase()}. When a camera sees something, it shows up here at once.`;
  empty.querySelector("[data-action='clear-filters']").hidden = !filtered;
  $("event-count").textContent = events.length ? `${events.length} event${events.length === 1 ? "" : "s"}` : "no events";
  for (const id of [...state.selected]) if (!state.events.has(id)) state.selected.delete(id);
  updateSelection();
}

function updateSelection() {
  const count = state.selected.size;
  $("selection-bar").hidden = count === 0;
  $("selection-count").textContent = `${count} selected`;
  document.body.classList.toggle("selecting", count > 0);
  for (const [id, card] of state.cards) {
    const box = card.querySelector(".select-input");
    if (box) box.checked = state.selected.has(id);
    card.classList.toggle("is-selected", state.selected.has(id));
  }
}

function windowLabel() {
  if (state.hours <= 24) return `Last ${state.hours} hours`;
  return state.hours % 24 === 0 ? `Last ${state.hours / 24} days` : `Last ${state.hours} hours`;
}

async function load() {
  state.loading?.abort();
  const controller = new AbortController();
  state.loading = controller;
  const params = new URLSearchParams({
    since: String(Math.floor(Date.now() / 1000 - state.hours * 3600)),
    limit: String(LIMIT),
  });
  if (state.filter.camera) params.set("camera", state.filter.camera);
  if (state.filter.verdict) params.set("verdict", state.filter.verdict);
  $("timeline").setAttribute("aria-busy", "true");
  try {
    const events = await api(`/api/events?${params}`, { signal: controller.signal });
    if (controller !== state.loading) return;
    // Events outside the filter stay known (the stream updates them) but are not shown.
    for (const event of events ?? []) {
      const old = state.events.get(event.id);
      state.events.set(event.id, event);
      if (old && JSON.stringify(old) !== JSON.stringify(event)) state.cards.delete(event.id);
    }
    const shown = new Set((events ?? []).map((event) => event.id));
    for (const [id, event] of state.events) {
      if (!shown.has(id) && matches(event)) forget(id); // gone while we were not looking
    }
    render();
  } catch (error) {
    if (error?.name === "AbortError") return;
    $("timeline").removeAttribute("aria-busy");
    $("timeline").replaceChildren(h("p", { class: "notice notice-warn" }, "Could not load the events. ", h("a", { href: "" }, "Reload")));
  }
}

function forget(id) {
  state.events.delete(id);
  state.cards.delete(id);
  state.selected.delete(id);
}

function setChips(group, attribute, value) {
  for (const chip of $(group).querySelectorAll(".chip")) {
    chip.setAttribute("aria-pressed", String(chip.getAttribute(attribute) === value));
  }
}

function applyFilter(change) {
  Object.assign(state.filter, change);
  setChips("verdict-chips", "data-verdict", state.filter.verdict);
  setChips("camera-chips", "data-camera", state.filter.camera);
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(state.filter)) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
  render(); // what is already known shows at once; the load fills in the rest
  load();
}

async function deleteSelected() {
  const ids = [...state.selected];
  if (!ids.length) return;
  const many = ids.length === 1 ? "this event" : `these ${ids.length} events`;
  const ok = await confirmDialog({
    title: ids.length === 1 ? "Delete 1 event?" : `Delete ${ids.length} events?`,
    body: `The clips and snapshots of ${many} are deleted from this box for good. This cannot be undone.`,
    confirm: "Delete",
    danger: true,
  });
  if (!ok) return;
  let deleted = 0;
  try {
    for (let i = 0; i < ids.length; i += BULK_MAX) {
      const chunk = ids.slice(i, i + BULK_MAX);
      const result = await api("/api/events/delete", { method: "POST", body: { ids: chunk } });
      deleted += Number(result?.deleted ?? 0);
      for (const id of chunk) forget(id);
    }
  } finally {
    render();
  }
  toast(`Deleted ${deleted} event${deleted === 1 ? "" : "s"}.`, "ok");
}

function setStreamState(value) {
  const element = $("stream-state");
  element.dataset.state = value;
  element.querySelector(".stream-text").textContent =
    value === "open" ? "Live updates" : value === "reconnecting" ? "Reconnecting…" : "Updates paused";
}

function onEventChanged(event, isNew) {
  if (!event?.id) return;
  state.events.set(event.id, event);
  state.cards.delete(event.id);
  if (!matches(event)) {
    render();
    return;
  }
  render();
  const card = state.cards.get(event.id);
  if (isNew && card) {
    card.classList.add("is-new");
    card.addEventListener("animationend", () => card.classList.remove("is-new"), { once: true });
  }
}

async function loadCameras() {
  try {
    const cameras = await api("/api/cameras", { quiet: true });
    const row = $("camera-chips");
    for (const camera of cameras ?? []) {
      state.cameras.set(camera.name, camera.display_name || camera.name);
      row.append(h("button", { type: "button", class: "chip", "data-camera": camera.name, "aria-pressed": "false" }, camera.display_name || camera.name));
    }
    row.hidden = (cameras ?? []).length < 2;
    setChips("camera-chips", "data-camera", state.filter.camera);
  } catch {
    $("camera-chips").hidden = true;
  }
}

async function loadWindow() {
  if (document.body.dataset.role !== "owner") return;
  try {
    const settings = await api("/api/settings", { quiet: true });
    const hours = Object.values(settings?.retention ?? {}).map(Number).filter(Number.isFinite);
    if (hours.length) state.hours = Math.max(DEFAULT_HOURS, ...hours);
  } catch {
    /* the default window */
  }
  $("window-label").textContent = windowLabel();
}

export async function init() {
  const params = new URLSearchParams(location.search);
  state.filter.camera = params.get("camera") ?? "";
  state.filter.verdict = params.get("verdict") ?? "";
  setChips("verdict-chips", "data-verdict", state.filter.verdict);

  $("verdict-chips").addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest(".chip") : null;
    if (chip) applyFilter({ verdict: chip.getAttribute("data-verdict") ?? "" });
  });
  $("camera-chips").addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest(".chip") : null;
    if (chip) applyFilter({ camera: chip.getAttribute("data-camera") ?? "" });
  });
  document.querySelector("[data-action='clear-filters']").addEventListener("click", () => applyFilter({ camera: "", verdict: "" }));
  document.querySelector("[data-action='select-all']").addEventListener("click", () => {
    for (const event of sortedEvents()) state.selected.add(event.id);
    updateSelection();
  });
  document.querySelector("[data-action='clear-selection']").addEventListener("click", () => {
    state.selected.clear();
    updateSelection();
  });
  document.querySelector("[data-action='delete-selected']").addEventListener("click", deleteSelected);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selected.size && !document.querySelector("dialog[open]")) {
      state.selected.clear();
      updateSelection();
    }
  });

  await Promise.all([loadCameras(), loadWindow(), watchLock()]);
  followEvents({
    created: (event) => onEventChanged(event, true),
    updated: (event) => onEventChanged(event, false),
    deleted: ({ id }) => {
      if (!state.events.has(id)) return;
      forget(id);
      render();
    },
    state: setStreamState,
    reopened: load, // events may have come and gone while the stream was down
  });
  await load();
}
