// Short messages in the corner of the screen (the live region is in base.html).

const DEFAULT_MS = 5000;

/**
 * Shows a toast.
 * @param {string} message
 * @param {"info"|"ok"|"error"} [kind]
 * @param {number} [ms] how long it stays (0: until clicked)
 */
export function toast(message, kind = "info", ms = DEFAULT_MS) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", kind === "error" ? "alert" : "status");
  const text = document.createElement("span");
  text.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "\u00d7";
  item.append(text, close);
  const remove = () => {
    item.classList.add("toast-out");
    setTimeout(() => item.remove(), 200);
  };
  close.addEventListener("click", remove);
  region.append(item);
  if (ms > 0) setTimeout(remove, kind === "error" ? ms * 1.6 : ms);
}

const FLASH_KEY = "hc-flash";

/** Keeps a toast for the next page (after a navigation). */
export function flash(message, kind = "ok") {
  try {
    sessionStorage.setItem(FLASH_KEY, JSON.stringify({ message, kind }));
  } catch {
    /* storage off: the message is a nicety */
  }
}

/** Shows the toast a previous page left with flash(). */
export function showFlash() {
  try {
    const raw = sessionStorage.getItem(FLASH_KEY);
    if (!raw) return;
    sessionStorage.removeItem(FLASH_KEY);
    const { message, kind } = JSON.parse(raw);
    if (typeof message === "string") toast(message, kind);
  } catch {
    /* ignore a malformed entry */
  }
}
