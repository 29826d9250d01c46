// The password strength meter. The server's verdict is the law and the meter shows it: the
// length and username rules are checked here at once, then the server scores the password with
// zxcvbn (POST /api/password/strength, the same rules setup, enrolment and a password change
// apply), so the meter can never call a password fine that the server refuses, or the reverse.

import { api } from "./api.js";

const MIN = 10;
const LABELS = ["Weak", "Weak", "Weak", "Good", "Strong"];

/**
 * The rules that need no server: length and the username.
 * @param {string} password
 * @param {string} [username]
 * @returns {{score: number, text: string}} score 0 when one is broken, else -1 (not decided)
 */
export function strength(password, username = "") {
  if (!password) return { score: 0, text: `At least ${MIN} characters. A few unrelated words make a strong one.` };
  if ([...password].length < MIN) {
    const more = MIN - [...password].length;
    return { score: 0, text: `Too short: ${more} more character${more === 1 ? "" : "s"} needed.` };
  }
  if (username && password.toLowerCase().includes(username.toLowerCase())) {
    return { score: 0, text: "It must not contain your username." };
  }
  return { score: -1, text: "" };
}

function sentence(text) {
  return text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}.` : text;
}

/**
 * The server's verdict on a new password.
 * @returns {Promise<{score: number, acceptable: boolean, text: string}>}
 */
export async function verdict(password, username = "") {
  const quick = strength(password, username);
  if (quick.score === 0) return { score: 0, acceptable: false, text: quick.text };
  const found = await api("/api/password/strength", {
    method: "POST",
    body: { password, username },
    quiet: true,
    authRedirect: false,
  });
  const text = found.acceptable
    ? `${LABELS[found.score]}.`
    : `Weak: ${found.reason.replace(/^a password this easy to guess is refused: ?/, "easy to guess; ")}`;
  return { score: found.acceptable ? found.score : Math.min(found.score, 1), acceptable: found.acceptable, text: sentence(text.replace(/\.$/, "")) };
}

/**
 * Why a new password would be refused ("" when it would not); for a form about to submit.
 * A server that cannot be asked leaves the decision to the submit itself.
 */
export async function passwordProblem(password, username = "") {
  try {
    const found = await verdict(password, username);
    return found.acceptable ? "" : found.text;
  } catch {
    return strength(password, username).score === 0 ? strength(password, username).text : "";
  }
}

/** Wires a `.strength[data-strength-for]` element to its password input. */
export function attachStrength(meter) {
  const input = document.getElementById(meter.dataset.strengthFor ?? "");
  if (!(input instanceof HTMLInputElement)) return;
  const userInput = meter.dataset.userField ? document.getElementById(meter.dataset.userField) : null;
  const fixedUser = meter.dataset.username ?? "";
  const text = meter.querySelector(".strength-text");
  const initial = text?.textContent ?? "";
  let timer = 0;
  let asked = 0;
  const show = (score, words, acceptable) => {
    meter.dataset.score = String(score);
    meter.dataset.acceptable = String(acceptable);
    if (text) text.textContent = words;
  };
  const update = () => {
    clearTimeout(timer);
    const username = userInput instanceof HTMLInputElement ? userInput.value : fixedUser;
    const password = input.value;
    if (!password) {
      delete meter.dataset.score;
      delete meter.dataset.acceptable;
      if (text) text.textContent = initial;
      return;
    }
    const quick = strength(password, username);
    if (quick.score === 0) {
      show(0, quick.text, false);
      return;
    }
    const ticket = ++asked;
    timer = window.setTimeout(async () => {
      try {
        const found = await verdict(password, username);
        if (ticket === asked) show(found.score, found.text, found.acceptable);
      } catch {
        /* offline: the submit will tell */
      }
    }, 150);
  };
  input.addEventListener("input", update);
  userInput?.addEventListener("input", update);
}
