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

import ipaddress
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
    """Login throttling, counted per *client*, never per account.

    A client is an address (an IPv6 address by its /64, which one home or one attacker holds
    whole) or, for a browser that completed a login as this user before, that known device
    (accounts.devices). A client backs off once it has ``per_pair`` failures at one username
    or ``per_client`` failures at any: ``base_delay`` after its last failure, doubling with
    each further failure up to ``max_delay``. Failures older than ``memory`` are forgotten.

    Nothing locks an account as a whole: five wrong passwords from anywhere used to lock the
    owner out for 15 minutes to a day, a weapon for anyone on the LAN. A guesser now slows only
    itself, and the owner's known device is throttled on its own failures alone.
    """

    per_pair: int = 5
    per_client: int = 20
    base_delay: float = 60.0
    max_delay: float = 24 * 3600.0
    memory: float = 24 * 3600.0


def backoff_until(failures: int, last_failure: float, free: int, limits: RateLimits) -> float:
    """When a client with ``failures`` (the last at ``last_failure``) may try again, if its
    first ``free`` failures cost nothing (0.0: now)."""
    if failures < free:
        return 0.0
    # Capped before exponentiation so a long-running attack cannot overflow the float.
    delay = limits.base_delay * 2.0 ** min(failures - free, 32)
    return last_failure + min(delay, limits.max_delay)


IPV6_SITE_PREFIX = 64


def client_key(ip: str, device: str | None = None) -> str:
    """What a login attempt is counted against: the known device, or else the address."""
    if device:
        return f"device:{device}"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:  # not an address (a test client, a Unix socket): counted as it is
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        # From the integer, so a zone ("fe80::1%eth0") does not get in the way.
        return str(ipaddress.IPv6Network((int(address), IPV6_SITE_PREFIX), strict=False))
    return str(address)
