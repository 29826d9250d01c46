"""TOTP: required for admins and annotators, optional for owners, replay-proof, recovery codes."""

from __future__ import annotations

import pytest

from hearthcam.accounts import (
    Accounts,
    Action,
    LoginFailure,
    LoginState,
    NotAllowed,
    Role,
    permits,
)
from hearthcam.accounts.policy import DEFAULT_MFA_ROLES
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, cheap_hasher, code, enrolled, login


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ANNOTATOR])
def test_roles_that_require_totp_must_enroll_first(accounts: Accounts, role: Role) -> None:
    accounts.create_user("outsider", PASSWORD, role, None, T0)
    result = login(accounts, "outsider")
    assert result.state is LoginState.ENROLL_PENDING
    assert result.token is not None
    info = accounts.session(result.token, T0)
    assert info is not None
    assert info.state is LoginState.ENROLL_PENDING
    assert not info.active
    assert not permits(info.state, Action.USE_APP)
    with pytest.raises(NotAllowed):  # a pending session cannot change the password either
        accounts.change_password(result.token, PASSWORD, "another long password", T0)
    assert accounts.list_users()[0].last_login is None  # the login is not complete


def wrong_code(secret: str, now: float) -> str:
    """A code not valid at ``now``, nor in the steps either side (TOTP accepts those for drift)."""
    valid = {code(secret, now + drift) for drift in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_enrollment_turns_the_pending_login_active(accounts: Accounts) -> None:
    accounts.create_user("root", PASSWORD, Role.ADMIN, None, T0)
    pending = login(accounts, "root").token
    assert pending is not None
    enrollment = accounts.enroll_totp(pending, T0)
    assert "issuer=hearthcam" in enrollment.uri
    wrong = accounts.confirm_totp(pending, wrong_code(enrollment.secret, T0), T0)
    assert wrong.result.failure is LoginFailure.INVALID_CODE
    assert wrong.recovery_codes == ()
    done = accounts.confirm_totp(pending, code(enrollment.secret, T0 + 20), T0 + 20)
    assert done.result.state is LoginState.ACTIVE
    assert done.result.token is not None
    assert done.result.token != pending  # rotated
    assert len(done.recovery_codes) == 10
    assert accounts.session(pending, T0 + 21) is None
    info = accounts.session(done.result.token, T0 + 21)
    assert info is not None
    assert info.active
    assert info.mfa_passed
    assert accounts.list_users()[0].totp_enabled


def test_an_enrolled_admin_is_asked_for_a_code(accounts: Accounts) -> None:
    secret = enrolled(accounts, "root", Role.ADMIN)
    now = T0 + 300
    pending = login(accounts, "root", now)
    assert pending.state is LoginState.MFA_PENDING
    assert pending.token is not None
    info = accounts.session(pending.token, now)
    assert info is not None
    assert info.state is LoginState.MFA_PENDING
    assert not permits(info.state, Action.USE_APP)
    with pytest.raises(NotAllowed):  # cannot enroll a new secret around the code
        accounts.enroll_totp(pending.token, now)
    done = accounts.verify_mfa(pending.token, code(secret, now), now)
    assert done.state is LoginState.ACTIVE
    assert done.token is not None
    assert done.token != pending.token
    assert accounts.session(pending.token, now) is None
    after = accounts.session(done.token, now)
    assert after is not None
    assert after.active
    assert after.csrf_token != info.csrf_token


def test_verify_mfa_needs_a_pending_session(accounts: Accounts, home: int) -> None:
    active = login(accounts, "alice").token
    assert active is not None
    assert accounts.verify_mfa(active, "123456", T0).failure is LoginFailure.NO_SESSION
    assert accounts.verify_mfa("nothing", "123456", T0).failure is LoginFailure.NO_SESSION


def test_a_used_code_cannot_be_used_again(accounts: Accounts) -> None:
    secret = enrolled(accounts, "root", Role.ADMIN)
    now = T0 + 300
    used = code(secret, now)
    first = login(accounts, "root", now).token
    assert first is not None
    assert accounts.verify_mfa(first, used, now).ok
    second = login(accounts, "root", now + 5).token
    assert second is not None
    replay = accounts.verify_mfa(second, used, now + 5)
    assert replay.failure is LoginFailure.INVALID_CODE
    assert accounts.verify_mfa(second, code(secret, now + 30), now + 30).ok


def test_guessing_codes_locks_the_account(accounts: Accounts) -> None:
    secret = enrolled(accounts, "root", Role.ADMIN)
    now = T0 + 300
    token = login(accounts, "root", now).token
    assert token is not None
    good = code(secret, now)
    guesses = [g for g in ("111111", "222222", "333333", "444444", "555555", "666666") if g != good]
    for guess in guesses[:4]:
        assert accounts.verify_mfa(token, guess, now).failure is LoginFailure.INVALID_CODE
    # Logging in again with the password does not wipe the failed codes.
    token = login(accounts, "root", now + 1).token
    assert token is not None
    assert accounts.verify_mfa(token, guesses[4], now + 1).failure is LoginFailure.INVALID_CODE
    locked = accounts.verify_mfa(token, good, now + 2)
    assert locked.failure is LoginFailure.THROTTLED
    assert accounts.session(token, now + 2) is None  # the half-finished login is over
    assert login(accounts, "root", now + 3).failure is LoginFailure.THROTTLED


def test_recovery_codes_work_once(store: Store) -> None:
    accounts = Accounts(store, hasher=cheap_hasher())
    accounts.create_user("root", PASSWORD, Role.ADMIN, None, T0)
    pending = login(accounts, "root").token
    assert pending is not None
    secret = accounts.enroll_totp(pending, T0).secret
    codes = accounts.confirm_totp(pending, code(secret, T0), T0).recovery_codes
    root = accounts.list_users()[0]
    assert accounts.recovery_codes_left(root.id) == 10
    first = login(accounts, "root", T0 + 60).token
    assert first is not None
    assert accounts.verify_mfa(first, codes[3].upper(), T0 + 60).state is LoginState.ACTIVE
    assert accounts.recovery_codes_left(root.id) == 9
    again = login(accounts, "root", T0 + 120).token
    assert again is not None
    assert accounts.verify_mfa(again, codes[3], T0 + 120).failure is LoginFailure.INVALID_CODE


def test_owner_totp_is_optional_and_then_asked_for(accounts: Accounts, home: int) -> None:
    token = login(accounts, "alice").token
    assert token is not None
    enrollment = accounts.enroll_totp(token, T0)
    other_device = login(accounts, "alice").token
    confirmed = accounts.confirm_totp(token, code(enrollment.secret, T0), T0)
    assert confirmed.result.state is LoginState.ACTIVE
    assert other_device is not None
    # A session opened without the second factor ends once TOTP is on.
    assert accounts.session(other_device, T0) is None
    with pytest.raises(NotAllowed):
        accounts.enroll_totp(confirmed.result.token or "", T0)  # already on
    pending = login(accounts, "alice", T0 + 60)
    assert pending.state is LoginState.MFA_PENDING


def test_owner_may_turn_totp_off_with_a_code(accounts: Accounts, home: int) -> None:
    token = login(accounts, "alice").token
    assert token is not None
    secret = accounts.enroll_totp(token, T0).secret
    active = accounts.confirm_totp(token, code(secret, T0), T0).result.token
    assert active is not None
    assert not accounts.disable_totp(active, code(secret, T0), T0)  # that step was used
    assert accounts.disable_totp(active, code(secret, T0 + 30), T0 + 30)
    assert login(accounts, "alice", T0 + 60).state is LoginState.ACTIVE


def test_admins_cannot_turn_totp_off(accounts: Accounts) -> None:
    secret = enrolled(accounts, "root", Role.ADMIN)
    token = login(accounts, "root", T0 + 60).token
    assert token is not None
    active = accounts.verify_mfa(token, code(secret, T0 + 60), T0 + 60).token
    assert active is not None
    with pytest.raises(NotAllowed):
        accounts.disable_totp(active, code(secret, T0 + 90), T0 + 90)


def test_pending_sessions_are_short_lived(accounts: Accounts) -> None:
    accounts.create_user("root", PASSWORD, Role.ADMIN, None, T0)
    token = login(accounts, "root").token
    assert token is not None
    assert accounts.session(token, T0 + 9 * 60) is not None
    assert accounts.session(token, T0 + 10 * 60) is None
    with pytest.raises(NotAllowed):
        accounts.enroll_totp(token, T0 + 10 * 60)


def test_members_can_be_required_to_use_totp(store: Store) -> None:
    strict = Accounts(store, hasher=cheap_hasher(), mfa_roles=DEFAULT_MFA_ROLES | {Role.MEMBER})
    home = strict.setup("alice", PASSWORD, "home", [], T0).household_id
    strict.create_user("bob", PASSWORD, Role.MEMBER, home, T0)
    assert login(strict, "bob").state is LoginState.ENROLL_PENDING
    assert login(strict, "alice").state is LoginState.ACTIVE
