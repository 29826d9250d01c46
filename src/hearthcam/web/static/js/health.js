// A camera's health (GET /api/cameras/{name}/health) in words, and a poller that keeps it fresh
// while the page is visible. Settings > Cameras shows the whole story per camera; the live tile
// a one-line status. Times are judged on the server's clock (server_time), so a phone whose
// clock is off still reads "2 s ago".

import { api } from "./api.js";

export const REFRESH_MS = 4000;
// No frame for this long while "live": say how long it has been quiet.
const STALE_S = 10;

const count = new Intl.NumberFormat();

/** "just now", "8 s ago", "3 min ago", "2 h ago" */
export function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 2) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** "1,204" in the reader's locale. */
export function number(value) {
  return count.format(value ?? 0);
}

/**
 * The camera's state for a badge: key (live, connecting, reconnecting, off, failing, quiet)
 * and its label.
 */
export function healthState(health) {
  if (!health) return { key: "unknown", label: "Unknown" };
  const quietFor = health.last_frame_at == null ? null : health.server_time - health.last_frame_at;
  switch (health.connection) {
    case "stopped":
      return { key: "off", label: "Off" };
    case "connecting":
      return { key: "connecting", label: "Connecting" };
    case "reconnecting":
      return { key: "reconnecting", label: "Reconnecting" };
    default:
      if (health.analysis_failing) return { key: "failing", label: "Analysis failing" };
      if (diskFull(health)) return { key: "failing", label: "Disk full" };
      if (quietFor !== null && quietFor > STALE_S) return { key: "quiet", label: "No picture" };
      return { key: "live", label: "Live" };
  }
}

// A "disk full: ..." error this recent means footage is not being saved now.
const DISK_FULL_S = 30;

/** Whether the camera's footage could not be saved lately for want of space. */
export function diskFull(health) {
  if (!health.last_error?.startsWith("disk full") || health.last_error_at == null) return false;
  return health.server_time - health.last_error_at < DISK_FULL_S;
}

/** "last frame 2 s ago" (or "no frame yet"). */
export function lastFrame(health) {
  if (health.last_frame_at == null) return "no frame yet";
  return `last frame ${ago(health.server_time - health.last_frame_at)}`;
}

/** "×37" for an error that repeated, "" for one that happened once. */
export function repeats(health) {
  return health.last_error_count > 1 ? `×${number(health.last_error_count)}` : "";
}

/**
 * The last error with how long ago and how often, or null when there was none. The message
 * loses the camera's key in front (the page already says which camera).
 */
export function lastError(health) {
  if (!health.last_error) return null;
  const when = health.last_error_at == null ? "" : ago(health.server_time - health.last_error_at);
  const prefix = `${health.camera}: `;
  const message = health.last_error.startsWith(prefix) ? health.last_error.slice(prefix.length) : health.last_error;
  return { message, when, repeats: repeats(health) };
}

/**
 * Polls the health of some cameras every few seconds while the page is visible and hands each
 * answer (or null when it failed) to `show(name, health)`. Returns a stop function.
 */
export function watchHealth(names, show) {
  let timer = null;
  let stopped = false;
  let busy = false;

  async function poll() {
    timer = null;
    if (busy || stopped) return;
    busy = true;
    await Promise.all(
      names.map(async (name) => {
        try {
          show(name, await api(`/api/cameras/${encodeURIComponent(name)}/health`, { quiet: true }));
        } catch {
          show(name, null);
        }
      }),
    );
    busy = false;
    if (!stopped && !document.hidden) timer = setTimeout(poll, REFRESH_MS);
  }

  function onVisibility() {
    if (stopped) return;
    if (document.hidden && timer !== null) {
      clearTimeout(timer);
      timer = null;
    } else if (!document.hidden && timer === null && !busy) {
      poll();
    }
  }

  document.addEventListener("visibilitychange", onVisibility);
  poll();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
