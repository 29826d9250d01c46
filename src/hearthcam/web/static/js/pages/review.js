// The annotator workbench: take a lease on the next blurred clip, watch it (watermarked, no
// download) with the model's boxes drawn over it, and confirm or correct the verdict from the
// keyboard. Confirm, not draw: Enter records the model's suggestion with its boxes as they are.

import { ApiError, api } from "../api.js";
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

const state = { lease: null, verdict: null, reason: null, deadline: 0, timer: 0, busy: false };

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

// The model's boxes as keyframes, confirmed as they are (one track per box).
function keyframes(lease) {
  const frames = new Map();
  lease.boxes.forEach((box, i) => {
    const list = frames.get(box.frame) ?? [];
    list.push({ xyxy: box.xyxy, label: box.label, track: i });
    frames.set(box.frame, list);
  });
  return [...frames].map(([frame, boxes]) => ({ frame, boxes }));
}

function drawBoxes() {
  const video = $("clip");
  const canvas = $("boxes");
  const lease = state.lease;
  const rect = video.getBoundingClientRect();
  canvas.width = Math.round(rect.width * devicePixelRatio);
  canvas.height = Math.round(rect.height * devicePixelRatio);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!lease || !video.videoWidth) return;
  // Where the picture is inside the element (object-fit: contain).
  const scale = Math.min(canvas.width / video.videoWidth, canvas.height / video.videoHeight);
  const w = video.videoWidth * scale;
  const hgt = video.videoHeight * scale;
  const x0 = (canvas.width - w) / 2;
  const y0 = (canvas.height - hgt) / 2;
  const fps = lease.fps || 10;
  const frame = Math.round(video.currentTime * fps);
  // Each keyframe's boxes stay up for a second around it: enough to see, not to mislead.
  const near = lease.boxes.filter((b) => Math.abs(b.frame - frame) <= fps / 2);
  ctx.lineWidth = 2 * devicePixelRatio;
  ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
  for (const box of near) {
    const [a, b, c, d] = box.xyxy;
    ctx.strokeStyle = "#ffd54a";
    ctx.fillStyle = "#ffd54a";
    ctx.strokeRect(x0 + a * w, y0 + b * hgt, (c - a) * w, (d - b) * hgt);
    ctx.fillText(`${box.label} ${Math.round(box.score * 100)}%`, x0 + a * w + 3, y0 + b * hgt + 14 * devicePixelRatio);
  }
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

function facts(lease) {
  const objects = lease.tracks.length
    ? lease.tracks.map((t) => `${t.label} (${Math.round(t.best_score * 100)}%)`).join(", ")
    : "none";
  const rows = [
    ["Time of day", BUCKETS[lease.time_of_day] ?? "unknown"],
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
  const body = { verdict, reason: verdict === "false_alarm" ? state.reason : null, keyframes: keyframes(lease) };
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

function onKey(event) {
  if (!state.lease || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target instanceof HTMLElement && event.target.closest("input, textarea, select, dialog")) return;
  const key = event.key.toLowerCase();
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
  video.addEventListener("contextmenu", (event) => event.preventDefault()); // no "Save video as"
  const redraw = () => {
    drawBoxes();
    if (state.lease && "requestVideoFrameCallback" in video) video.requestVideoFrameCallback(redraw);
  };
  video.addEventListener("loadeddata", redraw);
  video.addEventListener("seeked", drawBoxes);
  addEventListener("resize", drawBoxes);
  document.addEventListener("keydown", onKey);
  return loadQueue();
}
