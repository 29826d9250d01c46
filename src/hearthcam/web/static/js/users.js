// The users panel (owner: members; admin: admins and annotators): the list with where each user
// stands, invitations by one-time link, a new link (which also resets two-factor), removal.

import { ApiError, api, capitalize } from "./api.js";
import { confirmDialog, formError, formValues, h, setBusy } from "./dom.js";
import { toast } from "./toast.js";

const $ = (id) => document.getElementById(id);
const STATES = {
  done: ["Active", "pill-on"],
  invited: ["Link sent", "pill-wait"],
  expired: ["Link expired", "pill-bad"],
};

function showLink(found, words) {
  const url = new URL(found.link, location.origin).href;
  $("link-for").textContent = words;
  $("link-url").value = url;
  const until = new Date(found.expires * 1000);
  $("link-expiry").textContent = `Works once, until ${until.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}. It is shown only now.`;
  $("link-box").hidden = false;
  $("link-url").focus();
  $("link-url").select();
}

async function newLink(user, reload) {
  const active = user.enrolment === "done";
  const ok = await confirmDialog({
    title: active ? `Reset ${user.username}'s sign-in?` : `New link for ${user.username}?`,
    body: active
      ? "Their password and two-factor stop working and they are signed out everywhere. They set both again with the new link."
      : "The old link stops working.",
    confirm: active ? "Reset and create link" : "Create link",
    danger: active,
  });
  if (!ok) return;
  try {
    const found = await api(`/api/users/${encodeURIComponent(user.id)}/reset`, { method: "POST" });
    showLink(found, `New sign-in link for ${user.username}`);
  } finally {
    reload();
  }
}

async function removeUser(user, reload) {
  const ok = await confirmDialog({
    title: `Remove ${user.username}?`,
    body: "They are logged out everywhere and their account is deleted.",
    confirm: "Remove",
    danger: true,
  });
  if (!ok) return;
  try {
    await api(`/api/users/${encodeURIComponent(user.id)}`, { method: "DELETE" });
    toast(`${user.username} was removed.`, "ok");
  } finally {
    reload();
  }
}

/** Wires the users panel of the page (templates/_users.html). */
export function wireUsers() {
  const panel = $("users-panel");
  if (!panel) return async () => {};
  const list = $("users");
  const me = document.querySelector(".topbar-name")?.textContent?.trim();
  const everyone = panel.dataset.manage === "all"; // an admin; an owner manages members only
  const reload = async () => {
    let users;
    try {
      users = await api("/api/users");
    } catch {
      list.replaceChildren(h("li", { class: "muted" }, "Could not load the users."));
      return;
    }
    const order = { owner: 0, admin: 1, member: 2, annotator: 3 };
    const sorted = [...(users ?? [])].sort((a, b) => (order[a.role] - order[b.role]) || a.username.localeCompare(b.username));
    list.replaceChildren(...sorted.map((user) => {
      const mine = user.username === me;
      const managed = !mine && (everyone || user.role === "member");
      const [label, css] = STATES[user.enrolment] ?? STATES.done;
      return h("li", { class: "user-row", dataset: { id: user.id, username: user.username } },
        h("span", { class: "avatar", "aria-hidden": "true" }, user.username.charAt(0).toUpperCase()),
        h("span", { class: "user-name" }, h("span", {}, user.username, mine ? h("span", { class: "muted" }, " (you)") : null),
          h("small", { class: "user-sub" }, h("span", { class: `pill pill-${user.role}` }, capitalize(user.role)),
            " ", h("span", { class: `pill ${css}` }, label))),
        managed
          ? h("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: () => newLink(user, reload) },
            user.enrolment === "done" ? "Reset sign-in" : "New link")
          : h("span"),
        managed
          ? h("button", { type: "button", class: "btn btn-ghost btn-sm btn-danger-text", onclick: () => removeUser(user, reload) }, "Remove")
          : h("span"));
    }));
    if (sorted.filter((u) => u.username !== me).length === 0) {
      list.append(h("li", { class: "muted user-empty" }, panel.dataset.empty ?? "Nobody else yet."));
    }
  };

  $("link-copy")?.addEventListener("click", async () => {
    const input = $("link-url");
    try {
      await navigator.clipboard.writeText(input.value);
      toast("Link copied.", "ok");
    } catch {
      input.select(); // no clipboard access (plain HTTP): selected for the user to copy
      toast("Select the link and copy it.", "info");
    }
  });

  const form = $("member-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const role = form.querySelector("input[name='role']:checked")?.value ?? values.role;
    const message = /^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$/.test(values.username)
      ? ""
      : "A username is 3–64 letters, digits or . _ - @, starting with a letter or digit.";
    formError(form, message);
    if (message) return;
    setBusy(form, true, "Creating…");
    try {
      const found = await api("/api/users", { method: "POST", body: { username: values.username, role }, quiet: true });
      showLink(found, `Sign-in link for ${found.username} (${role})`);
      form.reset();
      $("add-member").open = false;
      reload();
    } catch (error) {
      formError(form, error instanceof ApiError
        ? (error.status === 409 ? "That username is taken." : capitalize(error.detail))
        : String(error));
    } finally {
      setBusy(form, false);
    }
  });
  return reload;
}
