"""Accounts: users, households, camera ownership, password + TOTP login, sessions and CSRF.

``Accounts`` (service.py) is the API; policy.py holds the pure rules (roles, who needs TOTP, the
login state machine, throttling), passwords.py the argon2id hashing and password rules, totp.py
TOTP and recovery codes, sessions.py tokens, lifetimes and CSRF. The tables live in
``hearthcam.store.accounts``.
"""

from __future__ import annotations

from hearthcam.accounts.devices import DeviceKeys
from hearthcam.accounts.enrolment import Enrolled, EnrolmentDone, Invitation, LinkInvalid
from hearthcam.accounts.errors import (
    AccountError,
    InvalidUsername,
    NotAllowed,
    PasswordRejected,
    SetupClosed,
    UsernameTaken,
)
from hearthcam.accounts.login import (
    LoginFailure,
    LoginResult,
    TotpConfirmation,
    TotpEnrollment,
    UserInfo,
)
from hearthcam.accounts.passwords import username_key
from hearthcam.accounts.policy import Action, LoginState, RateLimits, Role, permits
from hearthcam.accounts.service import Accounts
from hearthcam.accounts.sessions import SessionInfo, SessionPolicy, check_csrf

__all__ = [
    "AccountError",
    "Accounts",
    "Action",
    "DeviceKeys",
    "Enrolled",
    "EnrolmentDone",
    "InvalidUsername",
    "Invitation",
    "LinkInvalid",
    "LoginFailure",
    "LoginResult",
    "LoginState",
    "NotAllowed",
    "PasswordRejected",
    "RateLimits",
    "Role",
    "SessionInfo",
    "SessionPolicy",
    "SetupClosed",
    "TotpConfirmation",
    "TotpEnrollment",
    "UserInfo",
    "UsernameTaken",
    "check_csrf",
    "permits",
    "username_key",
]
