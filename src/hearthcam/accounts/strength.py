"""How guessable a password is: the zxcvbn estimate (the ``zxcvbn`` package, Dropbox's
algorithm ported to Python), and the score a new password needs.

zxcvbn scores 0-4 from its estimate of the guesses an attacker needs (dictionaries, common
passwords, names, keyboard walks, dates, repeats, l33t). A new password needs ``MIN_SCORE`` 3,
about 10^8 guesses: the browser's meter calls 0-2 weak, and asks this server for the score
(``/api/password/strength``), so the meter and the rule cannot disagree.

Only the first ``MAX_SCORED`` characters are scored (zxcvbn's own cap: its matching grows
quickly with length); a longer password is judged by that prefix.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from zxcvbn import zxcvbn

MIN_SCORE = 3
MAX_SCORED = 72
# Words that make a password guessable on this system whoever the user is.
SITE_WORDS = ("hearthcam", "camera", "security", "household")
# zxcvbn keeps the user's words in a module-level dictionary while it scores: one at a time.
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Strength:
    """zxcvbn's verdict on one password."""

    score: int  # 0 (too guessable) to 4 (very unguessable)
    warning: str
    suggestions: tuple[str, ...]

    @property
    def acceptable(self) -> bool:
        """Whether a new password this strong is allowed."""
        return self.score >= MIN_SCORE

    def reason(self) -> str:
        """Why the password is refused, in words a form can show."""
        detail = self.warning or next(iter(self.suggestions), "")
        base = "a password this easy to guess is refused"
        return f"{base}: {detail.rstrip('.').lower()}" if detail else base


def estimate(password: str, words: tuple[str, ...] = ()) -> Strength:
    """zxcvbn's score of ``password``, counting ``words`` (the username, ...) as known."""
    if not password:
        return Strength(0, "", ())
    with _LOCK:
        found = zxcvbn(password[:MAX_SCORED], [*words, *SITE_WORDS])
    feedback = found["feedback"]
    return Strength(
        int(found["score"]),
        str(feedback["warning"] or ""),
        tuple(str(s) for s in feedback["suggestions"]),
    )
