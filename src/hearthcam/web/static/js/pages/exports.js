// Exports: ask for a stretch of a camera's recording as an MP4, watch it being made (the list
// refreshes while any export is queued or running), download it, delete it. The owner also sees
// who in the household exported, downloaded and deleted what.

import { ApiError, api, capitalize } from "../api.js";
import { confirmDialog, formError, h, setBusy } from "../dom.js";
import { fullDate, parseTime } from "../format.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const STATES = { queued: "Waiting", running: "Exporting", done: "Ready", failed: "Failed" };
const ACTIONS = { created: "Exported", downloaded: "Downloaded", deleted: "Deleted", expired: "Expired" };

let timer = 0;

/** "2026-12-03T17:05:00" in this device's time, as a datetime-local input wants it. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function seconds(input) {
  const when = input.valueAsNumber;
  // valueAsNumber of a datetime-local is its wall time as if it were UTC: undo that.
  return Number.isFinite(when) ? (when + new Date(when).getTimezoneOffset() * 60000) / 1000 : NaN;
}

function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} kB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function length(totalSeconds) {
  const s = Math.round(totalSeconds);
  const m = Math.floor(s / 60);
  return m ? `${m} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
}

function pill(state) {
  const kind = { done: "pill pill-ok", failed: "pill pill-bad", queued: "pill pill-wait", running: "pill pill-wait" }[state] ?? "pill";
  return h("span", { class: kind, dataset: { state } }, STATES[state] ?? state);
}

function row(item) {
  const start = parseTime(item.start);
  const end = parseTime(item.end);
  const percent = Math.round((item.progress ?? 0) * 100);
  const parts = [
    h("div", { class: "export-head" },
      h("div", {},
        h("div", { class: "export-title" }, item.camera_name || item.camera),
        h("div", { class: "export-range muted" },
          h("time", { datetime: start.toISOString() }, fullDate(start)), " – ",
          h("time", { datetime: end.toISOString() }, fullDate(end)), ` · ${length(item.duration)}`)),
      pill(item.state)),
  ];
  if (item.state === "queued" || item.state === "running") {
    parts.push(h("div", { class: "export-progress" },
      h("progress", { max: "100", value: String(percent), "aria-label": `Export progress of ${item.camera_name || item.camera}` }),
      h("span", { class: "export-percent" }, `${percent}%`)));
  }
  if (item.state === "failed" && item.error) parts.push(h("p", { class: "export-error" }, item.error));
  const meta = [];
  if (item.size) meta.push(size(item.size));
  meta.push(`deleted automatically ${fullDate(parseTime(item.expires))}`);
  parts.push(h("p", { class: "export-meta muted" }, meta.join(" · ")));
  const actions = h("div", { class: "export-actions" });
  if (item.download_url) {
    actions.append(h("a", { class: "btn btn-primary btn-sm", href: item.download_url, download: "" }, "Download"));
  }
  if (item.event_id) {
    actions.append(h("a", { class: "btn btn-sm", href: `/events/${encodeURIComponent(item.event_id)}` }, "Event"));
  }
  actions.append(h("button", { type: "button", class: "btn btn-ghost btn-sm btn-danger-text", onclick: () => remove(item) }, "Delete"));
  parts.push(actions);
  return h("li", { class: "export-row", dataset: { id: item.id, state: item.state } }, ...parts);
}

async function remove(item) {
  const ok = await confirmDialog({
    title: "Delete this export?",
    body: "The file and its key are deleted from this box for good. Copies you downloaded stay yours.",
    confirm: "Delete",
    danger: true,
  });
  if (!ok) return;
  try {
    await api(`/api/exports/${encodeURIComponent(item.id)}`, { method: "DELETE" });
    toast("Export deleted.", "ok");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) return;
  }
  await refresh();
}

async function loadAudit() {
  if (!$("audit")) return;
  let lines;
  try {
    lines = await api("/api/exports/audit", { quiet: true });
  } catch {
    return;
  }
  $("audit-rows").replaceChildren(...lines.map((line) => {
    const when = parseTime(line.time);
    return h("tr", {},
      h("td", {}, h("time", { datetime: when.toISOString() }, fullDate(when))),
      h("td", {}, line.username || h("span", { class: "muted" }, "hearthcam")),
      h("td", {}, ACTIONS[line.action] ?? line.action),
      h("td", {}, line.camera),
      h("td", { class: "export-range" }, `${fullDate(parseTime(line.start))} – ${fullDate(parseTime(line.end))}`));
  }));
  $("audit").hidden = lines.length === 0;
  $("audit-empty").hidden = lines.length > 0;
}

async function refresh() {
  clearTimeout(timer);
  let items;
  try {
    items = await api("/api/exports", { quiet: true });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) toast("Could not load the exports. Reload to try again.", "error");
    return;
  }
  $("exports").replaceChildren(...items.map(row));
  $("exports-empty").hidden = items.length > 0;
  $("exports-panel").removeAttribute("aria-busy");
  await loadAudit();
  if (items.some((item) => item.state === "queued" || item.state === "running")) {
    timer = setTimeout(refresh, POLL_MS);
  }
}

async function loadCameras() {
  const select = $("export-camera");
  let cameras = [];
  try {
    cameras = await api("/api/cameras", { quiet: true });
  } catch {
    /* the list below still loads; the form says there is no camera */
  }
  select.replaceChildren(...cameras.map((camera) => h("option", { value: camera.name }, camera.display_name || camera.name)));
  const wanted = new URLSearchParams(location.search).get("camera");
  if (wanted && cameras.some((camera) => camera.name === wanted)) select.value = wanted;
  return cameras.length;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  formError(form, "");
  const camera = $("export-camera").value;
  const start = seconds($("export-start"));
  const end = seconds($("export-end"));
  if (!camera) return formError(form, "There is no camera to export from.");
  if (!Number.isFinite(start) || !Number.isFinite(end)) return formError(form, "Give both a start and an end time.");
  if (end <= start) return formError(form, "The end must be after the start.");
  setBusy(form, true, "Starting…");
  try {
    await api("/api/exports", { method: "POST", body: { camera, start, end }, quiet: true });
    toast("Export started. It appears below when it is ready.", "ok");
  } catch (error) {
    formError(form, error instanceof ApiError ? capitalize(error.detail) : "Could not start the export.");
    return;
  } finally {
    setBusy(form, false);
  }
  await refresh();
}

export async function init() {
  const now = new Date();
  $("export-end").value = localInput(now);
  $("export-start").value = localInput(new Date(now.getTime() - 5 * 60 * 1000));
  $("export-form").addEventListener("submit", submit);
  const count = await loadCameras();
  if (!count) $("export-form").querySelector('[type="submit"]').disabled = true;
  await refresh();
}
