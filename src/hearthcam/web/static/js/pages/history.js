// A camera's history: a scrubbable timeline of the last days (recorded spans, camera-down gaps,
// events coloured by verdict) over a player that plays any moment (js/history-player.js).
// Keys: ArrowLeft/ArrowRight 10 s, N next event, P previous, Space play/pause.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";
import { clock, duration, fullDate, labelList, verdictLabel } from "../format.js";
import { HistoryPlayer } from "../history-player.js";

const $ = (id) => document.getElementById(id);
const DAYS = 3; // how far back the timeline reaches by default
const STEP_S = 10; // ArrowLeft / ArrowRight
// Tick steps, and the room (px) a label needs: the finest step whose labels do not touch.
const TICK_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const LABEL_PX = { seconds: 96, minutes: 76 }; // "05:09:15 PM", "04:40 PM" and a gap

const secondsFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const weekdayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short" });

const state = {
  camera: "",
  data: null, // the /api/history answer
  player: null,
  zoom: 3600,
  viewStart: 0,
  scrubbing: null, // wall time under the pointer while dragging
};

function wallDate(wall) {
  return new Date(wall * 1000);
}

/** The visible stretch: ``zoom`` seconds around ``centre``, inside what was listed. */
function frame(centre) {
  const { since, until } = state.data;
  const width = Math.min(state.zoom, until - since);
  state.viewStart = Math.min(Math.max(centre - width / 2, since), until - width);
}

function viewEnd() {
  return state.viewStart + Math.min(state.zoom, state.data.until - state.data.since);
}

function percentOf(wall) {
  return ((wall - state.viewStart) / (viewEnd() - state.viewStart)) * 100;
}

function bar(className, start, end, extra = {}) {
  const left = Math.max(0, percentOf(start));
  const right = Math.min(100, percentOf(end));
  if (right <= 0 || left >= 100) return null;
  const node = h("div", { class: className, ...extra });
  node.style.left = `${left}%`;
  node.style.width = `max(${Math.max(0, right - left)}%, 2px)`;
  return node;
}

function render() {
  const { spans, gaps, events } = state.data;
  const lanes = [];
  for (const span of spans) lanes.push(bar("history-span", span.start, span.end));
  for (const gap of gaps) lanes.push(bar("history-gap", gap.start, gap.end, { title: `Camera down: ${gap.reason}` }));
  for (const event of events) {
    const title = `${verdictLabel(event.verdict)} at ${secondsFormat.format(wallDate(event.start))}`;
    const labels = event.labels?.length ? ` (${labelList(event.labels)})` : "";
    lanes.push(
      bar("history-marker", event.start, Math.max(event.end, event.start + 1), {
        dataset: { verdict: event.verdict, id: event.id },
        title: title + labels,
      }),
    );
  }
  $("history-lanes").replaceChildren(...lanes.filter(Boolean));
  const track = $("history-track");
  track.dataset.viewStart = state.viewStart.toFixed(3);
  track.dataset.viewEnd = viewEnd().toFixed(3);
  renderTicks();
  renderPlayhead();
}

function tickStep() {
  const width = $("history-track").clientWidth || 600;
  const span = viewEnd() - state.viewStart;
  const fits = (step) => (step / span) * width >= (step < 60 ? LABEL_PX.seconds : LABEL_PX.minutes);
  return TICK_STEPS.find(fits) ?? TICK_STEPS[TICK_STEPS.length - 1];
}

function renderTicks() {
  const step = tickStep();
  // Steps of a day or less fall on the local clock's round times (offset in whole minutes).
  const offset = new Date(state.viewStart * 1000).getTimezoneOffset() * 60;
  const first = Math.ceil((state.viewStart - offset) / step) * step + offset;
  const ticks = [];
  const short = step < 60;
  const width = $("history-track").clientWidth || 600;
  const half = (short ? LABEL_PX.seconds : LABEL_PX.minutes) / 2 - 8;
  for (let wall = first; wall <= viewEnd(); wall += step) {
    const x = (percentOf(wall) / 100) * width;
    if (x < half || x > width - half) continue; // a label would hang off the edge
    const date = wallDate(wall);
    const midnight = step >= 3600 && date.getHours() === 0 && date.getMinutes() === 0;
    const label = short ? secondsFormat.format(date) : midnight ? `${weekdayFormat.format(date)} ${date.getDate()}` : clock(date);
    const node = h("span", { class: "history-tick" }, label);
    node.style.left = `${percentOf(wall)}%`;
    ticks.push(node);
  }
  $("history-ticks").replaceChildren(...ticks);
}

function position() {
  return state.scrubbing ?? state.player?.position ?? state.data.until;
}

function renderPlayhead() {
  const wall = position();
  if (state.scrubbing === null && (wall < state.viewStart || wall > viewEnd())) {
    frame(wall); // follow the playhead
    render();
    return;
  }
  $("history-playhead").style.left = `${Math.min(100, Math.max(0, percentOf(wall)))}%`;
  const date = wallDate(wall);
  const text = fullDate(date);
  const time = $("history-position");
  time.textContent = text;
  time.dateTime = date.toISOString();
  const track = $("history-track");
  track.setAttribute("aria-valuenow", String(Math.round(wall)));
  track.setAttribute("aria-valuetext", text);
  track.dataset.position = wall.toFixed(3);
}

function wallAt(clientX) {
  const box = $("history-track").getBoundingClientRect();
  const ratio = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
  return state.viewStart + ratio * (viewEnd() - state.viewStart);
}

function seek(wall) {
  const { since, until } = state.data;
  state.player.seek(Math.min(Math.max(wall, since), until));
  renderPlayhead();
}

function jumpToEvent(direction) {
  const now = position();
  const events = state.data.events;
  const found =
    direction > 0
      ? events.find((e) => e.start > now + 1)
      : [...events].reverse().find((e) => e.start < now - 1);
  if (!found) {
    showMessage(direction > 0 ? "No later event." : "No earlier event.", 2000);
    return;
  }
  seek(found.start);
}

let messageTimer = null;
function showMessage(text, hideAfter = 0) {
  const message = $("history-message");
  clearTimeout(messageTimer);
  message.textContent = text ?? "";
  message.hidden = !text;
  if (text && hideAfter) messageTimer = setTimeout(() => (message.hidden = true), hideAfter);
}

function onPlayerState(kind, detail) {
  const player = document.querySelector(".history-player");
  player.dataset.state = kind;
  if (kind === "error" || kind === "end") showMessage(detail);
  else if (kind === "ready") showMessage("");
}

function setPlaying(playing) {
  const button = document.querySelector("[data-action='play']");
  button.textContent = playing ? "Pause" : "Play";
  button.setAttribute("aria-pressed", String(playing));
}

function wirePointer() {
  const track = $("history-track");
  track.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    track.setPointerCapture(event.pointerId);
    state.scrubbing = wallAt(event.clientX);
    renderPlayhead();
  });
  track.addEventListener("pointermove", (event) => {
    if (state.scrubbing === null) return;
    state.scrubbing = wallAt(event.clientX);
    renderPlayhead();
  });
  const finish = (event) => {
    if (state.scrubbing === null) return;
    const wall = event.type === "pointercancel" ? null : wallAt(event.clientX);
    state.scrubbing = null;
    if (wall !== null) seek(wall);
    else renderPlayhead();
  };
  track.addEventListener("pointerup", finish);
  track.addEventListener("pointercancel", finish);
}

function wireKeys() {
  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    if (key === "ArrowLeft" || key === "ArrowRight") {
      event.preventDefault();
      seek(position() + (key === "ArrowLeft" ? -STEP_S : STEP_S));
    } else if (key === "n" || key === "N") {
      jumpToEvent(1);
    } else if (key === "p" || key === "P") {
      jumpToEvent(-1);
    } else if (key === " " && !(target instanceof HTMLButtonElement)) {
      event.preventDefault();
      togglePlay();
    }
  });
}

function togglePlay() {
  const video = $("history-video");
  if (video.paused) state.player.play();
  else state.player.pause();
}

function wireControls() {
  const actions = {
    play: togglePlay,
    back10: () => seek(position() - STEP_S),
    fwd10: () => seek(position() + STEP_S),
    "next-event": () => jumpToEvent(1),
    "prev-event": () => jumpToEvent(-1),
  };
  for (const [name, run] of Object.entries(actions)) {
    document.querySelector(`[data-action='${name}']`).addEventListener("click", run);
  }
  for (const chip of $("history-zoom").querySelectorAll("[data-zoom]")) {
    chip.addEventListener("click", () => {
      state.zoom = Number(chip.dataset.zoom);
      for (const other of $("history-zoom").querySelectorAll("[data-zoom]")) {
        other.setAttribute("aria-pressed", String(other === chip));
      }
      frame(position());
      render();
    });
  }
  const video = $("history-video");
  video.addEventListener("play", () => setPlaying(true));
  video.addEventListener("pause", () => setPlaying(false));
  video.addEventListener("loadedmetadata", () => {
    if (video.videoWidth && video.videoHeight) {
      video.closest(".player").style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
    }
  });
  setInterval(() => {
    if (state.scrubbing === null) renderPlayhead();
  }, 250);
  window.addEventListener("resize", () => render());
}

function summarize() {
  const { spans, gaps, events, camera_name: name } = state.data;
  const recorded = spans.reduce((total, span) => total + (span.end - span.start), 0);
  const parts = [`${duration(recorded)} recorded in the last ${DAYS} days`];
  parts.push(`${events.length} event${events.length === 1 ? "" : "s"}`);
  if (gaps.length) parts.push(`camera down ${gaps.length} time${gaps.length === 1 ? "" : "s"}`);
  $("history-summary").textContent = parts.join(" · ");
  $("history-title").textContent = `History · ${name}`;
  document.title = `History · ${name} · hearthcam`;
}

function startAt() {
  const asked = Number(new URLSearchParams(location.search).get("t"));
  if (Number.isFinite(asked) && asked > 0) return asked;
  const last = state.data.spans[state.data.spans.length - 1];
  return last ? Math.max(last.start, last.end - 30) : state.data.until;
}

export async function init() {
  state.camera = $("history").dataset.camera ?? "";
  const asked = Number(new URLSearchParams(location.search).get("t"));
  // The server's clock decides "the last days"; only a moment older than them moves the start.
  let range = `hours=${DAYS * 24}`;
  if (Number.isFinite(asked) && asked > 0 && asked < Date.now() / 1000 - DAYS * 86400 + 3600) {
    range = `since=${(asked - 3600).toFixed(3)}`;
  }
  try {
    state.data = await api(`/api/history/${encodeURIComponent(state.camera)}?${range}`, { quiet: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      $("history").hidden = true;
      $("history-missing").hidden = false;
    } else {
      $("history-summary").textContent = "Could not load the recordings. Reload to try again.";
    }
    return;
  }
  summarize();
  $("history-track").setAttribute("aria-valuemin", String(Math.round(state.data.since)));
  $("history-track").dataset.origin = String(state.data.since); // media time 0
  $("history-track").setAttribute("aria-valuemax", String(Math.round(state.data.until)));
  const video = $("history-video");
  state.player = new HistoryPlayer(video, state.data.media_url, state.data.since, state.data, onPlayerState);
  wireControls();
  wirePointer();
  wireKeys();
  const start = startAt();
  frame(start);
  render();
  $("history").removeAttribute("aria-busy");
  if (!state.data.spans.length) {
    showMessage("Nothing was recorded in the last days.");
    return;
  }
  try {
    await state.player.open();
  } catch (error) {
    showMessage(error.message);
    return;
  }
  seek(start);
  state.player.play();
  window.addEventListener("pagehide", () => state.player.close());
}
