// System (owners: their cameras; admins: the box): per camera the frames in and analysed a
// second, drops, the detector's time, the analysis CPU share, the footage kept and how far back
// it reaches; the disk; and the last log lines with a level filter. Refreshed every few
// seconds while the page is visible.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { fullDate } from "../format.js";
import { ago, number, REFRESH_MS } from "../health.js";
import { size } from "../storage.js";

const $ = (id) => document.getElementById(id);
const STATE = { live: "Live", connecting: "Connecting", reconnecting: "Reconnecting", stopped: "Not running" };

const rate = (value) => (value >= 10 ? value.toFixed(0) : value.toFixed(1));

/** "3 h 20 min", "12 min", "40 s" */
function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  const hours = Math.floor(s / 3600);
  if (hours >= 48) return `${Math.floor(hours / 24)} days`;
  const minutes = Math.floor((s % 3600) / 60);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

function stat(field, label, value, title) {
  return h("div", { class: "system-stat", dataset: { field }, title },
    h("dt", {}, label), h("dd", {}, value));
}

function cameraRow(camera, now) {
  const horizon = camera.oldest_footage_at == null
    ? "none yet"
    : `${span(now - camera.oldest_footage_at)} back`;
  const horizonTitle = camera.oldest_footage_at == null ? "" : `Since ${fullDate(new Date(camera.oldest_footage_at * 1000))}`;
  const detector = camera.detector_ms == null ? "idle" : `${camera.detector_ms.toFixed(1)} ms`;
  const error = camera.last_error
    ? h("p", { class: "system-error", dataset: { field: "last_error" } },
        h("span", { class: "muted" }, camera.last_error_at == null ? "Last error: " : `Last error ${ago(now - camera.last_error_at)}: `),
        camera.last_error.replace(`${camera.camera}: `, ""))
    : null;
  return h("li", { class: "system-camera", dataset: { camera: camera.camera, state: camera.connection } },
    h("div", { class: "system-camera-head" },
      h("strong", {}, camera.display_name),
      h("span", { class: "pill system-state" }, STATE[camera.connection] ?? camera.connection)),
    h("dl", { class: "system-stats" },
      stat("fps", "Frames a second", `${rate(camera.fps_in)} in · ${rate(camera.fps_analysed)} analysed`),
      stat("dropped", "Dropped", `${rate(camera.dropped_per_s)}/s · ${number(camera.frames_dropped)} in all`),
      stat("detector", "Detector", detector, `${rate(camera.inferences_per_s)} inferences a second`),
      stat("cpu", "CPU", `${(camera.cpu_share * 100).toFixed(1)} %`),
      stat("footage", "Footage", `${size(camera.footage_bytes)} · ${number(camera.segments)} pieces`),
      stat("horizon", "Oldest recording", horizon, horizonTitle),
      stat("events", "Oldest event kept", camera.oldest_event_at == null ? "none" : `${span(now - camera.oldest_event_at)} back`,
        camera.oldest_event_at == null ? "" : `Since ${fullDate(new Date(camera.oldest_event_at * 1000))}`)),
    error);
}

function showSystem(system) {
  const list = $("system-camera-list");
  const now = system.server_time;
  list.replaceChildren(...system.cameras.map((camera) => cameraRow(camera, now)));
  if (!system.cameras.length) list.append(h("li", { class: "muted" }, "No cameras."));
  const disk = $("system-disk");
  disk.querySelector('[data-field="free"]').textContent = `${size(system.free_bytes)} of ${size(system.total_bytes)}`;
  disk.querySelector('[data-field="footage"]').textContent = size(system.footage_bytes);
  disk.querySelector('[data-field="cores"]').textContent = String(system.cpu_count);
  const running = system.cameras.filter((c) => c.connection === "live").length;
  $("system-summary").textContent = `${running} of ${system.cameras.length} camera${system.cameras.length === 1 ? "" : "s"} running · ${size(system.free_bytes)} free`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function showLogs(logs) {
  const list = $("log-list");
  list.replaceChildren(
    ...logs.lines.map((line) =>
      h("li", { class: "log-line", dataset: { level: line.level } },
        h("time", { class: "log-time", datetime: new Date(line.at * 1000).toISOString(), title: fullDate(new Date(line.at * 1000)) },
          timeFormat.format(new Date(line.at * 1000))),
        h("span", { class: "log-level" }, line.level),
        h("span", { class: "log-message" }, line.message))),
  );
  if (!logs.lines.length) list.append(h("li", { class: "muted log-empty" }, "Nothing at this level."));
}

export async function init() {
  const level = $("log-level");
  let timer = null;
  let busy = false;
  let again = false; // the level changed while a refresh was on its way

  async function refresh() {
    timer = null;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    again = false;
    try {
      const [system, logs] = await Promise.all([
        api("/api/system", { quiet: true }),
        api(`/api/system/logs?level=${encodeURIComponent(level.value)}`, { quiet: true }),
      ]);
      showSystem(system);
      showLogs(logs);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        $("system-denied").hidden = false;
        $("system").hidden = true;
        busy = false;
        return;
      }
    }
    busy = false;
    if (again) refresh();
    else if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }

  level.addEventListener("change", () => {
    if (timer !== null) clearTimeout(timer);
    refresh();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === null && !busy) refresh();
  });
  await refresh();
}
