// Small DOM helpers: an element builder, form error/busy states and a confirm dialog.

/**
 * Creates an element. Attributes starting with "on" become listeners; `dataset` and `class`
 * are handled; false/null attributes are left out. Children may be strings, nodes or arrays.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Shows (or, with an empty message, hides) a form's error line. */
export function formError(form, message) {
  const line = form.querySelector(".form-error") ?? form.parentElement?.querySelector(".form-error");
  if (!line) return;
  line.textContent = message ?? "";
  line.hidden = !message;
}

/** Disables a form's submit button (with a label) while a request runs. */
export function setBusy(form, busy, label) {
  const button = form.querySelector('[type="submit"]');
  if (!button) return;
  if (busy) {
    button.dataset.label = button.textContent;
    if (label) button.textContent = label;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/**
 * Asks the user to confirm something, in a modal dialog.
 * @param {{title: string, body?: string, confirm?: string, danger?: boolean}} options
 * @returns {Promise<boolean>}
 */
export function confirmDialog({ title, body = "", confirm = "OK", danger = false }) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary", value: "ok" }, confirm);
    const cancel = h("button", { type: "button", class: "btn btn-ghost", value: "cancel" }, "Cancel");
    const titleId = `dialog-title-${Date.now()}`;
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      body ? h("p", { class: "muted" }, body) : null,
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    let answered = false;
    const finish = (answer) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener("click", () => finish(true));
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(false);
    });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) finish(false); // a click on the backdrop
    });
    document.body.append(dialog);
    dialog.showModal();
    (danger ? cancel : ok).focus();
  });
}

/** Reads a form's named inputs into a plain object of strings. */
export function formValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form).entries()) values[key] = String(value);
  return values;
}
