"""Password login: generic failures, equal work for unknown users, per-client throttling, rehash."""

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


def test_a_client_backs_off_after_five_failures_at_one_name(accounts: Accounts, home: int) -> None:
    for i in range(5):
        assert login(accounts, "alice", T0 + i, password="wrong guess!").failure is (
            LoginFailure.INVALID_CREDENTIALS
        )
    held = login(accounts, "alice", T0 + 10)  # even the right password waits its turn
    assert held.failure is LoginFailure.THROTTLED
    assert held.retry_after == 4 + MINUTE - 10
    assert accounts.list_users()[0].locked_until == 0.0  # no account-wide lock
    assert login(accounts, "alice", T0 + 4 + MINUTE + 1).state is LoginState.ACTIVE


def test_the_owner_elsewhere_is_not_locked_out_by_a_guesser(accounts: Accounts, home: int) -> None:
    # Before: five failures from anywhere locked "alice" for 15 minutes to a day.
    for i in range(50):
        login(accounts, "alice", T0 + i * 3600, password="wrong guess!", ip="203.0.113.9")
    now = T0 + 50 * 3600
    assert login(accounts, "alice", now, ip="203.0.113.9").failure is LoginFailure.THROTTLED
    assert login(accounts, "alice", now, ip="198.51.100.7").ok
    # And the owner's sign-in does not forgive the guesser.
    assert login(accounts, "alice", now + 1, ip="203.0.113.9").failure is LoginFailure.THROTTLED


def test_unknown_usernames_throttle_the_same_way(accounts: Accounts, home: int) -> None:
    for i in range(5):
        login(accounts, "nobody", T0 + i, password="wrong guess!")
        login(accounts, "alice", T0 + i, password="wrong guess!")
    ghost = login(accounts, "nobody", T0 + 10, password="wrong guess!")
    real = login(accounts, "alice", T0 + 10, password="wrong guess!")
    assert ghost == real
    assert real.failure is LoginFailure.THROTTLED


def test_success_resets_the_clients_counter(accounts: Accounts, home: int) -> None:
    for i in range(4):
        login(accounts, "alice", T0 + i, password="wrong guess!")
    assert login(accounts, "alice", T0 + 5).ok
    for i in range(4):
        login(accounts, "alice", T0 + 10 + i, password="wrong guess!")
    assert login(accounts, "alice", T0 + 20).ok


def test_backoff_doubles_while_failures_continue(accounts: Accounts, home: int) -> None:
    now = T0
    for _ in range(5):
        now += 1
        login(accounts, "alice", now, password="wrong guess!")
    wait = MINUTE
    for _ in range(5):  # one guess per wait: failures 6 to 10
        now += wait + 1
        assert login(accounts, "alice", now, password="wrong guess!").failure is (
            LoginFailure.INVALID_CREDENTIALS
        )
        wait *= 2
    held = login(accounts, "alice", now + wait - 1)
    assert (held.failure, held.retry_after) == (LoginFailure.THROTTLED, 1)
    assert login(accounts, "alice", now + wait + 1).ok


def test_one_address_gets_twenty_failures(accounts: Accounts, home: int) -> None:
    for i in range(20):
        # Four tries per name: no name reaches its own limit.
        login(accounts, f"guess{i // 4}", T0 + i, password="wrong guess!", ip="203.0.113.9")
    blocked = login(accounts, "alice", T0 + 30, ip="203.0.113.9")
    assert blocked.failure is LoginFailure.THROTTLED
    assert login(accounts, "alice", T0 + 31, ip="198.51.100.7").ok
    assert login(accounts, "alice", T0 + 19 + MINUTE + 1, ip="203.0.113.9").ok


def test_an_ipv6_guesser_is_one_client_across_its_64(accounts: Accounts, home: int) -> None:
    for i in range(5):
        ip = f"2001:db8:0:7::{i + 1:x}"
        login(accounts, "alice", T0 + i, password="wrong guess!", ip=ip)
    assert login(accounts, "alice", T0 + 10, ip="2001:db8:0:7::99").failure is (
        LoginFailure.THROTTLED
    )
    assert login(accounts, "alice", T0 + 10, ip="2001:db8:0:8::1").ok


def test_a_known_device_is_throttled_on_its_own_failures_only(
    accounts: Accounts, home: int
) -> None:
    shared = "192.0.2.77"  # the guesser and the owner behind one address (LAN, NAT)
    for i in range(30):
        login(accounts, "alice", T0 + i, password="wrong guess!", ip=shared)
    now = T0 + 40
    assert login(accounts, "alice", now, ip=shared).failure is LoginFailure.THROTTLED

    def from_device(at: float, password: str = PASSWORD) -> LoginFailure | None:
        result = accounts.authenticate(
            "alice", password, ip=shared, user_agent="phone", now=at, device="dev1"
        )
        return result.failure

    assert from_device(now) is None
    for i in range(5):
        assert from_device(now + 1 + i, "my own typo!") is LoginFailure.INVALID_CREDENTIALS
    assert from_device(now + 10) is LoginFailure.THROTTLED  # its own failures do count


def test_limits_are_configurable(store: Store) -> None:
    strict = Accounts(store, hasher=cheap_hasher(), limits=RateLimits(per_pair=2))
    strict.setup("alice", PASSWORD, "home", [], T0)
    login(strict, "alice", T0, password="wrong guess!")
    login(strict, "alice", T0 + 1, password="wrong guess!")
    assert login(strict, "alice", T0 + 2).failure is LoginFailure.THROTTLED


def test_unlock_user_forgives_every_client(accounts: Accounts, home: int) -> None:
    for i in range(5):
        login(accounts, "alice", T0 + i, password="wrong guess!")
        login(accounts, "alice", T0 + i, password="wrong guess!", ip="203.0.113.9")
    alice = accounts.list_users()[0]
    assert accounts.unlock_user(alice.id)
    assert login(accounts, "alice", T0 + 10).ok
    assert login(accounts, "alice", T0 + 10, ip="203.0.113.9").ok
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
