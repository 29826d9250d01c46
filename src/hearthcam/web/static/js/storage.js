// Settings > Storage: free space, the floor retention keeps free, what it always keeps, what its
// last pass deleted, and "disk full" when it can free no more (GET /api/settings/storage).
// Refreshed every few seconds while the page is visible.

import { api } from "./api.js";
import { ago, number, REFRESH_MS } from "./health.js";

const MB = 1024 * 1024;

/** "1.2 GB", "340 MB", "12 KB" */
export function size(bytes) {
  if (bytes >= 1024 * MB) return `${(bytes / (1024 * MB)).toFixed(1)} GB`;
  if (bytes >= MB) return `${Math.round(bytes / MB)} MB`;
  return `${Math.max(0, Math.round(bytes / 1024))} KB`;
}

/** "the newest 10 min and events in progress" */
function keepText(minutes) {
  const span = minutes >= 60 ? `${+(minutes / 60).toFixed(1)} h` : `${+minutes.toFixed(1)} min`;
  return `the newest ${span}, events in progress`;
}

/** What the last clean-up did, in words. */
export function sweepText(storage) {
  const sweep = storage.last_sweep;
  if (!sweep) return "not run yet";
  const when = ago(storage.server_time - sweep.at);
  const parts = [];
  const recordings = sweep.segments_deleted + sweep.segments_purged;
  if (recordings) parts.push(`${number(recordings)} recordings`);
  if (sweep.event_media_purged) parts.push(`${number(sweep.event_media_purged)} clips`);
  if (sweep.events_deleted) parts.push(`${number(sweep.events_deleted)} old events`);
  if (!parts.length) return `${when}: nothing to delete`;
  return `${when}: deleted ${parts.join(", ")} (${size(sweep.bytes_freed)})`;
}

function show(panel, storage) {
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  const problem = panel.querySelector(".storage-problem");
  const failure = panel.querySelector(".storage-failure");
  if (!storage) {
    panel.dataset.state = "unknown";
    return;
  }
  panel.dataset.state = storage.disk_full ? "full" : "ok";
  field("free").textContent = `${size(storage.free_bytes)} of ${size(storage.total_bytes)}`;
  field("floor").textContent = storage.floor_bytes ? size(storage.floor_bytes) : "no minimum";
  field("keep").textContent = keepText(storage.keep_recent_minutes);
  field("sweep").textContent = sweepText(storage);
  problem.hidden = !storage.disk_full;
  const detail = (storage.problem ?? "").replace(/^disk full:\s*/i, "");
  problem.textContent = storage.disk_full
    ? `Disk full: ${detail}. Recording goes on into whatever space is left.`
    : "";
  const failedAt = storage.last_write_failure_at;
  failure.hidden = failedAt == null;
  failure.textContent = failedAt == null
    ? ""
    : `Last write refused for want of space ${ago(storage.server_time - failedAt)}.`;
}

/** Fills the Storage panel and keeps it fresh; returns a stop function. */
export function wireStorage(panel) {
  let timer = null;
  let stopped = false;

  async function poll() {
    timer = null;
    try {
      show(panel, await api("/api/settings/storage", { quiet: true }));
    } catch {
      show(panel, null);
    }
    if (!stopped && !document.hidden) timer = setTimeout(poll, REFRESH_MS);
  }

  function onVisibility() {
    if (!document.hidden && timer === null && !stopped) poll();
  }

  document.addEventListener("visibilitychange", onVisibility);
  poll();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  };
}
