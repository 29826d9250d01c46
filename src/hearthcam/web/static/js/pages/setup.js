// First start: create the owner and their household; the owner is logged in at once.

import { ApiError, api, capitalize } from "../api.js";
import { formError, formValues, setBusy } from "../dom.js";
import { passwordProblem } from "../strength.js";
import { flash } from "../toast.js";

async function problem({ household, username, password }) {
  if (!household.trim()) return "Give your household a name.";
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/.test(username)) {
    return "A username is 3–64 letters, digits or . _ - @, starting with a letter or digit.";
  }
  return passwordProblem(password, username);
}

export async function init() {
  const form = document.getElementById("setup-form");
  if (!(form instanceof HTMLFormElement)) return;
  try {
    const status = await api("/api/setup", { quiet: true, authRedirect: false });
    if (status && status.needed === false) {
      location.replace("/login");
      return;
    }
  } catch {
    /* the form still works; the server has the final word */
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const message = await problem(values);
    formError(form, message);
    if (message) return;
    setBusy(form, true, "Creating…");
    try {
      await api("/api/setup", {
        method: "POST",
        body: { username: values.username, password: values.password, household: values.household.trim() },
        quiet: true,
        authRedirect: false,
      });
      flash(`Welcome, ${values.username}. Your cameras' events will show up here.`, "ok");
      location.assign("/");
    } catch (error) {
      setBusy(form, false);
      if (error instanceof ApiError && (error.status === 403 || error.status === 409)) {
        formError(form, "This box already has an owner. Log in instead.");
      } else {
        formError(form, capitalize(error instanceof ApiError ? error.detail : String(error)));
      }
    }
  });
}
