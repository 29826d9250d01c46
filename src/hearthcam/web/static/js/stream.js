// Server-sent events about the household's events (created / updated / deleted), with the
// connection state for a small indicator and a fresh start if the browser gave up.

import { api } from "./api.js";

const KINDS = ["created", "updated", "deleted"];
const RETRY_MS = 5000;

/**
 * Listens to /api/events/stream until the page goes away.
 * @param {{created?: Function, updated?: Function, deleted?: Function,
 *          state?: (state: "open"|"reconnecting"|"closed") => void,
 *          reopened?: Function}} handlers
 *   reopened: called after the connection came back (events may have been missed meanwhile).
 * @returns {{close: () => void}}
 */
export function followEvents(handlers) {
  let source = null;
  let closed = false;
  let wasOpen = false;
  let lost = false;
  let retry = 0;

  const open = () => {
    if (closed) return;
    source = new EventSource("/api/events/stream", { withCredentials: true });
    for (const kind of KINDS) {
      source.addEventListener(kind, (message) => {
        let data;
        try {
          data = JSON.parse(message.data);
        } catch {
          return;
        }
        handlers[kind]?.(data);
      });
    }
    source.addEventListener("open", () => {
      handlers.state?.("open");
      if (wasOpen && lost) handlers.reopened?.();
      wasOpen = true;
      lost = false;
    });
    source.addEventListener("error", () => {
      if (closed) return;
      lost = true;
      if (source?.readyState === EventSource.CLOSED) {
        // The browser stopped retrying (an HTTP error, e.g. the session ended): check the
        // session (a 401 goes to the login page) and start again a little later.
        handlers.state?.("closed");
        source = null;
        retry = window.setTimeout(async () => {
          try {
            await api("/api/me", { quiet: true });
          } catch {
            /* offline: try the stream again anyway */
          }
          wasOpen = true;
          open();
        }, RETRY_MS);
      } else {
        handlers.state?.("reconnecting");
      }
    });
  };

  const close = () => {
    closed = true;
    window.clearTimeout(retry);
    source?.close();
    source = null;
  };
  // Closed before the page unloads, so a navigation does not count as a lost connection.
  window.addEventListener("pagehide", close, { once: true });
  open();
  return { close };
}
