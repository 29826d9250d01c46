// A password strength hint. The server's rules are the law (at least 10 characters, not the
// username); this only nudges towards longer, less guessable passwords.

const COMMON = [
  "password", "passw0rd", "123456", "qwerty", "azerty", "letmein", "welcome", "admin", "iloveyou",
  "monkey", "dragon", "football", "baseball", "sunshine", "princess", "abc123", "trustno1",
  "hearthcam", "camera", "security",
];

const CHARSETS = [
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[0-9]/, 10],
  [/[^A-Za-z0-9]/, 33],
];

/**
 * Scores a password 0 (unacceptable) to 4 (strong).
 * @param {string} password
 * @param {string} [username]
 * @returns {{score: number, text: string}}
 */
export function strength(password, username = "") {
  if (!password) return { score: 0, text: "At least 10 characters. A few unrelated words make a strong one." };
  if (password.length < 10) {
    const more = 10 - password.length;
    return { score: 0, text: `Too short: ${more} more character${more === 1 ? "" : "s"} needed.` };
  }
  const lower = password.toLowerCase();
  if (username && username.length >= 3 && lower.includes(username.toLowerCase())) {
    return { score: 0, text: "It must not contain your username." };
  }
  const used = CHARSETS.filter(([re]) => re.test(password));
  const classes = used.length;
  const alphabet = used.reduce((sum, [, size]) => sum + size, 0);
  const unique = new Set(password).size;
  // Roughly: bits of entropy from length and the alphabet used, less for repeats and words.
  let bits = password.length * Math.log2(Math.max(alphabet, 2));
  if (unique < password.length / 2) bits *= 0.6;
  if (/(.)\1{2,}/.test(password)) bits *= 0.85;
  if (/(0123|1234|2345|3456|4567|5678|6789|abcd|bcde|qwer|asdf)/i.test(password)) bits *= 0.8;
  if (COMMON.some((word) => lower.includes(word))) bits *= 0.5;
  if (bits < 45) return { score: 1, text: "Weak: easy to guess. Make it longer." };
  if (bits < 60 || (classes < 2 && password.length < 16)) return { score: 2, text: "Fair. A few more characters would make it strong." };
  if (bits < 80) return { score: 3, text: "Good." };
  return { score: 4, text: "Strong." };
}

/** Wires a `.strength[data-strength-for]` element to its password input. */
export function attachStrength(meter) {
  const input = document.getElementById(meter.dataset.strengthFor ?? "");
  if (!(input instanceof HTMLInputElement)) return;
  const userInput = meter.dataset.userField ? document.getElementById(meter.dataset.userField) : null;
  const text = meter.querySelector(".strength-text");
  const initial = text?.textContent ?? "";
  const update = () => {
    const username = userInput instanceof HTMLInputElement ? userInput.value : "";
    const result = strength(input.value, username);
    meter.dataset.score = input.value ? String(result.score) : "";
    if (text) text.textContent = input.value ? result.text : initial;
  };
  input.addEventListener("input", update);
  userInput?.addEventListener("input", update);
}
