"""Pure policy: who needs TOTP, the login state machine, what pending sessions may do, limits."""

from __future__ import annotations

import pytest

from hearthcam.accounts.errors import NotAllowed
from hearthcam.accounts.policy import (
    Action,
    LoginState,
    LoginStep,
    RateLimits,
    Role,
    backoff_until,
    client_key,
    mfa_required,
    needs_household,
    next_state,
    permits,
)

LIMITS = RateLimits()


@pytest.mark.parametrize(
    ("role", "required"),
    [(Role.OWNER, False), (Role.MEMBER, False), (Role.ADMIN, True), (Role.ANNOTATOR, True)],
)
def test_mfa_required_for_admin_and_annotator_only(role: Role, required: bool) -> None:
    assert mfa_required(role) is required


def test_mfa_roles_can_be_widened_to_members() -> None:
    assert mfa_required(Role.MEMBER, frozenset({Role.MEMBER, Role.ADMIN}))


def test_only_owners_and_members_belong_to_a_household() -> None:
    assert needs_household(Role.OWNER)
    assert needs_household(Role.MEMBER)
    assert not needs_household(Role.ADMIN)
    assert not needs_household(Role.ANNOTATOR)


@pytest.mark.parametrize(
    ("role", "totp", "expected"),
    [
        (Role.OWNER, False, LoginState.ACTIVE),
        (Role.OWNER, True, LoginState.MFA_PENDING),
        (Role.MEMBER, False, LoginState.ACTIVE),
        (Role.ADMIN, False, LoginState.ENROLL_PENDING),
        (Role.ADMIN, True, LoginState.MFA_PENDING),
        (Role.ANNOTATOR, False, LoginState.ENROLL_PENDING),
        (Role.ANNOTATOR, True, LoginState.MFA_PENDING),
    ],
)
def test_password_step(role: Role, totp: bool, expected: LoginState) -> None:
    assert next_state(None, LoginStep.PASSWORD, role=role, totp_enabled=totp) is expected


def test_second_factor_steps_reach_active() -> None:
    for state, step in [
        (LoginState.MFA_PENDING, LoginStep.TOTP),
        (LoginState.ENROLL_PENDING, LoginStep.ENROLLED),
        (LoginState.ACTIVE, LoginStep.ENROLLED),
    ]:
        assert next_state(state, step, role=Role.ADMIN, totp_enabled=True) is LoginState.ACTIVE


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (None, LoginStep.TOTP),
        (None, LoginStep.ENROLLED),
        (LoginState.MFA_PENDING, LoginStep.PASSWORD),
        (LoginState.MFA_PENDING, LoginStep.ENROLLED),  # cannot enroll around a pending code
        (LoginState.ENROLL_PENDING, LoginStep.TOTP),
        (LoginState.ACTIVE, LoginStep.PASSWORD),
    ],
)
def test_other_transitions_are_refused(state: LoginState | None, step: LoginStep) -> None:
    with pytest.raises(NotAllowed):
        next_state(state, step, role=Role.OWNER, totp_enabled=True)


def test_pending_sessions_can_do_nothing_but_finish_the_login() -> None:
    assert not permits(LoginState.MFA_PENDING, Action.USE_APP)
    assert not permits(LoginState.MFA_PENDING, Action.ENROLL_TOTP)
    assert permits(LoginState.MFA_PENDING, Action.SUBMIT_TOTP)
    assert not permits(LoginState.ENROLL_PENDING, Action.USE_APP)
    assert not permits(LoginState.ENROLL_PENDING, Action.SUBMIT_TOTP)
    assert permits(LoginState.ENROLL_PENDING, Action.ENROLL_TOTP)
    assert permits(LoginState.ACTIVE, Action.USE_APP)
    assert all(permits(state, Action.LOGOUT) for state in LoginState)


def test_backoff_starts_after_the_free_failures_and_doubles() -> None:
    assert backoff_until(4, 100.0, 5, LIMITS) == 0.0
    assert backoff_until(5, 100.0, 5, LIMITS) == 100.0 + 60
    assert backoff_until(6, 100.0, 5, LIMITS) == 100.0 + 120
    assert backoff_until(8, 100.0, 5, LIMITS) == 100.0 + 480
    assert backoff_until(10_000, 100.0, 5, LIMITS) == 100.0 + LIMITS.max_delay


@pytest.mark.parametrize(
    ("ip", "device", "key"),
    [
        ("192.0.2.10", None, "192.0.2.10"),
        ("2001:db8:1:2:3:4:5:6", None, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", None, "2001:db8:1:2::/64"),  # one /64: one client
        ("fe80::1%eth0", None, "fe80::/64"),
        ("::ffff:192.0.2.10", None, "192.0.2.10"),
        ("testclient", None, "testclient"),
        ("192.0.2.10", "AbC-_9", "device:AbC-_9"),
    ],
)
def test_client_key(ip: str, device: str | None, key: str) -> None:
    assert client_key(ip, device) == key
