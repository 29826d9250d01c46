// One event: its clip (seekable: the server answers range requests), snapshot, what was
// detected, download and delete.

import { ApiError, api, capitalize } from "../api.js";
import { confirmDialog, formError, h, setBusy } from "../dom.js";
import {
  badgeClass, duration, fullDate, labelList, parseTime, percent, verdictLabel,
} from "../format.js";
import { checkLock, isLocked, lockedPanel, lockedThumb } from "../locked.js";
import { followEvents } from "../stream.js";
import { shareWithReceipt } from "../share.js";
import { flash, toast } from "../toast.js";

const $ = (id) => document.getElementById(id);
/** Which of the event's clips is on show (0 until the first render), from 1. */
let shownPart = 0;

function eventId() {
  const given = document.getElementById("event")?.dataset.eventId;
  if (given) return given;
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] ?? "");
}

function fact(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

/** The duration to show: the clip's own when there is one (what the player will show). */
function shownDuration(event) {
  return event.clip_duration ?? event.duration;
}

/** Who the event recognised (familiar faces; the household's own people only). */
async function showPeople(event) {
  let found;
  try {
    found = await api(`/api/events/${encodeURIComponent(event.id)}/people`, { quiet: true });
  } catch {
    return;
  }
  if (!found.names.length) return;
  $("facts").append(...fact("Recognised", h("span", { class: "event-people" }, found.names.join(", "))));
}

function renderFacts(event) {
  const start = parseTime(event.start);
  const facts = [
    ...fact("Verdict", h("span", { class: badgeClass(event.verdict) }, verdictLabel(event.verdict))),
    ...fact("Camera", event.camera_name || event.camera),
    ...fact("Time", h("time", { datetime: start.toISOString() }, fullDate(start))),
    ...fact(event.clip_duration != null ? "Clip" : "Duration", duration(shownDuration(event))),
  ];
  if (event.labels?.length) facts.push(...fact("Seen", labelList(event.labels)));
  if (event.zones?.length) {
    facts.push(...fact("Zones", h("ul", { class: "tags" }, event.zones.map((zone) => h("li", {}, zone)))));
  }
  if (event.score !== undefined && event.score !== null) facts.push(...fact("Confidence", percent(event.score)));
  facts.push(...fact("Alert", event.alert ? "Sent" : "Not sent"));
  $("facts").replaceChildren(...facts);
  showPeople(event);
}

/** One row per label (the API groups the tracks): how many, how well seen, where. */
function objectTable(groups, caption) {
  const rows = groups.map((group) =>
    h("tr", { dataset: { label: group.label } },
      h("th", { scope: "row" }, labelList([group.label])),
      h("td", { class: "num object-count" }, group.count),
      h("td", { class: "num" }, percent(group.best_score)),
      h("td", {}, group.zones?.length ? group.zones.join(", ") : h("span", { class: "muted" }, "–"))));
  return h("div", { class: "table-wrap" },
    h("table", { class: "table objects" },
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Object"),
        h("th", { scope: "col", class: "num", title: "Objects of this kind followed" }, "Count"),
        h("th", { scope: "col", class: "num" }, "Best score"),
        h("th", { scope: "col" }, "Zones"))),
      h("tbody", {}, rows)));
}

function renderObjects(event) {
  const objects = event.objects ?? [];
  const parked = event.parked ?? [];
  $("tracks").replaceChildren(objects.length
    ? objectTable(objects, "Objects detected in this event")
    : h("p", { class: "muted" }, parked.length
      ? "Nothing moving was recognised: only the parked vehicles below."
      : "Only motion: no person, pet or vehicle was recognised."));
  $("parked-panel").hidden = parked.length === 0;
  $("parked").replaceChildren(parked.length ? objectTable(parked, "Parked vehicles") : "");
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
      offer(url, i + 1, urls.length);
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
  $("event-when").textContent = `${fullDate(start)} · ${duration(shownDuration(event))}`;
  renderFacts(event);
  renderObjects(event);
  const inHistory = $("in-history");
  const at = (start.getTime() / 1000).toFixed(3);
  inHistory.href = `/history/${encodeURIComponent(event.camera)}?t=${at}`;
  inHistory.hidden = false;

  const video = $("clip");
  const download = $("download");
  const locked = isLocked() && Boolean(event.clip_url || event.snapshot_url);
  if (locked) showLocked(event);
  if (event.clip_url && locked) {
    download.hidden = true;
  } else if (event.clip_url) {
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
    // The clip on show is the one downloaded and the one shared (a long event's clips are
    // shared one by one, each under its own receipt).
    const offer = (clipUrl, part = 1, parts = 1) => {
      const url = new URL(clipUrl, location.href);
      url.searchParams.set("download", "1");
      download.href = url.pathname + url.search;
      shownPart = part;
      const share = $("share");
      if (share) share.textContent = parts > 1 ? `Share clip ${part} as feedback` : "Share as feedback";
    };
    // A re-render (the event grew) keeps the clip the owner chose.
    if (!shownPart) offer(event.clip_url, 1, (event.clip_urls || []).length);
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
    if (!locked) snapshot.src = event.snapshot_url;
    snapshot.alt = `Snapshot: ${title}, ${fullDate(start)}`;
    $("snapshot-caption").replaceChildren("The frame where it was seen best.");
    if (document.body.dataset.role === "owner" && event.labels?.includes("person")) {
      $("snapshot-caption").append(" ", h("a", { href: `/people?event=${encodeURIComponent(event.id)}` }, "Add this person to People"));
    }
  } else {
    snapshot.closest(".panel").hidden = true;
  }
  $("event").removeAttribute("aria-busy");
}

/** The player and the snapshot say the recordings are locked; the owner unlocks in place. */
function showLocked(event) {
  const player = $("clip").closest(".player");
  if (player.querySelector(".locked-panel")) return;
  const snapshot = $("snapshot");
  const thumb = lockedThumb();
  $("clip").hidden = true;
  snapshot.hidden = true;
  snapshot.after(thumb);
  player.classList.add("player-locked");
  player.append(lockedPanel({
    onUnlocked: () => {
      player.querySelector(".locked-panel")?.remove();
      player.classList.remove("player-locked");
      thumb.remove();
      $("clip").hidden = false;
      snapshot.hidden = false;
      render(event); // loads the clip and the snapshot now
    },
  }));
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

/** The event with seconds around it, as an export (made in the background; see /exports). */
function wireExport(id) {
  const dialog = $("export-dialog");
  const form = $("export-event-form");
  $("export").addEventListener("click", () => {
    formError(form, "");
    dialog.showModal();
  });
  form.querySelector("[data-action='export-cancel']").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const before = Number($("export-before").value);
    const after = Number($("export-after").value);
    if (![before, after].every((n) => Number.isFinite(n) && n >= 0 && n <= 3600)) {
      formError(form, "Seconds before and after: 0 to 3600 each.");
      return;
    }
    setBusy(form, true, "Starting…");
    try {
      await api("/api/exports", { method: "POST", body: { event_id: id, before, after }, quiet: true });
    } catch (error) {
      formError(form, error instanceof ApiError ? capitalize(error.detail) : "Could not start the export.");
      return;
    } finally {
      setBusy(form, false);
    }
    dialog.close();
    flash("Export started. It is listed here while it is made.", "ok");
    location.assign("/exports");
  });
}

export async function init() {
  const id = eventId();
  wireExport(id);
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
      const shared = await shareWithReceipt(id, shownPart || 1);
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
  await checkLock();
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
