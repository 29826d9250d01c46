"""Test builders for accounts: constants, a cheap argon2 hasher, login and enrollment shortcuts.

Production hashes with argon2-cffi's defaults (RFC 9106 low-memory profile, 64 MiB); the tests
use argon2's CHEAPEST parameters so a hundred logins take milliseconds. The code paths are the
same; only the cost parameters differ.
"""

from __future__ import annotations

import pyotp
from argon2 import PasswordHasher, profiles

from hearthcam.accounts import Accounts, LoginResult, Role

T0 = 1_700_000_000.0
PASSWORD = "correct horse battery"
IP = "192.0.2.10"
UA = "pytest-browser/1.0"


def cheap_hasher() -> PasswordHasher:
    """An argon2id hasher with the cheapest parameters (tests only)."""
    return PasswordHasher.from_parameters(profiles.CHEAPEST)


def login(
    accounts: Accounts, username: str, now: float = T0, *, password: str = PASSWORD, ip: str = IP
) -> LoginResult:
    """Logs in (the standard password and client unless given)."""
    return accounts.authenticate(username, password, ip=ip, user_agent=UA, now=now)


def code(secret: str, now: float) -> str:
    """The TOTP code an authenticator app would show at ``now``."""
    return pyotp.TOTP(secret).at(now)


def enrolled(accounts: Accounts, username: str, role: Role, now: float = T0) -> str:
    """Creates a user of ``role`` with TOTP enrolled; returns the TOTP secret."""
    accounts.create_user(username, PASSWORD, role, None, now)
    first = login(accounts, username, now)
    assert first.token is not None
    enrollment = accounts.enroll_totp(first.token, now)
    confirmed = accounts.confirm_totp(first.token, code(enrollment.secret, now), now)
    assert confirmed.result.ok
    assert confirmed.result.token is not None
    accounts.logout(confirmed.result.token)
    return enrollment.secret
