"""Password login: generic failures, equal work for unknown users, throttling, lockout, rehash."""

from __future__ import annotations

from typing import Literal

from argon2 import PasswordHasher

from hearthcam.accounts import Accounts, LoginFailure, LoginState, RateLimits, Role
from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, cheap_hasher, login

MINUTE = 60.0


class CountingHasher(PasswordHasher):
    """A cheap hasher that counts verifications: the argon2 work a login does."""

    def __init__(self) -> None:
        cheap = cheap_hasher()
        super().__init__(
            time_cost=cheap.time_cost,
            memory_cost=cheap.memory_cost,
            parallelism=cheap.parallelism,
            hash_len=cheap.hash_len,
            salt_len=cheap.salt_len,
        )
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


def test_owner_logs_in_without_totp(accounts: Accounts, home: int) -> None:
    result = login(accounts, "alice", T0 + 5)
    assert result.ok
    assert result.state is LoginState.ACTIVE
    assert result.token is not None
    alice = accounts.list_users()[0]
    assert alice.last_login == T0 + 5


def test_unknown_user_and_wrong_password_look_the_same(store: Store) -> None:
    hasher = CountingHasher()
    accounts = Accounts(store, hasher=hasher)
    accounts.setup("alice", PASSWORD, "home", [], T0)
    hasher.verified = 0
    wrong = login(accounts, "alice", password="not the password")
    assert hasher.verified == 1
    unknown = login(accounts, "nobody", password="not the password")
    # An unknown name still costs one argon2 verification (against the dummy hash).
    assert hasher.verified == 2
    assert wrong == unknown
    assert wrong.failure is LoginFailure.INVALID_CREDENTIALS
    assert wrong.token is None


def test_locked_after_five_failures_until_the_lockout_passes(accounts: Accounts, home: int) -> None:
    for i in range(5):
        assert login(accounts, "alice", T0 + i, password="wrong guess!").failure is (
            LoginFailure.INVALID_CREDENTIALS
        )
    locked = login(accounts, "alice", T0 + 10)  # even the right password is refused now
    assert locked.failure is LoginFailure.THROTTLED
    assert locked.retry_after == 4 + 15 * MINUTE - 10
    alice = accounts.list_users()[0]
    assert alice.locked_until == T0 + 4 + 15 * MINUTE
    assert login(accounts, "alice", T0 + 4 + 15 * MINUTE + 1).state is LoginState.ACTIVE
    assert accounts.list_users()[0].locked_until == 0.0


def test_unknown_usernames_lock_the_same_way(accounts: Accounts, home: int) -> None:
    for i in range(5):
        login(accounts, "nobody", T0 + i, password="wrong guess!")
        login(accounts, "alice", T0 + i, password="wrong guess!")
    ghost = login(accounts, "nobody", T0 + 10, password="wrong guess!")
    real = login(accounts, "alice", T0 + 10, password="wrong guess!")
    assert ghost == real
    assert real.failure is LoginFailure.THROTTLED


def test_success_resets_the_username_counter(accounts: Accounts, home: int) -> None:
    for i in range(4):
        login(accounts, "alice", T0 + i, password="wrong guess!")
    assert login(accounts, "alice", T0 + 5).ok
    for i in range(4):
        login(accounts, "alice", T0 + 10 + i, password="wrong guess!")
    assert login(accounts, "alice", T0 + 20).ok


def test_lockout_doubles_while_failures_continue(accounts: Accounts, home: int) -> None:
    now = T0
    for _ in range(5):
        now += 1
        login(accounts, "alice", now, password="wrong guess!")
    for _ in range(5):  # one guess per lockout: failures 6 to 10
        now += 15 * MINUTE + 1
        assert login(accounts, "alice", now, password="wrong guess!").failure is (
            LoginFailure.INVALID_CREDENTIALS
        )
    assert accounts.list_users()[0].locked_until == now + 30 * MINUTE
    assert login(accounts, "alice", now + 16 * MINUTE).failure is LoginFailure.THROTTLED
    assert login(accounts, "alice", now + 30 * MINUTE + 1).ok


def test_one_address_gets_twenty_failures(accounts: Accounts, home: int) -> None:
    for i in range(20):
        # Four tries per name: no username reaches its own limit.
        login(accounts, f"guess{i // 4}", T0 + i, password="wrong guess!", ip="203.0.113.9")
    blocked = login(accounts, "alice", T0 + 30, ip="203.0.113.9")
    assert blocked.failure is LoginFailure.THROTTLED
    assert login(accounts, "alice", T0 + 31, ip="198.51.100.7").ok
    assert login(accounts, "alice", T0 + 15 * MINUTE + 1, ip="203.0.113.9").ok


def test_limits_are_configurable(store: Store) -> None:
    strict = Accounts(store, hasher=cheap_hasher(), limits=RateLimits(per_username=2))
    strict.setup("alice", PASSWORD, "home", [], T0)
    login(strict, "alice", T0, password="wrong guess!")
    login(strict, "alice", T0 + 1, password="wrong guess!")
    assert login(strict, "alice", T0 + 2).failure is LoginFailure.THROTTLED


def test_unlock_user(accounts: Accounts, home: int) -> None:
    for i in range(5):
        login(accounts, "alice", T0 + i, password="wrong guess!")
    alice = accounts.list_users()[0]
    assert accounts.unlock_user(alice.id)
    assert login(accounts, "alice", T0 + 10).ok
    assert not accounts.unlock_user(9999)


def test_password_is_rehashed_when_parameters_change(store: Store) -> None:
    Accounts(store, hasher=cheap_hasher()).setup("alice", PASSWORD, "home", [], T0)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    accounts = Accounts(store, hasher=stronger)
    assert login(accounts, "alice").ok
    with AccountStore(store).read() as tx:
        user = tx.user_by_key("alice")
    assert user is not None
    assert not stronger.check_needs_rehash(user.password_hash)
    assert login(accounts, "alice").ok


def test_member_logs_in_to_their_household(accounts: Accounts, home: int) -> None:
    accounts.create_user("bob", PASSWORD, Role.MEMBER, home, T0)
    result = login(accounts, "bob")
    assert result.state is LoginState.ACTIVE
    assert result.token is not None
    info = accounts.session(result.token, T0)
    assert info is not None
    assert info.household_id == home
