// How times, durations, scores and verdicts are written on screen. Dates and times have one
// format app-wide, in the browser's own locale (Intl.DateTimeFormat with no locale named):
// ``fullDate`` wherever a moment is shown in full, ``clock`` and ``dayLabel`` where the day is
// already on screen. No page formats a date by hand.

export const VERDICTS = {
  threat: "Threat",
  pet: "Pet",
  vehicle: "Vehicle",
  motion: "Motion",
  familiar: "Household member",
};

/** The verdict's display name. */
export function verdictLabel(verdict) {
  return VERDICTS[verdict] ?? (verdict ? verdict.charAt(0).toUpperCase() + verdict.slice(1) : "Event");
}

/** A verdict badge element's class list. */
export function badgeClass(verdict) {
  return `badge badge-${VERDICTS[verdict] ? verdict : "motion"}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
const fullFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** "21:04" */
export function clock(date) {
  return timeFormat.format(date);
}

/** "Tue 4 Mar, 21:04:13" */
export function fullDate(date) {
  return fullFormat.format(date);
}

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** "Today", "Yesterday" or "Monday 3 March". */
export function dayLabel(date, now = new Date()) {
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return dayFormat.format(date);
}

/** The local day of ``date`` as an <input type="date"> value: "2026-03-04". */
export function inputDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local midnight at the start of an <input type="date"> value's day, ``plusDays`` later. */
export function parseInputDay(value, plusDays = 0) {
  const [year, month, day] = value.split("-").map(Number);
  return new Date(year, month - 1, day + plusDays);
}

/** A key that is the same for two dates on the same local day. */
export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** "8 s", "1 min 05 s", "1 h 02 min" */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** 0.873 -> "87 %" */
export function percent(score) {
  const value = Number(score);
  return Number.isFinite(value) ? `${Math.round(value * 100)} %` : "–";
}

/** "person, dog" with the first letter capitalised: "Person, dog". */
export function labelList(labels) {
  const text = (labels ?? []).join(", ");
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

/** Parses the API's ISO 8601 time (or Unix seconds) into a Date. */
export function parseTime(value) {
  if (typeof value === "number") return new Date(value * 1000);
  return new Date(value);
}
