// The one way pages talk to the server: JSON in and out, the CSRF header on every state-changing
// request, readable errors (as toasts unless the caller handles them), and a trip to the login
// page when the session has ended.

import { toast } from "./toast.js";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the network failed)
   * @param {string} detail what the server (or we) said went wrong
   * @param {Response|null} response
   */
  constructor(status, detail, response = null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.response = response;
  }

  /** Seconds the server asked us to wait (429), or 0. */
  get retryAfter() {
    const value = this.response?.headers.get("Retry-After");
    const seconds = value ? Number.parseInt(value, 10) : 0;
    return Number.isFinite(seconds) ? seconds : 0;
  }
}

/** The session's CSRF token (from the page's meta tag). */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
}

/** Keeps a CSRF token the server handed out (login steps rotate it with the session). */
export function setCsrfToken(token) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && token) meta.setAttribute("content", token);
}

/**
 * Asks the server for the session's current CSRF token (it changes when the session rotates,
 * e.g. after turning on two-factor) and keeps it for later requests.
 */
export async function refreshCsrf() {
  const me = await api("/api/me", { quiet: true, authRedirect: false });
  setCsrfToken(me?.csrf_token);
  return me;
}

const MESSAGES = {
  0: "Can't reach hearthcam. Check your connection.",
  400: "That request was not accepted.",
  401: "Please log in again.",
  403: "You are not allowed to do that.",
  404: "Not found. It may have been deleted.",
  409: "That conflicts with something that already exists.",
  413: "That is too large.",
  422: "Some fields are not valid.",
  429: "Too many attempts. Wait a moment and try again.",
};

/** FastAPI validation errors are a list; make one readable line of them. */
function readableDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = Array.isArray(item?.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        return where ? `${where}: ${item?.msg ?? "invalid"}` : String(item?.msg ?? "invalid");
      })
      .join("; ");
  }
  return "";
}

async function parseBody(response) {
  if (response.status === 204 || response.status === 205) return null;
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  const text = await response.text();
  return text ? { detail: text.slice(0, 200) } : null;
}

/** Where to come back to after logging in (same-origin paths only). */
export function safeNext(value) {
  if (typeof value !== "string" || !value.startsWith("/") || value.startsWith("//")) return "/";
  if (value.startsWith("/login") || value.startsWith("/setup")) return "/";
  return value;
}

function toLogin() {
  const next = encodeURIComponent(location.pathname + location.search);
  location.assign(`/login?next=${next}`);
}

/**
 * Calls the JSON API.
 * @param {string} path
 * @param {{method?: string, body?: unknown, quiet?: boolean, authRedirect?: boolean,
 *          signal?: AbortSignal}} [options]
 *   quiet: no error toast (the caller shows the error); authRedirect: a 401 goes to /login.
 * @returns {Promise<any>} the parsed JSON (null for 204)
 */
export async function api(path, options = {}) {
  const { method = "GET", body, quiet = false, authRedirect = true, signal } = options;
  const upper = method.toUpperCase();
  const send = async () => {
    const headers = { Accept: "application/json" };
    if (UNSAFE.has(upper)) headers["X-CSRF-Token"] = csrfToken();
    const init = { method: upper, headers, credentials: "same-origin", signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init);
  };

  let response;
  try {
    response = await send();
    if (response.status === 403 && UNSAFE.has(upper) && path !== "/api/me") {
      // The token may have rotated with the session (another tab logged in, two-factor turned
      // on): fetch the current one and try once more.
      const me = await fetch("/api/me", { credentials: "same-origin" }).catch(() => null);
      if (me?.ok) {
        const data = await me.json().catch(() => null);
        if (data?.csrf_token && data.csrf_token !== csrfToken()) {
          setCsrfToken(data.csrf_token);
          response = await send();
        }
      }
    }
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    if (!quiet) toast(MESSAGES[0], "error");
    throw new ApiError(0, MESSAGES[0]);
  }

  const data = await parseBody(response);
  if (response.ok) return data;

  const detail = readableDetail(data?.detail) || MESSAGES[response.status] || `Error ${response.status}`;
  const error = new ApiError(response.status, detail, response);
  if (response.status === 401 && authRedirect) {
    toLogin();
    throw error;
  }
  if (!quiet) toast(capitalize(detail), "error");
  throw error;
}

/** Upper-cases the first letter (server details are written in lower case). */
export function capitalize(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}
