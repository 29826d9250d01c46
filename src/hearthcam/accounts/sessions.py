"""Session tokens, lifetimes and CSRF, pure.

The raw session token lives only in the client's cookie; the database keeps its SHA-256 as the
session id, so a leaked database (or backup) holds no usable session. Every session has its own
random CSRF token, which state-changing requests must echo (``check_csrf``).

A session ends at the first of: ``idle`` seconds without a request, ``absolute`` seconds after it
began, or logout. A pending session (waiting for a TOTP code or an enrollment) lives only
``pending`` seconds: it exists to finish a login, not to be kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from hearthcam.accounts.policy import LoginState, Role


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """Session lifetimes in seconds."""

    idle: float = 12 * 3600.0
    absolute: float = 7 * 24 * 3600.0
    pending: float = 10 * 60.0
    # last_seen is written at most this often, so reads do not all take the write lock.
    touch_every: float = 60.0

    def expires(self, state: LoginState, created: float) -> float:
        """The absolute end of a session in ``state`` that began at ``created``."""
        lifetime = self.absolute if state is LoginState.ACTIVE else self.pending
        return created + lifetime

    def is_expired(self, last_seen: float, expires: float, now: float) -> bool:
        """Whether a session is over: past its absolute end or idle too long."""
        return now >= expires or now - last_seen >= self.idle


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a request learns from its session cookie. Never holds the token or secrets."""

    user_id: int
    username: str
    role: Role
    household_id: int | None
    state: LoginState
    csrf_token: str
    mfa_passed: bool
    created: float
    expires: float

    @property
    def active(self) -> bool:
        """Whether the login is complete (the session may use the app)."""
        return self.state is LoginState.ACTIVE


def new_token() -> str:
    """A fresh session token for the cookie (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def new_csrf() -> str:
    """A fresh per-session CSRF token."""
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """The session id stored for a token: its hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_csrf(session: SessionInfo, token: str | None) -> bool:
    """Whether a request's CSRF token is this session's (compared in constant time)."""
    if not token:
        return False
    return hmac.compare_digest(session.csrf_token.encode("utf-8"), token.encode("utf-8"))
