"""Account policy, pure: roles, who needs TOTP, the login state machine, and login throttling.

Nothing here touches the database or the clock; ``Accounts`` feeds it counts and times.

MFA by role (``DEFAULT_MFA_ROLES``): TOTP is **required** for ``admin`` and ``annotator`` and
optional for ``owner`` and ``member``. Admins and annotators are people from outside the home
whose accounts reach many households' systems (admin) or other people's footage (annotator), so
a leaked password must not be enough. A member is someone the owner let into their own home's
view: the same data and the same risk as the owner, so the owner's choice applies to them too. A
deployment that wants TOTP for members passes its own ``mfa_roles`` to ``Accounts``. Whatever
the role, a user who has enrolled TOTP is always asked for a code.

Login states (``next_state`` is the only transition function)::

    (no session) --PASSWORD--> MFA_PENDING     the user has TOTP enabled
                 --PASSWORD--> ENROLL_PENDING  the role requires TOTP, none enrolled yet
                 --PASSWORD--> ACTIVE          otherwise
    MFA_PENDING    --TOTP-----> ACTIVE
    ENROLL_PENDING --ENROLLED-> ACTIVE
    ACTIVE         --ENROLLED-> ACTIVE         an owner or member turning TOTP on

A pending session may do only what ``permits`` allows: submit a code, enroll, or log out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hearthcam.accounts.errors import NotAllowed


class Role(StrEnum):
    """What a user is to the system."""

    OWNER = "owner"
    MEMBER = "member"
    ADMIN = "admin"
    ANNOTATOR = "annotator"


class LoginState(StrEnum):
    """The state a session is in."""

    MFA_PENDING = "mfa_pending"
    ENROLL_PENDING = "enroll_pending"
    ACTIVE = "active"


class LoginStep(StrEnum):
    """What the user just proved."""

    PASSWORD = "password"
    TOTP = "totp"
    ENROLLED = "enrolled"


class Action(StrEnum):
    """What a request wants to do with its session (the web layer maps routes onto these)."""

    USE_APP = "use_app"
    SUBMIT_TOTP = "submit_totp"
    ENROLL_TOTP = "enroll_totp"
    LOGOUT = "logout"


DEFAULT_MFA_ROLES: frozenset[Role] = frozenset({Role.ADMIN, Role.ANNOTATOR})
HOUSEHOLD_ROLES: frozenset[Role] = frozenset({Role.OWNER, Role.MEMBER})

_PERMITTED: dict[LoginState, frozenset[Action]] = {
    LoginState.MFA_PENDING: frozenset({Action.SUBMIT_TOTP, Action.LOGOUT}),
    LoginState.ENROLL_PENDING: frozenset({Action.ENROLL_TOTP, Action.LOGOUT}),
    LoginState.ACTIVE: frozenset({Action.USE_APP, Action.ENROLL_TOTP, Action.LOGOUT}),
}


def mfa_required(role: Role, mfa_roles: frozenset[Role] = DEFAULT_MFA_ROLES) -> bool:
    """Whether a user of ``role`` must have TOTP before the session becomes active."""
    return role in mfa_roles


def needs_household(role: Role) -> bool:
    """Owners and members belong to exactly one household; admins and annotators to none."""
    return role in HOUSEHOLD_ROLES


def permits(state: LoginState, action: Action) -> bool:
    """Whether a session in ``state`` may do ``action``."""
    return action in _PERMITTED[state]


def next_state(
    current: LoginState | None,
    step: LoginStep,
    *,
    role: Role,
    totp_enabled: bool,
    mfa_roles: frozenset[Role] = DEFAULT_MFA_ROLES,
) -> LoginState:
    """The state after ``step``; raises NotAllowed for a step the current state does not take."""
    if current is None and step is LoginStep.PASSWORD:
        if totp_enabled:
            return LoginState.MFA_PENDING
        if mfa_required(role, mfa_roles):
            return LoginState.ENROLL_PENDING
        return LoginState.ACTIVE
    if current is LoginState.MFA_PENDING and step is LoginStep.TOTP:
        return LoginState.ACTIVE
    if current in (LoginState.ENROLL_PENDING, LoginState.ACTIVE) and step is LoginStep.ENROLLED:
        return LoginState.ACTIVE
    shown = "no session" if current is None else current.value
    raise NotAllowed(f"{step.value} is not a step from {shown}")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Login throttling. Failures are counted per username and per client address.

    A username is locked once it has ``per_username`` failures with no success in between:
    for ``base_lockout`` after the last failure, doubling with every further ``per_username``
    failures up to ``max_lockout``. An address is refused once it has ``per_ip`` failures
    within ``window``. Failures older than ``memory`` are forgotten.
    """

    window: float = 15 * 60.0
    per_username: int = 5
    per_ip: int = 20
    base_lockout: float = 15 * 60.0
    max_lockout: float = 24 * 3600.0
    memory: float = 24 * 3600.0


def username_locked_until(failures: int, last_failure: float, limits: RateLimits) -> float:
    """When a username with ``failures`` consecutive failures may try again (0.0: now)."""
    if failures < limits.per_username:
        return 0.0
    doublings = failures // limits.per_username - 1
    # Capped before exponentiation so a long-running attack cannot overflow the float.
    lockout = limits.base_lockout * 2.0 ** min(doublings, 32)
    return last_failure + min(lockout, limits.max_lockout)


def ip_blocked_until(failure_times: list[float], now: float, limits: RateLimits) -> float:
    """When an address may try again given its failure times (0.0: now)."""
    recent = sorted(t for t in failure_times if t > now - limits.window)
    if len(recent) < limits.per_ip:
        return 0.0
    # The address gets a try back when enough of its recent failures leave the window.
    return recent[len(recent) - limits.per_ip] + limits.window
