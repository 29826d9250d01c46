// Settings > Review hub: the installation's link to a review hub (GET /api/hub/link). An admin
// links it with the hub's address and the operator's one-time code (POST /api/hub/link) and
// unlinks it (POST /api/hub/unlink); an owner reads where their shared clips would go.

import { ApiError, api, capitalize } from "./api.js";
import { confirmDialog, formError, formValues, h, setBusy } from "./dom.js";
import { fullDate, parseTime } from "./format.js";
import { toast } from "./toast.js";

const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

/** The last round of checking the hub's view log, in words, into ``box``. */
function showLog(box, link) {
  const round = link.log;
  if (!link.keeps_log) {
    box.className = "notice";
    box.replaceChildren("This hub keeps no view log, so nobody can prove to you who watched your clips there.");
    return;
  }
  if (!round || round.url !== link.address) {
    box.className = "notice";
    box.replaceChildren("Its view log (who watched which of your clips there) has not been checked yet. This home checks it every hour, the first time shortly after linking.");
    return;
  }
  const when = fullDate(parseTime(round.checked_at));
  if (round.ok) {
    box.className = "notice notice-ok";
    const entries = plural(round.size, "entry", "entries");
    box.replaceChildren(round.views
      ? `View log checked ${when}: ${plural(round.views, "view")} of your clips there, every one in its signed log (${entries} in all).`
      : `View log checked ${when}: nobody at the hub has viewed a clip of yours (its signed log holds ${entries} in all).`);
    return;
  }
  box.className = "notice notice-alarm";
  box.replaceChildren(
    h("strong", {}, "The hub's view log does NOT check out"),
    h("p", {}, `Checked ${when}. An honest hub cannot show this; it is named again every hour until you act: withdraw your shared clips, or unlink.`),
    h("ul", {}, ...round.findings.map((finding) => h("li", {}, finding))),
  );
}

function showLinked(panel, link) {
  const field = (name) => panel.querySelector(`[data-field="${name}"]`);
  const problem = panel.querySelector("#hub-problem");
  problem.hidden = !link.problem;
  problem.textContent = link.problem ? `The link kept on this box cannot be read: ${link.problem}` : "";
  panel.querySelector("#hub-facts").hidden = Boolean(link.problem);
  panel.querySelector(".hub-compare").hidden = Boolean(link.problem);
  const terms = link.terms;
  field("address").textContent = link.address;
  field("operator").textContent = terms?.operator ?? "not stated";
  field("annotators").textContent = terms?.annotators_in ?? "not stated";
  field("keep").textContent = terms ? `At most ${plural(terms.keep_days, "day")}, then the hub deletes it` : "not stated";
  const since = link.linked_at ? parseTime(link.linked_at) : null;
  field("since").textContent = since && !Number.isNaN(since.getTime()) ? fullDate(since) : link.linked_at;
  field("fingerprint").textContent = link.fingerprint;
  panel.querySelector("#hub-no-terms").hidden = Boolean(terms) || Boolean(link.problem);
  const log = panel.querySelector("#hub-log");
  log.hidden = Boolean(link.problem);
  if (!link.problem) showLog(log, link);
}

function show(panel, link) {
  panel.dataset.state = link.linked ? "linked" : "unlinked";
  panel.querySelector("#hub-pill").hidden = !link.linked;
  panel.querySelector("#hub-linked").hidden = !link.linked;
  panel.querySelector("#hub-unlinked").hidden = link.linked;
  panel.querySelector(".hub-none").hidden = link.can_manage;
  panel.querySelector("#hub-form").hidden = !link.can_manage;
  panel.querySelector("#hub-actions").hidden = !link.can_manage;
  panel.querySelector("#hub-admin-only").hidden = link.can_manage;
  if (link.linked) showLinked(panel, link);
  const hint = panel.querySelector("#hub-name-hint");
  hint.textContent = link.default_name
    ? `What the operator sees in their list of homes. Left empty, it is this box's name: ${link.default_name}.`
    : "What the operator sees in their list of homes.";
}

async function unlink(panel, link) {
  const ok = await confirmDialog({
    title: "Unlink from the review hub?",
    body: `The hub at ${link.address} deletes every clip this home shared there and signs a receipt for each deletion. Those shares end here; the receipts are kept under Shared. To link again you need a new code from the operator.`,
    confirm: "Unlink",
    danger: true,
  });
  if (!ok) return null;
  const button = panel.querySelector("#hub-unlink");
  button.disabled = true;
  try {
    const done = await api("/api/hub/unlink", { method: "POST", quiet: true });
    toast(done.deleted
      ? `Unlinked. The hub deleted the ${plural(done.deleted, "clip")} this home shared there and signed a receipt for each; those shares have ended.`
      : `Unlinked from the hub at ${done.address}. It held no clips of this home.`, "ok", 8000);
    return done;
  } catch (error) {
    // 410: the hub no longer knows this home; 424: it cannot be reached. Either way the link
    // can only be forgotten here, which the admin is asked to confirm knowing what it means.
    if (error instanceof ApiError && (error.status === 410 || error.status === 424)) {
      return forget(link, error);
    }
    toast(error instanceof ApiError ? `Not unlinked. ${capitalize(error.detail)}.` : String(error), "error", 10000);
    return null;
  } finally {
    button.disabled = false;
  }
}

async function forget(link, error) {
  const gone = error.status === 410;
  const ok = await confirmDialog({
    title: gone ? "The hub no longer knows this home" : "The hub cannot be reached",
    body: gone
      ? `The hub at ${link.address} answered that this home is not linked there any more (its operator removed it, or the hub lost its records), so it cannot delete anything for you or sign receipts. Forget the link here? The shares made for it end.`
      : `Nothing answered at ${link.address} (${error.detail}). Try again later if the hub may come back: unlinking then deletes your shared clips there with receipts. Forget the link anyway? ${link.terms ? `The hub may keep the clips you shared for up to ${plural(link.terms.keep_days, "day")}` : "The hub may keep the clips you shared"}, and you get no receipt.`,
    confirm: "Forget the link",
    danger: true,
  });
  if (!ok) {
    toast(`Not unlinked. ${capitalize(error.detail)}.`, "error", 10000);
    return null;
  }
  try {
    const done = await api("/api/hub/unlink?forget=true", { method: "POST", quiet: true });
    toast(done.forgotten
      ? `Link forgotten: ${done.forgotten}. No clip was deleted there with a receipt; the shares made for it have ended.`
      : `Unlinked. The hub deleted the ${plural(done.deleted, "clip")} this home shared there and signed a receipt for each; those shares have ended.`, "ok", 10000);
    return done;
  } catch (again) {
    toast(again instanceof ApiError ? `Not forgotten. ${capitalize(again.detail)}.` : String(again), "error", 10000);
    return null;
  }
}

/**
 * Wires the Review hub section; resolves once it shows the link as it is.
 * @param {HTMLElement} panel the section (#hub)
 */
export async function wireHubLink(panel) {
  const form = panel.querySelector("#hub-form");
  let link = null;
  const load = async () => {
    try {
      link = await api("/api/hub/link", { quiet: true });
    } catch {
      panel.dataset.state = "unknown";
      toast("Could not load the review hub's link. Reload to try again.", "error");
      return;
    }
    show(panel, link);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const address = values.address.trim();
    const code = values.code.trim().toUpperCase();
    if (!/^https?:\/\/\S+$/i.test(address)) {
      formError(form, "The hub's address starts with https:// (or http://), as the operator gave it.");
      form.elements.namedItem("address")?.focus();
      return;
    }
    if (!code) {
      formError(form, "Enter the one-time code the operator gave you.");
      form.elements.namedItem("code")?.focus();
      return;
    }
    formError(form, "");
    setBusy(form, true, "Linking…");
    try {
      const name = values.name.trim();
      link = await api("/api/hub/link", { method: "POST", body: { address, code, name: name || null }, quiet: true });
      form.reset();
      show(panel, link);
      toast("Linked. Compare the fingerprint with the one the operator shows you.", "ok", 8000);
      panel.querySelector(".hub-fingerprint")?.scrollIntoView({ block: "center", behavior: "smooth" });
    } catch (error) {
      formError(form, error instanceof ApiError ? `${capitalize(error.detail)}.` : String(error));
    } finally {
      setBusy(form, false);
    }
  });
  panel.querySelector("#hub-unlink").addEventListener("click", async () => {
    if (link && (await unlink(panel, link))) await load();
  });
  await load();
}

