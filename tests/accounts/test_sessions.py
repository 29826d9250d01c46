"""Sessions: tokens stored hashed, idle and absolute expiry, rotation, logout, CSRF, revocation."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from hearthcam.accounts import (
    Accounts,
    LoginFailure,
    LoginState,
    NotAllowed,
    PasswordRejected,
    Role,
    SessionInfo,
    check_csrf,
)
from hearthcam.accounts.sessions import SessionPolicy, token_id
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, cheap_hasher, login
from tests.support.store_fixtures import SQLITE_ONLY

HOUR = 3600.0


def active_token(accounts: Accounts, username: str = "alice", now: float = T0) -> str:
    result = login(accounts, username, now)
    assert result.state is LoginState.ACTIVE
    assert result.token is not None
    return result.token


def test_session_info(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    info = accounts.session(token, T0 + 1)
    assert info is not None
    assert (info.username, info.role, info.household_id) == ("alice", Role.OWNER, home)
    assert info.active
    assert not info.mfa_passed
    assert info.expires == T0 + 7 * 24 * HOUR
    assert accounts.session("", T0) is None
    assert accounts.session("made-up-token", T0) is None


@SQLITE_ONLY
def test_database_holds_only_the_token_hash(accounts: Accounts, home: int, data_dir: Path) -> None:
    token = active_token(accounts)
    with closing(sqlite3.connect(data_dir / "hearthcam.sqlite")) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM sessions")]
        dump = "\n".join(db.iterdump())
    assert ids == [token_id(token)]
    assert token not in dump
    assert PASSWORD not in dump


def test_idle_timeout(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    assert accounts.session(token, T0 + 11 * HOUR) is not None  # use moves the idle clock
    assert accounts.session(token, T0 + 22 * HOUR) is not None
    assert accounts.session(token, T0 + 34 * HOUR + 1) is None
    assert accounts.session(token, T0 + 23 * HOUR) is None  # an ended session stays ended


def test_absolute_lifetime(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    now = T0
    while now < T0 + 7 * 24 * HOUR - HOUR:
        now += HOUR
        assert accounts.session(token, now) is not None
    assert accounts.session(token, T0 + 7 * 24 * HOUR) is None


def test_shorter_lifetimes_can_be_configured(store: Store, home: int) -> None:
    quick = Accounts(store, hasher=cheap_hasher(), sessions=SessionPolicy(idle=60, absolute=300))
    token = active_token(quick)
    assert quick.session(token, T0 + 59) is not None
    assert quick.session(token, T0 + 120) is None


def test_login_rotates_any_previous_token(accounts: Accounts, home: int) -> None:
    first = active_token(accounts)
    second = accounts.authenticate(
        "alice", PASSWORD, ip="192.0.2.1", user_agent="ua", now=T0 + 1, previous_token=first
    )
    assert second.token is not None
    assert second.token != first
    assert accounts.session(first, T0 + 2) is None
    assert accounts.session(second.token, T0 + 2) is not None


def test_logout(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    other = active_token(accounts)
    assert accounts.logout(token)
    assert accounts.session(token, T0) is None
    assert not accounts.logout(token)
    assert accounts.session(other, T0) is not None  # other devices stay logged in


def test_csrf_token_is_per_session_and_checked_exactly(accounts: Accounts, home: int) -> None:
    one = accounts.session(active_token(accounts), T0)
    two = accounts.session(active_token(accounts), T0)
    assert one is not None
    assert two is not None
    assert one.csrf_token != two.csrf_token
    assert check_csrf(one, one.csrf_token)
    assert not check_csrf(one, two.csrf_token)
    assert not check_csrf(one, one.csrf_token[:-1])
    assert not check_csrf(one, "")
    assert not check_csrf(one, None)


def test_check_csrf_is_pure() -> None:
    info = SessionInfo(1, "a", Role.OWNER, 1, LoginState.ACTIVE, "tok", False, 0.0, 1.0)
    assert check_csrf(info, "tok")
    assert not check_csrf(info, "TOK")


def test_change_password_ends_every_other_session(accounts: Accounts, home: int) -> None:
    laptop = active_token(accounts)
    phone = active_token(accounts)
    changed = accounts.change_password(laptop, PASSWORD, "a new long passphrase", T0 + 10)
    assert changed.state is LoginState.ACTIVE
    assert changed.token is not None
    assert accounts.session(phone, T0 + 11) is None
    assert accounts.session(laptop, T0 + 11) is None
    assert accounts.session(changed.token, T0 + 11) is not None
    assert not login(accounts, "alice", T0 + 12).ok
    assert login(accounts, "alice", T0 + 12, password="a new long passphrase").ok


def test_change_password_needs_the_old_one(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    wrong = accounts.change_password(token, "not my password", "a new long passphrase", T0)
    assert wrong.failure is LoginFailure.INVALID_CREDENTIALS
    assert accounts.session(token, T0) is not None
    with pytest.raises(PasswordRejected):
        accounts.change_password(token, PASSWORD, "alice-is-me-123", T0)
    with pytest.raises(NotAllowed):
        accounts.change_password("no-such-token", PASSWORD, "a new long passphrase", T0)
    assert login(accounts, "alice").ok


def test_guessing_the_old_password_locks_the_account(accounts: Accounts, home: int) -> None:
    token = active_token(accounts)
    for i in range(5):
        accounts.change_password(token, f"guess {i} guess", "a new long passphrase", T0 + i)
    last = accounts.change_password(token, PASSWORD, "a new long passphrase", T0 + 6)
    assert last.failure is LoginFailure.THROTTLED
    assert login(accounts, "alice", T0 + 7).failure is LoginFailure.THROTTLED


def test_set_password_and_revoke_all(accounts: Accounts, home: int) -> None:
    bob = accounts.create_user("bob", PASSWORD, Role.MEMBER, home, T0)
    one, two = active_token(accounts, "bob"), active_token(accounts, "bob")
    alice = active_token(accounts)
    assert accounts.revoke_all(bob.id) == 2
    assert accounts.session(one, T0) is None
    assert accounts.session(two, T0) is None
    assert accounts.session(alice, T0) is not None
    token = active_token(accounts, "bob")
    assert accounts.set_password(bob.id, "reset by the owner")
    assert accounts.session(token, T0) is None
    assert login(accounts, "bob", password="reset by the owner").ok
    assert not accounts.set_password(9999, "reset by the owner")


def test_prune_sessions(accounts: Accounts, home: int) -> None:
    active_token(accounts)
    active_token(accounts)
    assert accounts.prune_sessions(T0 + HOUR) == 0
    assert accounts.prune_sessions(T0 + 13 * HOUR) == 2
