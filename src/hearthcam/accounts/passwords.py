"""Usernames and passwords: the rules a new one must meet, and argon2id hashing.

Hashing uses argon2-cffi's ``PasswordHasher``. Its defaults are RFC 9106's low-memory profile
(argon2id, t=3, m=64 MiB, p=4), which production uses; tests pass a cheaper hasher to the
constructor for speed. A stored hash made with other parameters is rehashed at the next
successful login (``needs_rehash``).

An unknown username is checked against a dummy hash made with the same hasher, so a login for a
user who does not exist costs the same time as a wrong password for one who does.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error

from hearthcam.accounts.errors import InvalidUsername
from hearthcam.accounts.strength import estimate

MIN_PASSWORD = 10
# A cap keeps a megabyte "password" from costing real work; no human types 1024 characters.
MAX_PASSWORD = 1024
MAX_USERNAME = 64
# The stored hash of a user who has no password yet (invited, or their TOTP was reset): no
# argon2 hash looks like it, so no password matches it.
NO_PASSWORD = "!"

# Also what the web API's spec documents (web.schemas.NewUsername).
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$"
_USERNAME = re.compile(USERNAME_PATTERN.strip("^$"))


def username_key(username: str) -> str:
    """The form usernames are compared and rate-limited by: lower case, at most 64 characters."""
    return username.lower()[:MAX_USERNAME]


def check_username(username: str) -> str:
    """Returns the username if it is 3-64 ASCII letters, digits or ``. _ - @``; else raises."""
    # ASCII only, so two names that look alike on screen cannot be two different accounts.
    if not _USERNAME.fullmatch(username):
        raise InvalidUsername(
            "a username is 3-64 characters: letters, digits and . _ - @, starting with a letter "
            "or digit"
        )
    return username


def normalize_password(password: str) -> str:
    """NFKC form, so the same password typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFKC", password)


def password_problems(password: str, username: str) -> list[str]:
    """Every rule a new password breaks (empty when it is acceptable).

    Length and the username first; only a password that passes those is scored by zxcvbn
    (``strength``), so a short one gets the plain reason."""
    text = normalize_password(password)
    problems = []
    if len(text) < MIN_PASSWORD:
        problems.append(f"a password needs at least {MIN_PASSWORD} characters")
    if len(text) > MAX_PASSWORD:
        problems.append(f"a password has at most {MAX_PASSWORD} characters")
    if username and username.casefold() in text.casefold():
        problems.append("a password must not contain the username")
    if not problems:
        strength = estimate(text, (username,) if username else ())
        if not strength.acceptable:
            problems.append(strength.reason())
    return problems


class Passwords:
    """argon2id hashing with a dummy hash for unknown users."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else PasswordHasher()
        # Same parameters as real hashes, so verifying against it takes as long.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        """The encoded argon2id hash of a password."""
        return self._hasher.hash(normalize_password(password))

    def verify(self, encoded: str | None, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; None (no such user) checks a dummy hash."""
        usable = encoded is not None and encoded != NO_PASSWORD
        # No password yet checks the dummy hash too: the same work as for anyone else.
        target = encoded if encoded is not None and usable else self._dummy
        candidate = normalize_password(password) if len(password) <= MAX_PASSWORD else ""
        try:
            matched = self._hasher.verify(target, candidate)
        except (Argon2Error, ValueError):  # ValueError: a malformed stored hash
            return False
        return matched and usable and len(password) <= MAX_PASSWORD

    def needs_rehash(self, encoded: str) -> bool:
        """Whether a stored hash was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except ValueError:  # a malformed stored hash: replace it
            return True
