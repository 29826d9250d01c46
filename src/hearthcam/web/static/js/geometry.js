// Zones and masks drawn on a camera's picture (Settings). Coordinates are relative (0..1 of
// the frame), as the config and the pipeline take them; the server keeps them per camera and
// the running camera uses them from its next frame. The drawing takes the picture's own shape
// (a 4:3 camera is drawn on at 4:3, never stretched), and the camera list follows Settings >
// Cameras (a camera added a moment ago can be drawn on at once).

import { ApiError, api, capitalize } from "./api.js";
import { h } from "./dom.js";
import { toast } from "./toast.js";

const SVG = "http://www.w3.org/2000/svg";
const DEFAULT_ASPECT = "16 / 9"; // until the picture has come
const PICTURE_RETRY_MS = 2000; // a camera added a moment ago may have no picture yet
const PICTURE_TRIES = 15;
const FRESH_S = 1.5; // the server keeps a frame for a snapshot while it is 2 s old
const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const $ = (id) => document.getElementById(id);

let camera = null;
let saved = { mask: [], zones: [] };
let shapes = { mask: [], zones: [] };
let draft = [];
let pictureTries = 0;
let pictureRetry = 0;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

const pointsAttr = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");
const kind = () => document.querySelector("input[name='shape-kind']:checked")?.value ?? "zone";
const changed = () => JSON.stringify(shapes) !== JSON.stringify(saved);

function centre(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

function render() {
  const picture = $("geometry-svg");
  const shown = [
    ...shapes.mask.map((m) => svg("polygon", { points: pointsAttr(m.points), class: "shape-mask" })),
    ...shapes.zones.map((z) => svg("polygon", { points: pointsAttr(z.points), class: "shape-zone" })),
  ];
  if (draft.length > 1) shown.push(svg(draft.length > 2 ? "polygon" : "polyline", { points: pointsAttr(draft), class: "shape-draft" }));
  for (const [x, y] of draft) shown.push(svg("line", { x1: x, y1: y, x2: x, y2: y, class: "shape-corner" }));
  picture.replaceChildren(...shown);
  $("geometry-labels").replaceChildren(
    ...shapes.zones.map((zone) => {
      const [x, y] = centre(zone.points);
      const label = h("span", { class: "shape-label" }, zone.name);
      // Through CSSOM, not a style attribute: the CSP (style-src 'self') refuses inline styles.
      label.style.left = `${x * 100}%`;
      label.style.top = `${y * 100}%`;
      return label;
    }),
  );
  $("shape-list").replaceChildren(
    ...shapes.zones.map((zone, i) => row("zone", `Zone ${zone.name}`, () => shapes.zones.splice(i, 1))),
    ...shapes.mask.map((_, i) => row("mask", `Mask ${i + 1}`, () => shapes.mask.splice(i, 1))),
  );
  $("shape-finish").disabled = draft.length < 3;
  $("shape-undo").disabled = draft.length === 0;
  $("geometry-save").disabled = !changed() || draft.length > 0;
  $("geometry-reset").disabled = !changed() && draft.length === 0;
  $("zone-name-field").hidden = kind() !== "zone";
  $("drawing-hint").textContent = draft.length === 0
    ? "Click the picture to add corners."
    : `${draft.length} corner${draft.length === 1 ? "" : "s"}${draft.length < 3 ? "; at least 3 make a shape." : ". Finish the shape, or add more."}`;
}

function row(type, label, remove) {
  return h("li", { class: "shape-row" },
    h("span", { class: `shape-swatch shape-swatch-${type}`, "aria-hidden": "true" }),
    h("span", { class: "shape-name" }, label),
    h("button", { type: "button", class: "btn btn-ghost btn-sm btn-danger-text", "aria-label": `Remove ${label}`, onclick: () => { remove(); render(); } }, "Remove"));
}

function error(message) {
  const el = $("geometry-error");
  el.textContent = message;
  el.hidden = !message;
}

function addCorner(event) {
  const box = event.currentTarget.getBoundingClientRect();
  const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 1000) / 1000));
  draft.push([clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)]);
  render();
}

function finish() {
  if (draft.length < 3) return;
  if (kind() === "zone") {
    const name = $("zone-name").value.trim();
    if (!NAME.test(name)) {
      error("A zone name is 1–32 letters, digits, - or _ (for example porch).");
      $("zone-name").focus();
      return;
    }
    if (shapes.zones.some((z) => z.name === name)) {
      error(`There is already a zone called ${name}.`);
      return;
    }
    shapes.zones.push({ name, points: draft, objects: [] });
    $("zone-name").value = "";
  } else {
    shapes.mask.push({ points: draft });
  }
  error("");
  draft = [];
  render();
}

/**
 * Asks for the camera's picture once its health says a fresh frame is there (a camera added a
 * moment ago has none yet, and a snapshot asked for too early is a 404); tries again a few times.
 */
async function fetchPicture() {
  const name = camera;
  const path = encodeURIComponent(name);
  // A camera that does not run here may still have a picture (one fed from elsewhere): asked.
  let fresh = true;
  try {
    const health = await api(`/api/cameras/${path}/health`, { quiet: true });
    const recent = health.last_frame_at != null && health.server_time - health.last_frame_at < FRESH_S;
    fresh = recent || health.connection === "stopped";
  } catch {
    fresh = true;
  }
  if (name !== camera) return; // another camera was chosen meanwhile
  if (fresh) {
    $("geometry-picture").src = `/api/cameras/${path}/snapshot?at=${Date.now()}`;
    return;
  }
  $("geometry-empty").hidden = false;
  if (pictureTries < PICTURE_TRIES) {
    pictureTries += 1;
    pictureRetry = window.setTimeout(fetchPicture, PICTURE_RETRY_MS);
  }
}

/** The frame takes the picture's shape, so the shapes are drawn on it unstretched. */
function pictureLoaded(event) {
  const picture = event.currentTarget;
  window.clearTimeout(pictureRetry);
  picture.hidden = false;
  $("geometry-empty").hidden = true;
  if (picture.naturalWidth && picture.naturalHeight) {
    $("geometry-frame").style.aspectRatio = `${picture.naturalWidth} / ${picture.naturalHeight}`;
    $("geometry-frame").dataset.aspect = (picture.naturalWidth / picture.naturalHeight).toFixed(4);
  }
}

function pictureFailed(event) {
  event.currentTarget.hidden = true;
  $("geometry-empty").hidden = false;
  window.clearTimeout(pictureRetry);
  if (pictureTries < PICTURE_TRIES) {
    pictureTries += 1;
    pictureRetry = window.setTimeout(fetchPicture, PICTURE_RETRY_MS);
  }
}

async function load(name) {
  camera = name;
  draft = [];
  error("");
  const picture = $("geometry-picture");
  $("geometry-empty").hidden = true;
  $("geometry-frame").style.aspectRatio = DEFAULT_ASPECT;
  delete $("geometry-frame").dataset.aspect;
  picture.hidden = true; // until this camera's picture has come
  pictureTries = 0;
  window.clearTimeout(pictureRetry);
  fetchPicture();
  try {
    saved = await api(`/api/cameras/${encodeURIComponent(name)}/geometry`);
  } catch {
    saved = { mask: [], zones: [] };
    error("Could not load this camera's shapes.");
  }
  shapes = structuredClone(saved);
  render();
}

async function save() {
  const button = $("geometry-save");
  button.disabled = true;
  try {
    saved = await api(`/api/cameras/${encodeURIComponent(camera)}/geometry`, { method: "PUT", body: shapes, quiet: true });
    shapes = structuredClone(saved);
    toast("Zones and masks saved; the camera uses them now.", "ok");
    error("");
  } catch (failure) {
    error(failure instanceof ApiError ? capitalize(failure.detail) : String(failure));
  }
  render();
}

/**
 * Fills the camera list from the server, keeping the chosen camera while it is still there;
 * the section is hidden while there is none.
 */
async function refreshCameras() {
  const select = $("geometry-camera");
  let cameras;
  try {
    cameras = (await api("/api/cameras", { quiet: true })) ?? [];
  } catch {
    return;
  }
  $("geometry").hidden = !cameras.length;
  const chosen = select.value;
  const names = cameras.map((c) => c.name);
  const same = names.length === select.options.length && names.every((n, i) => select.options[i].value === n);
  if (!same) {
    select.replaceChildren(...cameras.map((c) => h("option", { value: c.name }, c.display_name || c.name)));
    if (names.includes(chosen)) select.value = chosen;
  }
  if (cameras.length && (select.value !== camera || !names.includes(camera))) await load(select.value);
}

export async function wireGeometry() {
  const select = $("geometry-camera");
  select.addEventListener("change", () => load(select.value));
  $("geometry-picture").addEventListener("load", pictureLoaded);
  $("geometry-picture").addEventListener("error", pictureFailed);
  $("geometry-svg").addEventListener("click", addCorner);
  $("shape-finish").addEventListener("click", finish);
  $("shape-undo").addEventListener("click", () => { draft.pop(); render(); });
  $("geometry-save").addEventListener("click", save);
  $("geometry-reset").addEventListener("click", () => { shapes = structuredClone(saved); draft = []; error(""); render(); });
  for (const radio of document.querySelectorAll("input[name='shape-kind']")) radio.addEventListener("change", render);
  // Settings > Cameras tells of every camera added, edited or removed; another tab's changes
  // are picked up when this one is looked at again.
  document.addEventListener("cameras-changed", refreshCameras);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshCameras();
  });
  await refreshCameras();
}
