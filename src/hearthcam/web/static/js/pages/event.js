// One event: its clip (seekable: the server answers range requests), snapshot, what was
// detected, download and delete.

import { ApiError, api } from "../api.js";
import { confirmDialog, h } from "../dom.js";
import {
  badgeClass, duration, fullDate, labelList, parseTime, percent, verdictLabel,
} from "../format.js";
import { followEvents } from "../stream.js";
import { shareWithReceipt } from "../share.js";
import { flash, toast } from "../toast.js";

const $ = (id) => document.getElementById(id);

function eventId() {
  const given = document.getElementById("event")?.dataset.eventId;
  if (given) return given;
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] ?? "");
}

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function renderFacts(event) {
  const start = parseTime(event.start);
  const facts = [
    ...fact("Verdict", h("span", { class: badgeClass(event.verdict) }, verdictLabel(event.verdict))),
    ...fact("Camera", event.camera_name || event.camera),
    ...fact("Time", h("time", { datetime: start.toISOString() }, fullDate(start))),
    ...fact("Duration", duration(event.duration)),
  ];
  if (event.labels?.length) facts.push(...fact("Seen", labelList(event.labels)));
  if (event.zones?.length) {
    facts.push(...fact("Zones", h("ul", { class: "tags" }, event.zones.map((zone) => h("li", {}, zone)))));
  }
  if (event.score !== undefined && event.score !== null) facts.push(...fact("Confidence", percent(event.score)));
  facts.push(...fact("Alert", event.alert ? "Sent" : "Not sent"));
  $("facts").replaceChildren(...facts);
}

function renderTracks(tracks) {
  const root = $("tracks");
  if (!tracks?.length) {
    root.replaceChildren(h("p", { class: "muted" }, "Only motion: no person, pet or vehicle was recognised."));
    return;
  }
  const rows = [...tracks]
    .sort((a, b) => (b.best_score ?? 0) - (a.best_score ?? 0))
    .map((track) =>
      h("tr", {},
        h("th", { scope: "row" }, labelList([track.label])),
        h("td", { class: "num" }, percent(track.best_score)),
        h("td", { class: "num" }, track.hits ?? "–"),
        h("td", {}, track.zones?.length ? track.zones.join(", ") : h("span", { class: "muted" }, "–"))));
  root.replaceChildren(
    h("div", { class: "table-wrap" },
      h("table", { class: "table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Object"),
          h("th", { scope: "col", class: "num" }, "Best score"),
          h("th", { scope: "col", class: "num", title: "Frames it was detected in" }, "Frames"),
          h("th", { scope: "col" }, "Zones"))),
        h("tbody", {}, rows))),
  );
}

// A long event's footage is in consecutive clips: one button each, the first playing.
function renderParts(urls, video, offer) {
  const nav = $("clip-parts");
  if (urls.length < 2 || nav.childElementCount) return;
  const buttons = urls.map((url, i) => {
    const button = h("button", { type: "button", class: "btn", "aria-pressed": i === 0 ? "true" : "false" },
      `Clip ${i + 1} of ${urls.length}`);
    button.addEventListener("click", () => {
      for (const other of buttons) other.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-pressed", "true");
      video.src = url;
      offer(url);
      video.play().catch(() => {});
    });
    return button;
  });
  nav.replaceChildren(...buttons);
  nav.hidden = false;
}

function render(event) {
  const title = `${verdictLabel(event.verdict)} at ${event.camera_name || event.camera}`;
  document.title = `${title} · hearthcam`;
  $("event-title").textContent = title;
  const start = parseTime(event.start);
  $("event-when").textContent = `${fullDate(start)} · ${duration(event.duration)}`;
  renderFacts(event);
  renderTracks(event.tracks);

  const video = $("clip");
  const download = $("download");
  if (event.clip_url) {
    if (!video.getAttribute("src")) {
      if (event.snapshot_url) video.poster = event.snapshot_url;
      video.src = event.clip_url;
      video.addEventListener("loadedmetadata", () => {
        // The player takes the clip's shape (no bars around a 4:3 camera).
        if (video.videoWidth && video.videoHeight) {
          video.closest(".player").style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
        }
      }, { once: true });
      video.setAttribute("aria-label", `Clip: ${title}`);
    }
    const offer = (clipUrl) => {
      const url = new URL(clipUrl, location.href);
      url.searchParams.set("download", "1");
      download.href = url.pathname + url.search;
    };
    offer(event.clip_url);
    download.hidden = false;
    renderParts(event.clip_urls || [], video, offer);
    const share = $("share");
    if (share) share.hidden = false;
  } else {
    video.closest(".player").replaceChildren(h("div", { class: "player-empty" }, "This event has no clip."));
    download.hidden = true;
  }
  const snapshot = $("snapshot");
  if (event.snapshot_url) {
    snapshot.src = event.snapshot_url;
    snapshot.alt = `Snapshot: ${title}, ${fullDate(start)}`;
    $("snapshot-caption").textContent = "The frame where it was seen best.";
  } else {
    snapshot.closest(".panel").hidden = true;
  }
  $("event").removeAttribute("aria-busy");
}

function gone() {
  stopMedia();
  $("event").hidden = true;
  $("event-missing").hidden = false;
}

/** Stops the clip and its pending range requests (before the files are deleted). */
function stopMedia() {
  const video = $("clip");
  if (!video) return;
  video.pause();
  video.removeAttribute("src");
  video.removeAttribute("poster");
  video.load();
  const snapshot = $("snapshot");
  if (snapshot) snapshot.removeAttribute("src");
}

async function remove(id) {
  const ok = await confirmDialog({
    title: "Delete this event?",
    body: "Its clip and snapshot are deleted from this box for good. This cannot be undone.",
    confirm: "Delete",
    danger: true,
  });
  if (!ok) return;
  stopMedia();
  try {
    await api(`/api/events/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) return;
  }
  flash("Event deleted.", "ok");
  location.replace("/");
}

export async function init() {
  const id = eventId();
  let deleting = false;
  document.querySelector("[data-action='delete']").addEventListener("click", async () => {
    deleting = true;
    await remove(id);
    deleting = false;
  });
  // Back to the timeline as it was left (filters), if that is where we came from.
  document.querySelector("[data-action='back']").addEventListener("click", (event) => {
    const from = document.referrer ? new URL(document.referrer) : null;
    if (from && from.origin === location.origin && from.pathname === "/" && history.length > 1) {
      event.preventDefault();
      history.back();
    }
  });
  $("share")?.addEventListener("click", async () => {
    try {
      const shared = await shareWithReceipt(id);
      if (shared) {
        flash("Shared. It is checked and blurred before anyone sees it; you can withdraw it here.", "ok");
        location.assign("/shared");
      }
    } catch {
      /* the API showed the error */
    }
  });
  let event;
  try {
    event = await api(`/api/events/${encodeURIComponent(id)}`, { quiet: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) gone();
    else toast("Could not load this event. Reload to try again.", "error");
    return;
  }
  render(event);
  followEvents({
    updated: (changed) => {
      if (changed?.id === id) api(`/api/events/${encodeURIComponent(id)}`, { quiet: true }).then(render, () => {});
    },
    deleted: (removed) => {
      if (removed?.id === id && !deleting) gone();
    },
  });
}
