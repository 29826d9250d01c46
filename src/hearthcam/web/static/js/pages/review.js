// The annotator workbench: take a lease on the next blurred clip, watch it (watermarked, no
// download) with the model's boxes drawn over it, and confirm or correct the verdict from the
// keyboard. Confirm, not draw: Enter records the model's suggestion with its boxes as they are,
// or as corrected on the keyframes (boxes-editor.js).

import { ApiError, api } from "../api.js";
import { BoxesEditor, LABELS } from "../boxes-editor.js";
import { confirmDialog, h } from "../dom.js";
import { duration } from "../format.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);

const VERDICTS = [
  ["threat", "Threat", "1"],
  ["benign_person", "Person, benign", "2"],
  ["pet", "Pet", "3"],
  ["vehicle", "Vehicle", "4"],
  ["false_alarm", "False alarm", "5"],
];
const REASONS = [
  ["light", "Light", "l"],
  ["shadow", "Shadow", "s"],
  ["rain", "Rain", "r"],
  ["insect", "Insect", "i"],
  ["other", "Other", "o"],
];
const BUCKETS = { night: "Night (0–6)", morning: "Morning (6–12)", afternoon: "Afternoon (12–18)", evening: "Evening (18–24)" };

const state = { lease: null, verdict: null, reason: null, deadline: 0, timer: 0, busy: false, editor: null };

function choiceButtons(container, choices, pick) {
  container.replaceChildren(
    ...choices.map(([value, label, key]) =>
      h("button", { type: "button", class: "btn verdict", dataset: { value }, "aria-pressed": "false", onclick: () => pick(value) },
        h("kbd", {}, key.toUpperCase()), ` ${label}`)),
  );
}

function mark(container, value) {
  for (const button of container.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.value === value));
  }
}

function pickVerdict(value) {
  state.verdict = value;
  if (value !== "false_alarm") state.reason = null;
  mark($("verdicts"), value);
  mark($("reasons"), state.reason);
  $("reasons").hidden = value !== "false_alarm";
  $("confirm").disabled = false;
}

function pickReason(value) {
  if (state.verdict !== "false_alarm") pickVerdict("false_alarm");
  state.reason = value;
  mark($("reasons"), value);
}

// The edit controls follow the editor: live while paused on a keyframe, the selected box's label.
function syncTools() {
  const editor = state.editor;
  const editing = editor.editing() !== null;
  const box = editor.selectedBox();
  $("box-add").disabled = !editing;
  $("box-next").disabled = !editing || editor.boxes().length === 0;
  $("box-delete").disabled = !box;
  const select = $("box-label");
  const label = box?.label ?? editor.drawLabel;
  // A pre-label the list does not name (another detector class) is kept as it is.
  if (![...select.options].some((o) => o.value === label)) select.append(h("option", { value: label }, label));
  select.value = label;
  $("play").textContent = $("clip").paused ? "Play" : "Pause";
  const frames = [...editor.frames.keys()].sort((a, b) => a - b);
  const at = frames.indexOf(editor.editing());
  $("key-status").textContent = at >= 0 ? `Keyframe ${at + 1} of ${frames.length}: editing` : "";
}

function onLabel() {
  const label = $("box-label").value;
  if (state.editor.selectedBox()) state.editor.setLabel(label);
  else state.editor.drawLabel = label;
}

function tick() {
  const left = Math.max(0, Math.round((state.deadline - performance.now()) / 1000));
  const minutes = Math.floor(left / 60);
  const seconds = String(left % 60).padStart(2, "0");
  $("countdown").textContent = left > 0 ? `Lease ends in ${minutes}:${seconds}` : "Lease ended";
  $("countdown").classList.toggle("review-countdown-low", left < 60);
  if (left === 0) {
    endLease("The lease ended before a verdict was recorded; the clip went back to the queue.");
  }
}

// The objects followed, one entry a label: how many, and the best score among them.
function grouped(tracks) {
  const byLabel = new Map();
  for (const t of tracks) {
    const seen = byLabel.get(t.label) ?? { count: 0, best: 0 };
    byLabel.set(t.label, { count: seen.count + 1, best: Math.max(seen.best, t.best_score) });
  }
  return [...byLabel].map(([label, { count, best }]) =>
    `${label}${count > 1 ? ` ×${count}` : ""} (${count > 1 ? "best " : ""}${Math.round(best * 100)}%)`);
}

function facts(lease) {
  const objects = lease.tracks.length ? grouped(lease.tracks).join(", ") : "none";
  const rows = [
    // A review hub shows no time of day at all (none leaves a home for its annotators).
    ...(lease.time_of_day ? [["Time of day", BUCKETS[lease.time_of_day] ?? lease.time_of_day]] : []),
    ["Length", lease.duration ? duration(lease.duration) : "unknown"],
    ["Objects followed", objects],
    ["Watermark", lease.watermark],
  ];
  $("facts").replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function showLease(lease) {
  state.lease = lease;
  state.verdict = null;
  state.reason = null;
  state.deadline = performance.now() + lease.expires_in * 1000;
  $("idle").hidden = true;
  $("lease").hidden = false;
  const video = $("clip");
  video.src = lease.clip_url;
  state.editor.load(lease);
  syncTools();
  facts(lease);
  const suggested = VERDICTS.find(([v]) => v === lease.suggested);
  $("suggested").textContent = suggested ? `The model says: ${suggested[1]}. Enter confirms it.` : "The model makes no suggestion.";
  mark($("verdicts"), null);
  $("reasons").hidden = true;
  $("confirm").disabled = !suggested;
  clearInterval(state.timer);
  state.timer = setInterval(tick, 1000);
  tick();
}

function endLease(message) {
  clearInterval(state.timer);
  state.lease = null;
  state.editor.clear();
  const video = $("clip");
  video.pause();
  video.removeAttribute("src");
  video.load();
  $("lease").hidden = true;
  if (message) toast(message, "info");
  loadQueue();
}

async function take() {
  $("take").disabled = true;
  try {
    showLease(await api("/api/review/leases", { method: "POST", quiet: true }));
    loadQueue(false);
  } catch (error) {
    const text = error instanceof ApiError ? error.detail : "Could not take a clip.";
    $("idle-text").textContent = text.charAt(0).toUpperCase() + text.slice(1) + ".";
    $("take").disabled = false;
  }
}

async function leaseCall(path, body) {
  const lease = state.lease;
  if (!lease || state.busy) return null;
  state.busy = true;
  try {
    return { data: await api(`/api/review/leases/${lease.id}/${path}`, { method: "POST", body }) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 410) endLease("This lease has ended.");
    return null;
  } finally {
    state.busy = false;
  }
}

async function record() {
  const lease = state.lease;
  if (!lease) return;
  const verdict = state.verdict ?? lease.suggested;
  if (!verdict) return;
  if (verdict === "false_alarm" && !state.reason) {
    pickVerdict("false_alarm");
    toast("A false alarm of what? Press L, S, R, I or O.", "info");
    return;
  }
  const body = { verdict, reason: verdict === "false_alarm" ? state.reason : null, keyframes: state.editor.keyframes() };
  const done = await leaseCall("annotation", body);
  if (done) endLease(`Recorded: ${VERDICTS.find(([v]) => v === verdict)[1]}.`);
}

async function release() {
  if (await leaseCall("release")) endLease("Given back.");
}

async function report() {
  const sure = await confirmDialog({
    title: "This clip should not be here?",
    body: "It is destroyed at once and nobody is offered it again. Use this for intimate or private footage the checks missed.",
    confirm: "Remove it",
    danger: true,
  });
  if (!sure) return;
  const done = await leaseCall("report");
  if (done) endLease("Removed. Thank you.");
}

const ARROWS = { arrowleft: [-1, 0], arrowright: [1, 0], arrowup: [0, -1], arrowdown: [0, 1] };

// The box keys: , and . seek keyframes; A, B, Delete and the arrows edit on a keyframe.
function onBoxKey(key, shift) {
  const editor = state.editor;
  if (key === ",") editor.seekKeyframe(-1);
  else if (key === ".") editor.seekKeyframe(1);
  else if (editor.editing() === null) return false;
  else if (key === "a") editor.add(editor.drawLabel);
  else if (key === "b") editor.selectNext();
  else if ((key === "delete" || key === "backspace") && editor.selectedBox()) editor.remove();
  else if (key === "escape" && editor.selectedBox()) editor.select(-1);
  else if (key in ARROWS && editor.selectedBox()) {
    const [dx, dy] = ARROWS[key];
    editor.nudge(dx / 100, dy / 100, shift);
  } else return false;
  return true;
}

function onKey(event) {
  if (!state.lease || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLElement && event.target.closest("input, textarea, select, dialog")) return;
  const key = event.key.toLowerCase();
  if (onBoxKey(key, event.shiftKey)) {
    event.preventDefault();
    return;
  }
  const verdict = VERDICTS.find(([, , k]) => k === key);
  const reason = REASONS.find(([, , k]) => k === key);
  if (verdict) pickVerdict(verdict[0]);
  else if (reason) pickReason(reason[0]);
  else if (key === "enter") record();
  else if (key === "x") report();
  else return;
  event.preventDefault();
}

async function loadQueue(resume = true) {
  let queue;
  try {
    queue = await api("/api/review/queue", { quiet: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) $("not-annotator").hidden = false;
    else toast("Could not load the queue. Reload to try again.", "error");
    return;
  }
  $("quota").textContent = `${queue.quota_left} of ${queue.quota} left today`;
  $("waiting").textContent = `${queue.available} waiting`;
  if (resume && queue.lease_id && !state.lease) {
    showLease(await api(`/api/review/leases/${queue.lease_id}`));
    return;
  }
  if (state.lease) return;
  $("idle").hidden = false;
  $("take").disabled = queue.available === 0 || queue.quota_left === 0;
  $("idle-text").textContent = queue.quota_left === 0
    ? "You reached today's quota. Thank you!"
    : queue.available === 0 ? "No clip is waiting. Look again later." : "Take the next clip when you are ready.";
}

export function init() {
  choiceButtons($("verdicts"), VERDICTS, pickVerdict);
  choiceButtons($("reasons"), REASONS, pickReason);
  $("take").addEventListener("click", take);
  $("confirm").addEventListener("click", record);
  $("release").addEventListener("click", release);
  $("report").addEventListener("click", report);
  const video = $("clip");
  const editor = new BoxesEditor($("boxes"), video, syncTools);
  state.editor = editor;
  $("box-label").replaceChildren(...LABELS.map((label) => h("option", { value: label }, label)));
  $("box-label").addEventListener("change", onLabel);
  $("prev-key").addEventListener("click", () => editor.seekKeyframe(-1));
  $("next-key").addEventListener("click", () => editor.seekKeyframe(1));
  $("play").addEventListener("click", () => (video.paused ? video.play() : video.pause()));
  $("box-add").addEventListener("click", () => editor.add(editor.drawLabel));
  $("box-next").addEventListener("click", () => editor.selectNext());
  $("box-delete").addEventListener("click", () => editor.remove());
  video.addEventListener("contextmenu", (event) => event.preventDefault()); // no "Save video as"
  // One frame callback at a time (a new clip's first frame cancels the last clip's).
  let pending = 0;
  const redraw = () => {
    pending = 0;
    editor.draw();
    if (state.lease && "requestVideoFrameCallback" in video) pending = video.requestVideoFrameCallback(redraw);
  };
  const settle = () => {
    editor.draw();
    syncTools();
  };
  video.addEventListener("loadeddata", () => {
    if (pending) video.cancelVideoFrameCallback(pending);
    redraw();
  });
  video.addEventListener("play", settle);
  video.addEventListener("pause", settle);
  video.addEventListener("seeked", settle);
  addEventListener("resize", () => editor.draw());
  document.addEventListener("keydown", onKey);
  return loadQueue();
}
