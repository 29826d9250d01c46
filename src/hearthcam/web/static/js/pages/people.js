// People (familiar faces): the owner turns the feature on or off, enrols a person from a photo
// or an event's snapshot once the consent text is shown and confirmed, sees the photos used and
// the consent receipt, and deletes a person (their faces are destroyed).

import { ApiError, api } from "../api.js";
import { confirmDialog, formError, h, setBusy } from "../dom.js";
import { fullDate } from "../format.js";
import { toast } from "../toast.js";

const $ = (id) => document.getElementById(id);
const MAX_SIDE = 480; // the photo is shrunk before sending (the API takes small bodies)
const eventId = new URLSearchParams(location.search).get("event");
let consentSha = "";

function person(p) {
  const photos = p.faces.map((f) => h("img", {
    src: `/api/familiar/faces/${encodeURIComponent(f.id)}/photo`,
    alt: `Photo used for ${p.name}`,
    title: f.source.startsWith("event:") ? "From an event snapshot" : "Uploaded photo",
  }));
  const agreed = new Date(p.consent.at * 1000);
  return h("li", { class: "person", dataset: { id: p.id } },
    h("div", { class: "person-head" },
      h("span", { class: "person-name" }, p.name),
      h("button", { type: "button", class: "btn btn-ghost btn-sm btn-danger-text", onclick: () => remove(p) }, "Delete")),
    h("div", { class: "person-photos" }, photos),
    h("p", { class: "hint" },
      `Consent confirmed by ${p.consent.by} on `, h("time", { datetime: agreed.toISOString() }, fullDate(agreed)), ": "),
    h("p", { class: "consent-text" }, p.consent.text));
}

async function remove(p) {
  const ok = await confirmDialog({
    title: `Delete ${p.name}?`,
    body: "Their faces and photos are destroyed for good; their visits become strangers' again.",
    confirm: "Delete", danger: true,
  });
  if (!ok) return;
  await api(`/api/familiar/people/${encodeURIComponent(p.id)}`, { method: "DELETE" });
  toast(`${p.name} deleted`);
  await load();
}

function show(state) {
  $("switch-panel").removeAttribute("aria-busy");
  $("people-unavailable").hidden = state.available;
  $("familiar-on").disabled = !state.available;
  $("familiar-on").checked = state.enabled;
  $("enrol-panel").hidden = !state.enabled;
  $("people-panel").hidden = !state.enabled;
  $("people").replaceChildren(...state.people.map(person));
  $("people-empty").hidden = state.people.length > 0;
}

async function load() {
  show(await api("/api/familiar"));
}

async function toggle(event) {
  const on = event.target.checked;
  if (!on) {
    const ok = await confirmDialog({
      title: "Turn familiar faces off?",
      body: "Every person and face enrolled here is destroyed for good.",
      confirm: "Turn off and delete", danger: true,
    });
    if (!ok) { event.target.checked = true; return; }
  }
  show(await api("/api/familiar", { method: "PUT", body: { enabled: on } }));
}

async function consentFor(name) {
  const box = $("consent");
  box.checked = false;
  consentSha = "";
  if (!name.trim()) {
    $("consent-text").hidden = true;
    box.disabled = true;
    return;
  }
  const shown = await api(`/api/familiar/consent?name=${encodeURIComponent(name)}`, { quiet: true });
  consentSha = shown.sha256;
  $("consent-text").textContent = shown.text;
  $("consent-text").hidden = false;
  box.disabled = false;
}

/** The chosen photo as base64 JPEG, shrunk to MAX_SIDE. */
async function photoBase64(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const url = canvas.toDataURL("image/jpeg", 0.85);
  return url.slice(url.indexOf(",") + 1);
}

async function enrol(event) {
  event.preventDefault();
  const form = event.target;
  formError(form, "");
  const name = $("person-name").value.trim();
  const file = $("person-photo").files?.[0];
  if (!name) return formError(form, "Give the person's name.");
  if (!eventId && !file) return formError(form, "Choose a photo of their face.");
  if (!$("consent").checked || !consentSha) return formError(form, "Confirm that this person agreed.");
  const body = { name, consent_sha256: consentSha };
  setBusy(form, true, "Adding…");
  try {
    if (eventId) body.event_id = eventId;
    else body.photo = await photoBase64(file);
    const added = await api("/api/familiar/people", { method: "POST", body, quiet: true });
    toast(`${added.name} added`);
    form.reset();
    await consentFor("");
    await load();
  } catch (error) {
    formError(form, error instanceof ApiError ? error.detail : "Could not add the person.");
  } finally {
    setBusy(form, false);
    $("enrol-form").querySelector("[type='submit']").disabled = !$("consent").checked;
  }
}

export async function init() {
  if (eventId) {
    $("photo-field").hidden = true;
    $("from-event").hidden = false;
    $("from-event-link").href = `/events/${encodeURIComponent(eventId)}`;
  }
  $("familiar-on").addEventListener("change", toggle);
  let typing = 0;
  $("person-name").addEventListener("input", (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => consentFor(e.target.value), 250);
  });
  $("consent").addEventListener("change", (e) => {
    $("enrol-form").querySelector("[type='submit']").disabled = !e.target.checked;
  });
  $("enrol-form").addEventListener("submit", enrol);
  await load();
}
