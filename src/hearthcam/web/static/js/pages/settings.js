// Owner settings: home/away mode (saved at once), what alerts in each mode, cameras, zones and
// masks, retention per verdict, the storage condition, household members, and the review hub
// this installation is linked to. An admin's settings are the review hub's link alone.

import { ApiError, api, capitalize } from "../api.js";
import { formError, formValues, setBusy } from "../dom.js";
import { toast } from "../toast.js";
import { wireCameras } from "../cameras.js";
import { wireGeometry } from "../geometry.js";
import { wireHubLink } from "../hub-link.js";
import { wireStorage } from "../storage.js";
import { wireUsers } from "../users.js";

const VERDICTS = ["threat", "pet", "vehicle", "motion"];
// Alert rules may also name household members (familiar faces); retention is per VERDICTS.
const RULE_VERDICTS = [...VERDICTS, "familiar"];
const MODES = ["home", "away"];
const ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const PLURAL = { threat: "threats", pet: "pets", vehicle: "vehicles", motion: "plain motion", familiar: "household members" };
const $ = (id) => document.getElementById(id);

let settings = null;

function fillRetention(form) {
  for (const verdict of VERDICTS) {
    const input = form.elements.namedItem(verdict);
    if (input instanceof HTMLInputElement) input.value = String(settings.retention?.[verdict] ?? "");
  }
  markDirty(form, false);
}

function markDirty(form, dirty) {
  form.querySelector("[type='submit']").disabled = !dirty;
  form.querySelector("[type='reset']").disabled = !dirty;
}

async function save(next) {
  const stored = await api("/api/settings", { method: "PUT", body: next });
  settings = stored ?? next;
  return settings;
}

function wireMode() {
  const group = $("mode");
  const radios = [...group.querySelectorAll("input[name='mode']")];
  for (const radio of radios) radio.checked = radio.value === settings.mode;
  group.addEventListener("change", async (event) => {
    const radio = event.target;
    if (!(radio instanceof HTMLInputElement)) return;
    const previous = settings.mode;
    for (const item of radios) item.disabled = true;
    try {
      await save({ ...settings, mode: radio.value });
      toast(radio.value === "away" ? "Away mode is on." : "Home mode is on.", "ok");
    } catch {
      for (const item of radios) item.checked = item.value === previous;
    } finally {
      for (const item of radios) item.disabled = false;
    }
  });
}

function wireRetention() {
  const form = $("retention-form");
  fillRetention(form);
  form.addEventListener("input", () => markDirty(form, true));
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    fillRetention(form);
    formError(form, "");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const retention = {};
    for (const verdict of VERDICTS) {
      const hours = Number(values[verdict]);
      if (!Number.isInteger(hours) || hours < 1 || hours > 8760) {
        formError(form, `${capitalize(verdict)}: a whole number of hours from 1 to 8760 (a year).`);
        form.elements.namedItem(verdict)?.focus();
        return;
      }
      retention[verdict] = hours;
    }
    formError(form, "");
    setBusy(form, true, "Saving…");
    try {
      await save({ ...settings, retention });
      toast("Retention saved.", "ok");
      setBusy(form, false);
      fillRetention(form);
    } catch (error) {
      setBusy(form, false);
      formError(form, error instanceof ApiError ? capitalize(error.detail) : String(error));
    }
  });
}

function field(form, name) {
  return form.elements.namedItem(name);
}

function listWords(words) {
  if (words.length < 2) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

function readRule(form, mode, previous) {
  const verdicts = RULE_VERDICTS.filter((verdict) => field(form, `${mode}-${verdict}`).checked);
  const rest = previous?.schedule?.slice(1) ?? [];
  let schedule = [];
  if (field(form, `${mode}-timed`).checked) {
    const start = field(form, `${mode}-start`).value;
    const end = field(form, `${mode}-end`).value;
    // Extra windows set in the config are kept; the page edits the first one.
    const days = previous?.schedule?.[0]?.days ?? ALL_DAYS;
    schedule = [{ start, end: end === "00:00" ? "24:00" : end, days }, ...rest];
  }
  return { ...(previous ?? {}), verdicts, schedule };
}

function describe(rule) {
  if (!rule.verdicts.length) return "No alerts in this mode.";
  const what = `Alerts about ${listWords(rule.verdicts.map((v) => PLURAL[v]))}`;
  const window = rule.schedule[0];
  if (!window) return `${what}, at any time.`;
  const end = window.end === "24:00" ? "midnight" : window.end;
  const more = rule.schedule.length > 1 ? ` (and ${rule.schedule.length - 1} more time windows from the config)` : "";
  return `${what}, from ${window.start} to ${end}${more}.`;
}

function syncRule(form, mode) {
  const timed = field(form, `${mode}-timed`).checked;
  for (const name of ["start", "end"]) field(form, `${mode}-${name}`).disabled = !timed;
  const rule = readRule(form, mode, settings.alerts?.[mode]);
  $(`rule-${mode}`).querySelector(".rule-summary").textContent = describe(rule);
}

function fillAlerts(form) {
  for (const mode of MODES) {
    const rule = settings.alerts?.[mode] ?? { verdicts: [], schedule: [] };
    for (const verdict of RULE_VERDICTS) field(form, `${mode}-${verdict}`).checked = rule.verdicts.includes(verdict);
    const window = rule.schedule?.[0];
    field(form, `${mode}-timed`).checked = Boolean(window);
    if (window) {
      field(form, `${mode}-start`).value = window.start === "24:00" ? "00:00" : window.start;
      field(form, `${mode}-end`).value = window.end === "24:00" ? "00:00" : window.end;
    }
    syncRule(form, mode);
  }
  markDirty(form, false);
}

function wireAlerts() {
  const form = $("alerts-form");
  fillAlerts(form);
  form.addEventListener("input", (event) => {
    const mode = event.target?.name?.split("-")[0];
    if (MODES.includes(mode)) syncRule(form, mode);
    markDirty(form, true);
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    fillAlerts(form);
    formError(form, "");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const alerts = {};
    for (const mode of MODES) {
      const rule = readRule(form, mode, settings.alerts?.[mode]);
      const window = rule.schedule[0];
      if (window && (!window.start || !window.end || window.start === window.end.replace("24:00", "00:00"))) {
        formError(form, `${mode === "home" ? "Home" : "Away"}: choose two different times, or untick "Only between".`);
        field(form, `${mode}-start`).focus();
        return;
      }
      alerts[mode] = rule;
    }
    formError(form, "");
    setBusy(form, true, "Saving…");
    try {
      await save({ ...settings, alerts });
      toast("Alert rules saved.", "ok");
      setBusy(form, false);
      fillAlerts(form);
    } catch (error) {
      setBusy(form, false);
      formError(form, error instanceof ApiError ? capitalize(error.detail) : String(error));
    }
  });
}

export async function init() {
  if (document.body.dataset.role === "admin") {
    await wireHubLink($("hub"));
    $("settings").removeAttribute("aria-busy");
    return;
  }
  try {
    settings = await api("/api/settings", { quiet: true });
  } catch (error) {
    $("settings").hidden = true;
    if (error instanceof ApiError && error.status === 403) $("not-owner").hidden = false;
    else toast("Could not load the settings. Reload to try again.", "error");
    return;
  }
  wireMode();
  wireAlerts();
  wireCameras();
  wireGeometry();
  wireRetention();
  wireStorage($("storage"));
  const loadUsers = wireUsers();
  const loadHub = wireHubLink($("hub"));
  $("settings").removeAttribute("aria-busy");
  await Promise.all([loadUsers(), loadHub]);
}
