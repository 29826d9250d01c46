"""TOTP (RFC 6238, via pyotp) and one-time recovery codes.

Codes are 6 digits over 30 s steps; a code from the step before or after is accepted
(``valid_window=1``) for clock drift. Replay: the caller stores the step of the last accepted code
and ``match_totp`` accepts only later steps, so a code cannot be used twice, nor an older code
after a newer one.

Recovery codes are 80 random bits each (16 base32 characters, shown as four groups). Only their
SHA-256 is stored: at 80 bits a plain hash is beyond brute force, and a fast hash lets a login
compare against all ten without ten argon2 runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pyotp

ISSUER = "hearthcam"
DIGITS = 6
VALID_WINDOW = 1
RECOVERY_CODES = 10


def new_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def clean_code(code: str) -> str:
    """A code as typed, without spaces or dashes, lower case."""
    return "".join(ch for ch in code if ch not in " -\t").lower()


def looks_like_totp(code: str) -> bool:
    """Whether a cleaned code has the shape of a TOTP code (rather than a recovery code)."""
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def match_totp(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step ``code`` is valid for, or None if it is wrong or not after ``last_step``."""
    code = clean_code(code)
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Fresh recovery codes in the form shown to the user: ``abcd-efgh-ijkl-mnop``."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    """The stored form of a recovery code (hex SHA-256 of its cleaned text)."""
    return hashlib.sha256(clean_code(code).encode("utf-8")).hexdigest()
