// Settings > Cameras: the household's cameras, adding one and editing any. Every stream is
// tested by the server (it connects and decodes a picture) before anything is saved; the Test
// buttons run the same check on demand. Passwords come back from the server as ***; sending
// *** back for the same user and host keeps the stored one.

import { ApiError, api, capitalize } from "./api.js";
import { confirmDialog, formError, h, setBusy } from "./dom.js";
import { healthState, lastError, lastFrame, number, watchHealth } from "./health.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const HINTS = {
  "camera-detect": "The stream hearthcam analyses: a camera's sub-stream is enough.",
  "camera-record": "Recorded as it is, in full quality. Leave empty to record the stream above.",
};

let editing = null; // the camera key being edited, or null when adding
let stopHealth = () => {}; // the health poller of the cameras listed now

/** "H.264, 1280×720, 15 fps" from a stream test. */
function describe(found) {
  const fps = found.fps ? `, ${Math.round(found.fps)} fps` : "";
  return `Works: ${found.codec.toUpperCase()}, ${found.width}×${found.height}${fps}`;
}

function showResult(inputId, text, state) {
  const line = $(`${inputId}-result`);
  line.textContent = text;
  if (state) line.dataset.state = state;
  else delete line.dataset.state;
}

async function testUrl(inputId) {
  const input = $(inputId);
  const url = input.value.trim();
  if (!url) {
    showResult(inputId, "Enter a URL first.", "bad");
    input.focus();
    return;
  }
  const button = document.querySelector(`[data-test-url="${inputId}"]`);
  button.disabled = true;
  try {
    await streamsWork([[inputId, url]]);
  } finally {
    button.disabled = false;
  }
}

/** Tests each non-empty URL; true if all of them gave a picture. */
async function streamsWork(fields) {
  let all = true;
  for (const [inputId, url] of fields) {
    if (!url) continue;
    showResult(inputId, "Connecting…", "busy");
    try {
      const found = await api("/api/cameras/test", { method: "POST", body: editing ? { url, camera: editing } : { url }, quiet: true });
      if (found.ok) showResult(inputId, describe(found), "ok");
      else {
        showResult(inputId, capitalize(found.error ?? "no picture came"), "bad");
        if (all) $(inputId).focus();
        all = false;
      }
    } catch (error) {
      showResult(inputId, error instanceof ApiError ? capitalize(error.detail) : String(error), "bad");
      all = false;
    }
  }
  return all;
}

function resetForm() {
  const form = $("camera-form");
  form.reset();
  formError(form, "");
  for (const [id, hint] of Object.entries(HINTS)) showResult(id, hint, null);
  editing = null;
  $("camera-form-title").textContent = "Add a camera";
  form.querySelector("[type='submit']").textContent = "Test and add";
  $("camera-editor-toggle").textContent = "Add a camera";
}

async function edit(camera) {
  let source;
  try {
    source = await api(`/api/cameras/${encodeURIComponent(camera.name)}/source`);
  } catch {
    return;
  }
  resetForm();
  editing = camera.name;
  const form = $("camera-form");
  form.elements.namedItem("name").value = source.name;
  form.elements.namedItem("detect_url").value = source.detect_url;
  form.elements.namedItem("record_url").value = source.record_url ?? "";
  form.elements.namedItem("enabled").checked = source.enabled;
  $("camera-form-title").textContent = `Edit ${source.name}`;
  form.querySelector("[type='submit']").textContent = "Test and save";
  $("camera-editor-toggle").textContent = "Editing…";
  $("camera-editor").open = true;
  $("camera-name").focus();
}

async function remove(camera) {
  const ok = await confirmDialog({
    title: `Remove ${camera.display_name}?`,
    body: "It stops recording now. Its events and clips stay until you delete them or they expire.",
    confirm: "Remove",
    danger: true,
  });
  if (!ok) return;
  try {
    await api(`/api/cameras/${encodeURIComponent(camera.name)}`, { method: "DELETE" });
    toast(`${camera.display_name} was removed.`, "ok");
  } finally {
    loadCameras();
  }
}

/** One camera's health under its row: state, frame counts, reconnects and the last error. */
function showHealth(row, health) {
  const box = row.querySelector(".camera-health");
  if (!box) return;
  if (!health) {
    box.dataset.state = "unknown";
    box.replaceChildren(h("span", { class: "muted" }, "Health not available right now."));
    return;
  }
  const state = healthState(health);
  box.dataset.state = state.key;
  if (state.key === "off") {
    box.replaceChildren(h("span", { class: "health-state" }, h("span", { class: "health-dot", "aria-hidden": "true" }), "Not running"));
    return;
  }
  const stat = (field, value, label) =>
    h("span", { class: "health-stat", dataset: { field } }, h("strong", {}, number(value)), ` ${label}`);
  const error = lastError(health);
  const parts = [
    h("span", { class: "health-state" }, h("span", { class: "health-dot", "aria-hidden": "true" }), state.label),
    h("span", { class: "health-stats" },
      stat("frames_in", health.frames_in, "frames in"),
      stat("frames_analysed", health.frames_analysed, "analysed"),
      stat("frames_dropped", health.frames_dropped, "dropped"),
      h("span", { class: "health-stat", dataset: { field: "last_frame" } }, lastFrame(health)),
      stat("reconnects", health.reconnects, health.reconnects === 1 ? "reconnect" : "reconnects")),
    error
      ? h("p", { class: "health-error", dataset: { field: "last_error" } },
          h("span", { class: "health-error-when" }, `Last error ${error.when}`),
          error.repeats ? h("span", { class: "health-repeats", title: "times in a row" }, error.repeats) : null,
          h("span", { class: "health-error-text" }, error.message))
      : null,
  ];
  box.replaceChildren(...parts.filter(Boolean));
}

async function loadCameras() {
  stopHealth();
  const list = $("camera-list");
  let cameras;
  try {
    cameras = (await api("/api/cameras")) ?? [];
  } catch {
    list.replaceChildren(h("li", { class: "muted" }, "Could not load the cameras."));
    return;
  }
  // Which are from the config file (edit only) is known per camera from its source.
  const sources = await Promise.all(
    cameras.map((c) => api(`/api/cameras/${encodeURIComponent(c.name)}/source`, { quiet: true }).catch(() => null)),
  );
  list.replaceChildren(
    ...cameras.map((camera, i) => {
      const source = sources[i];
      const on = source?.enabled !== false;
      return h("li", { class: "camera-row", dataset: { camera: camera.name } },
        h("span", { class: "avatar camera-icon", "aria-hidden": "true" }, camera.display_name.charAt(0).toUpperCase()),
        h("span", { class: "camera-label" },
          h("strong", {}, camera.display_name),
          h("small", { class: "muted" }, source?.from_config ? "From the config file" : "Added here")),
        h("span", { class: `pill ${on ? "pill-on" : "pill-off"}` }, on ? "On" : "Off"),
        h("span", { class: "row camera-actions" },
          h("button", { type: "button", class: "btn btn-sm", onclick: () => edit(camera) }, "Edit"),
          source && !source.from_config
            ? h("button", { type: "button", class: "btn btn-ghost btn-sm btn-danger-text", onclick: () => remove(camera) }, "Remove")
            : null),
        h("div", { class: "camera-health", dataset: { state: "unknown" }, "aria-label": `${camera.display_name} health` },
          h("span", { class: "muted" }, "Checking…")));
    }),
  );
  if (cameras.length === 0) list.append(h("li", { class: "muted" }, "No cameras yet. Add one below."));
  // The zones and masks editor lists the same cameras (geometry.js).
  document.dispatchEvent(new CustomEvent("cameras-changed"));
  stopHealth = watchHealth(cameras.map((c) => c.name), (name, health) => {
    const row = list.querySelector(`.camera-row[data-camera="${CSS.escape(name)}"]`);
    if (row) showHealth(row, health);
  });
}

export function wireCameras() {
  const form = $("camera-form");
  for (const button of form.querySelectorAll("[data-test-url]")) {
    button.addEventListener("click", () => testUrl(button.dataset.testUrl));
  }
  $("camera-cancel").addEventListener("click", () => {
    resetForm();
    $("camera-editor").open = false;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.namedItem("name").value.trim();
    const detect = form.elements.namedItem("detect_url").value.trim();
    const record = form.elements.namedItem("record_url").value.trim();
    const enabled = form.elements.namedItem("enabled").checked;
    if (!name || !detect) {
      formError(form, !name ? "Give the camera a name." : "Enter the stream URL.");
      (!name ? $("camera-name") : $("camera-detect")).focus();
      return;
    }
    formError(form, "");
    setBusy(form, true, "Testing…");
    const body = { name, detect_url: detect, record_url: record || null, enabled };
    const wasEditing = editing;
    // Each stream is tried first, so a dead one is explained under its own field; the server
    // tests them again before it saves.
    if (enabled && !(await streamsWork([["camera-detect", detect], ["camera-record", record]]))) {
      setBusy(form, false);
      formError(form, "Nothing was saved: a stream did not work.");
      return;
    }
    try {
      if (wasEditing) {
        await api(`/api/cameras/${encodeURIComponent(wasEditing)}/source`, { method: "PUT", body, quiet: true });
        toast(`${name} was saved.`, "ok");
      } else {
        await api("/api/cameras", { method: "POST", body, quiet: true });
        toast(`${name} is recording.`, "ok");
      }
      setBusy(form, false);
      resetForm();
      $("camera-editor").open = false;
      loadCameras();
    } catch (error) {
      setBusy(form, false);
      const detail = error instanceof ApiError ? error.detail : String(error);
      const [field, ...rest] = detail.split(": ");
      const input = { detect_url: "camera-detect", record_url: "camera-record" }[field];
      if (input) {
        showResult(input, capitalize(rest.join(": ")), "bad");
        formError(form, "Nothing was saved: a stream did not work.");
        $(input).focus();
      } else {
        formError(form, capitalize(detail));
      }
    }
  });
  return loadCameras();
}
