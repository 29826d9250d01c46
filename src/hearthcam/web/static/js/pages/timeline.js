// The timeline: the household's events newest first, a page at a time as one scrolls (the API's
// cursor, however far back), filtered by verdict, camera, object, zone, alert and reviewed state,
// or started from a chosen day; runs of similar events fold into one card; cards preview their
// clip on hover (or the preview button, on touch), can be marked reviewed, selected and deleted;
// kept current by the event stream.

import { api } from "../api.js";
import { confirmDialog, h } from "../dom.js";
import {
  badgeClass, clock, dayKey, dayLabel, duration, fullDate, inputDay, labelList, parseInputDay,
  parseTime, verdictLabel,
} from "../format.js";
import { checkLock, isLocked, lockedPanel, lockedThumb } from "../locked.js";
import { followEvents } from "../stream.js";
import { toast } from "../toast.js";

const PAGE = 100;
const BULK_MAX = 500;
// Events of one camera and verdict that follow each other within this many seconds fold into
// one card once there are at least GROUP_MIN of them.
const GROUP_GAP = 5 * 60;
const GROUP_MIN = 3;
const PREVIEW_DELAY = 350; // ms of hovering before a clip starts loading
const FILTERS = ["camera", "verdict", "label", "zone", "alert", "reviewed"];

const state = {
  filter: { camera: "", verdict: "", label: "", zone: "", alert: "", reviewed: "" },
  day: "", // "YYYY-MM-DD" (local): the listing starts at the end of that day
  events: [], // as the API gave them, in its order (newest first)
  byId: new Map(), // id -> event
  cards: new Map(), // id -> card element (kept across renders so images are not reloaded)
  expanded: new Set(), // ids of events in groups the user opened
  selected: new Set(),
  cameras: new Map(), // name -> display name
  cursor: null, // the last event's cursor; null: nothing loaded yet
  done: false, // no older events match
  loading: null, // AbortController of the running load
};

const $ = (id) => document.getElementById(id);

function cameraName(event) {
  return event.camera_name || state.cameras.get(event.camera) || event.camera;
}

function until() {
  return state.day ? parseInputDay(state.day, 1).getTime() / 1000 : null;
}

/** Whether an event pushed by the stream belongs in the list as filtered. */
function matches(event) {
  const f = state.filter;
  if (f.camera && event.camera !== f.camera) return false;
  if (f.verdict && event.verdict !== f.verdict) return false;
  if (f.label && !(event.labels ?? []).includes(f.label)) return false;
  if (f.zone && !(event.zones ?? []).includes(f.zone)) return false;
  if (f.alert && String(Boolean(event.alert)) !== f.alert) return false;
  if (f.reviewed && String(Boolean(event.reviewed)) !== f.reviewed) return false;
  const end = until();
  return end === null || parseTime(event.start).getTime() / 1000 < end;
}

function describe(event) {
  return `${verdictLabel(event.verdict)} at ${cameraName(event)}, ${fullDate(parseTime(event.start))}`;
}

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.innerHTML = path;
  return svg;
}

const BELL = '<path d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15z M10 20a2 2 0 0 0 4 0" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>';
const PLAY = '<path d="M8 5v14l11-7z" fill="currentColor"/>';
const CHECK = '<path d="M5 12.5l4.5 4.5L19 7.5" fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round"/>';

// -- clip preview --------------------------------------------------------------------------------

function startPreview(card, event) {
  const thumb = card.querySelector(".thumb");
  if (!event.clip_url || !thumb || thumb.querySelector("video")) return;
  const video = h("video", {
    class: "thumb-preview", muted: true, loop: true, playsinline: true, preload: "none",
    "aria-hidden": "true", width: 320, height: 180,
  });
  video.muted = true; // the attribute alone does not mute a script-made element
  video.src = event.clip_url;
  video.addEventListener("error", watchLock, { once: true }); // locked since the page loaded?
  thumb.append(video);
  card.classList.add("is-previewing");
  video.play().catch(() => {}); // interrupted by a quick mouse-out: nothing to report
}

function stopPreview(card) {
  const video = card.querySelector(".thumb-preview");
  card.classList.remove("is-previewing");
  card.querySelector(".preview-button")?.setAttribute("aria-pressed", "false");
  if (!video) return;
  video.pause();
  video.removeAttribute("src");
  video.load(); // ends the range requests
  video.remove();
}

function previewOnHover(card, event) {
  let timer = 0;
  card.addEventListener("pointerenter", (e) => {
    if (e.pointerType !== "mouse") return; // touch: the preview button
    timer = window.setTimeout(() => startPreview(card, event), PREVIEW_DELAY);
  });
  card.addEventListener("pointerleave", (e) => {
    if (e.pointerType !== "mouse") return; // a finger lifted: the button stops it
    window.clearTimeout(timer);
    stopPreview(card);
  });
}

// -- cards ---------------------------------------------------------------------------------------


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
    { class: `event-card${event.reviewed ? " is-reviewed" : ""}`, dataset: { id: event.id, verdict: event.verdict } },
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
          event.alert ? h("span", { class: "alerted", title: "Alert sent" }, icon(BELL), h("span", { class: "sr-only" }, "Alert sent")) : null,
          h("time", { datetime: start.toISOString(), class: "event-time", title: fullDate(start) }, clock(start)),
        ),
        h("h3", { class: "event-camera" }, cameraName(event)),
        objects ? h("p", { class: "event-objects" }, objects) : null,
        zones,
      ),
    ),
    h("label", { class: "select-box", title: "Select" }, checkbox),
    event.clip_url
      ? h("button", {
        type: "button", class: "preview-button", title: "Preview the clip", "aria-label": `Preview: ${label}`,
        "aria-pressed": "false",
        onclick: (e) => {
          const button = e.currentTarget;
          const on = !card.classList.contains("is-previewing");
          if (on) startPreview(card, event);
          else stopPreview(card);
          button.setAttribute("aria-pressed", String(on));
        },
      }, icon(PLAY))
      : null,
    h("button", {
      type: "button", class: "review-button", "aria-pressed": String(Boolean(event.reviewed)),
      title: event.reviewed ? "Reviewed: mark unreviewed" : "Mark reviewed",
      "aria-label": `${event.reviewed ? "Reviewed" : "Mark reviewed"}: ${label}`,
      onclick: () => setReviewed(event, !event.reviewed),
    }, icon(CHECK), h("span", {}, event.reviewed ? "Reviewed" : "Mark reviewed")),
  );
  previewOnHover(card, event);
  return card;
}

function cardOf(event) {
  let card = state.cards.get(event.id);
  if (!card) {
    card = buildCard(event);
    state.cards.set(event.id, card);
  }
  return card;
}

/** Runs of similar events (same camera and verdict, each within GROUP_GAP of the next). */
function runs(items) {
  const out = [];
  for (const event of items) {
    const last = out[out.length - 1];
    const prev = last?.[last.length - 1];
    const near = prev
      && prev.camera === event.camera
      && prev.verdict === event.verdict
      && (parseTime(prev.start) - parseTime(event.start)) / 1000 <= GROUP_GAP;
    if (near) last.push(event);
    else out.push([event]);
  }
  return out;
}

function groupCard(run) {
  const [newest] = run;
  const oldest = run[run.length - 1];
  const open = run.some((event) => state.expanded.has(event.id));
  const span = `${clock(parseTime(oldest.start))}–${clock(parseTime(newest.start))}`;
  const text = `${run.length} ${verdictLabel(newest.verdict).toLowerCase()} events at ${cameraName(newest)}, ${span}`;
  const toggle = h("button", {
    type: "button", class: "group-toggle", "aria-expanded": String(open),
    onclick: () => {
      for (const event of run) {
        if (open) state.expanded.delete(event.id);
        else state.expanded.add(event.id);
      }
      render();
    },
  }, h("span", { class: "group-count" }, `×${run.length}`), h("span", {}, open ? "Fold" : `Show all ${run.length}`));
  const head = h("div", { class: "group-head" }, h("span", { class: "group-text" }, text), toggle);
  if (open) {
    return h("div", { class: "event-group is-open", dataset: { count: run.length } }, head, h("div", { class: "cards" }, run.map(cardOf)));
  }
  return h("div", { class: "event-group", dataset: { count: run.length } }, cardOf(newest), head);
}

function render() {
  const root = $("timeline");
  const days = new Map();
  for (const event of state.events) {
    const date = parseTime(event.start);
    const key = dayKey(date);
    if (!days.has(key)) days.set(key, { date, items: [] });
    days.get(key).items.push(event);
  }
  const sections = [];
  for (const { date, items } of days.values()) {
    const cards = runs(items).map((run) => (run.length >= GROUP_MIN ? groupCard(run) : run.map(cardOf)));
    const count = `${items.length}${state.done ? "" : "+"} event${items.length === 1 ? "" : "s"}`;
    sections.push(
      h("section", { class: "day", "aria-label": `${dayLabel(date)}, ${count}` },
        h("h2", { class: "day-title" }, dayLabel(date), h("span", { class: "day-count" }, count)),
        h("div", { class: "cards" }, cards)),
    );
  }
  root.replaceChildren(...sections);
  root.removeAttribute("aria-busy");
  const filtered = FILTERS.some((key) => state.filter[key]) || Boolean(state.day);
  const empty = $("empty");
  const none = state.events.length === 0 && state.done;
  empty.hidden = !none;
  $("empty-title").textContent = filtered ? "No matching events" : "All quiet";
  $("empty-text").textContent = filtered
    ? "Nothing matches these filters."
    : "Nothing has happened yet. When a camera sees something, it shows up here at once.";
  empty.querySelector("[data-action='clear-filters']").hidden = !filtered;
  const n = state.events.length;
  $("event-count").textContent = n ? `${n}${state.done ? "" : "+"} event${n === 1 ? "" : "s"}` : state.done ? "no events" : "loading…";
  $("window-label").textContent = state.day ? `From ${dayLabel(parseInputDay(state.day))} back` : "Newest first";
  $("more").hidden = none;
  $("more-text").textContent = state.done ? (n ? "That is everything." : "") : state.loading ? "Loading older events…" : "";
  document.querySelector("[data-action='load-more']").hidden = state.done || Boolean(state.loading);
  for (const id of [...state.selected]) if (!state.byId.has(id)) state.selected.delete(id);
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

// -- loading -------------------------------------------------------------------------------------

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const key of FILTERS) if (state.filter[key]) params.set(key, state.filter[key]);
  const end = until();
  if (end !== null) params.set("until", String(end));
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}

/** Loads the next page (the first with ``fresh``: the list starts over). */
async function loadPage(fresh = false) {
  if (!fresh && (state.loading || state.done)) return;
  state.loading?.abort();
  const controller = new AbortController();
  state.loading = controller;
  if (fresh) {
    state.events = [];
    state.byId.clear();
    state.cursor = null;
    state.done = false;
    $("timeline").setAttribute("aria-busy", "true");
  }
  const params = query({ limit: String(PAGE) });
  if (state.cursor) params.set("after", state.cursor);
  render();
  try {
    const page = (await api(`/api/events?${params}`, { signal: controller.signal })) ?? [];
    if (controller !== state.loading) return;
    for (const event of page) {
      if (state.byId.has(event.id)) continue; // arrived by the stream meanwhile
      state.byId.set(event.id, event);
      state.events.push(event);
      noteZones(event);
    }
    if (page.length) state.cursor = page[page.length - 1].cursor;
    state.done = page.length < PAGE;
    state.loading = null;
    render();
    fillScreen();
  } catch (error) {
    if (error?.name === "AbortError") return;
    state.loading = null;
    $("timeline").removeAttribute("aria-busy");
    $("more-text").textContent = "Could not load the events.";
    document.querySelector("[data-action='load-more']").hidden = false;
  }
}

/** Loads more while the end of the list is on screen (a tall screen, or a sparse filter). */
function fillScreen() {
  const more = $("more");
  if (!state.done && more.getBoundingClientRect().top < window.innerHeight + 600) loadPage();
}

function reload() {
  for (const card of state.cards.values()) stopPreview(card);
  state.cards.clear();
  loadPage(true);
}

function noteZones(event) {
  const select = $("filter-zone");
  for (const zone of event.zones ?? []) {
    if ([...select.options].some((o) => o.value === zone)) continue;
    select.append(h("option", { value: zone }, zone));
  }
}

// -- changes -------------------------------------------------------------------------------------

function replaceEvent(event) {
  const at = state.events.findIndex((e) => e.id === event.id);
  if (at >= 0) state.events[at] = event;
  state.byId.set(event.id, event);
  const old = state.cards.get(event.id);
  if (old) stopPreview(old);
  state.cards.delete(event.id);
}

function forget(id) {
  state.events = state.events.filter((e) => e.id !== id);
  state.byId.delete(id);
  const card = state.cards.get(id);
  if (card) stopPreview(card);
  state.cards.delete(id);
  state.selected.delete(id);
}

async function setReviewed(event, reviewed) {
  try {
    await api(`/api/events/${encodeURIComponent(event.id)}/reviewed`, { method: reviewed ? "PUT" : "DELETE" });
  } catch {
    return; // the API showed the error
  }
  const changed = { ...event, reviewed };
  if (state.filter.reviewed && String(reviewed) !== state.filter.reviewed) forget(event.id);
  else replaceEvent(changed);
  render();
}

async function reviewAll() {
  const body = {};
  for (const key of ["camera", "verdict", "label", "zone"]) if (state.filter[key]) body[key] = state.filter[key];
  if (state.filter.alert) body.alert = state.filter.alert === "true";
  const end = until();
  if (end !== null) body.until = end;
  const what = Object.keys(body).length ? "every event that matches these filters" : "every event";
  const ok = await confirmDialog({ title: "Mark all reviewed?", body: `This marks ${what} reviewed, on every page.`, confirm: "Mark reviewed" });
  if (!ok) return;
  try {
    const result = await api("/api/events/reviewed", { method: "POST", body });
    const marked = Number(result?.marked ?? 0);
    toast(`Marked ${marked} event${marked === 1 ? "" : "s"} reviewed.`, "ok");
  } catch {
    return;
  }
  reload();
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
  const known = state.byId.get(event.id);
  if (known) event = { ...event, reviewed: known.reviewed }; // the stream does not carry it
  if (!matches(event)) {
    if (known) forget(event.id);
    render();
    return;
  }
  if (known) replaceEvent(event);
  else {
    // Only where it sorts among what is loaded: an older one comes with its page.
    const last = state.events[state.events.length - 1];
    const start = parseTime(event.start);
    if (!state.done && last && start < parseTime(last.start)) return;
    state.byId.set(event.id, event);
    const at = state.events.findIndex((e) => parseTime(e.start) < start);
    state.events.splice(at < 0 ? state.events.length : at, 0, event);
    noteZones(event);
  }
  render();
  const card = state.cards.get(event.id);
  if (isNew && card) {
    card.classList.add("is-new");
    card.addEventListener("animationend", () => card.classList.remove("is-new"), { once: true });
  }
}

// -- filters -------------------------------------------------------------------------------------

function setChips(group, attribute, value) {
  for (const chip of $(group).querySelectorAll(".chip")) {
    chip.setAttribute("aria-pressed", String(chip.getAttribute(attribute) === value));
  }
}

function showFilters() {
  setChips("verdict-chips", "data-verdict", state.filter.verdict);
  setChips("camera-chips", "data-camera", state.filter.camera);
  for (const key of ["label", "zone", "alert", "reviewed"]) {
    const select = $(`filter-${key}`);
    const value = state.filter[key];
    if (value && ![...select.options].some((o) => o.value === value)) select.append(h("option", { value }, value));
    select.value = value;
  }
  $("filter-day").value = state.day;
}

function applyFilter(change) {
  Object.assign(state.filter, change);
  if ("day" in change) {
    state.day = change.day;
    delete state.filter.day;
  }
  showFilters();
  const params = new URLSearchParams(location.search);
  for (const [key, value] of [...Object.entries(state.filter), ["day", state.day]]) {
    if (value) params.set(key, value);
    else params.delete(key);
  }
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
  window.scrollTo(0, 0);
  reload();
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
    await Promise.all((cameras ?? []).map(loadZones));
  } catch {
    $("camera-chips").hidden = true;
  }
}

async function loadZones(camera) {
  try {
    const geometry = await api(`/api/cameras/${encodeURIComponent(camera.name)}/geometry`, { quiet: true });
    for (const zone of geometry?.zones ?? []) noteZones({ zones: [zone.name] });
  } catch {
    /* zones then come from the events as they load */
  }
}

export async function init() {
  const params = new URLSearchParams(location.search);
  for (const key of FILTERS) state.filter[key] = params.get(key) ?? "";
  state.day = /^\d{4}-\d{2}-\d{2}$/.test(params.get("day") ?? "") ? params.get("day") : "";
  showFilters();
  $("filter-day").max = inputDay(new Date());

  $("verdict-chips").addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest(".chip") : null;
    if (chip) applyFilter({ verdict: chip.getAttribute("data-verdict") ?? "" });
  });
  $("camera-chips").addEventListener("click", (event) => {
    const chip = event.target instanceof Element ? event.target.closest(".chip") : null;
    if (chip) applyFilter({ camera: chip.getAttribute("data-camera") ?? "" });
  });
  for (const key of ["label", "zone", "alert", "reviewed"]) {
    $(`filter-${key}`).addEventListener("change", (event) => applyFilter({ [key]: event.target.value }));
  }
  $("filter-day").addEventListener("change", (event) => applyFilter({ day: event.target.value }));
  document.querySelector("[data-action='clear-filters']").addEventListener("click", () => applyFilter({
    camera: "", verdict: "", label: "", zone: "", alert: "", reviewed: "", day: "",
  }));
  document.querySelector("[data-action='review-all']").addEventListener("click", reviewAll);
  document.querySelector("[data-action='load-more']").addEventListener("click", () => loadPage());
  document.querySelector("[data-action='select-all']").addEventListener("click", () => {
    for (const event of state.events) state.selected.add(event.id);
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
  await Promise.all([loadCameras(), watchLock()]);
  followEvents({
    created: (event) => onEventChanged(event, true),
    updated: (event) => onEventChanged(event, false),
    deleted: ({ id }) => {
      if (!state.byId.has(id)) return;
      forget(id);
      render();
    },
    state: setStreamState,
    reopened: reload, // events may have come and gone while the stream was down
  });
  await loadPage(true);
  // Next pages as the end of the list comes near (after the first: it would race it).
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) loadPage();
  }, { rootMargin: "600px 0px" }).observe($("more"));
}
