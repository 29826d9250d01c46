"""First-start setup, users, roles and households, and which household owns which camera."""

from __future__ import annotations

import threading

import pytest

from hearthcam.accounts import (
    AccountError,
    Accounts,
    InvalidUsername,
    PasswordRejected,
    Role,
    SetupClosed,
    UsernameTaken,
)
from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store
from tests.support.account_factories import PASSWORD, T0, login


def test_setup_only_while_there_are_no_users(accounts: Accounts) -> None:
    assert accounts.setup_allowed()
    assert accounts.users_count() == 0
    owner = accounts.setup("alice", PASSWORD, "Alice's home", ["front", "back"], T0)
    assert owner.role is Role.OWNER
    assert owner.household_id is not None
    assert accounts.household_cameras(owner.household_id) == ["back", "front"]
    assert not accounts.setup_allowed()
    with pytest.raises(SetupClosed):
        accounts.setup("mallory", PASSWORD, "Mallory's", ["front"], T0)
    # The failed setup changed nothing: the cameras are still Alice's.
    assert accounts.camera_household("front") == owner.household_id
    assert accounts.users_count() == 1


def test_setup_closes_once_any_user_exists(accounts: Accounts) -> None:
    accounts.create_user("root", PASSWORD, Role.ADMIN, None, T0)
    assert not accounts.setup_allowed()
    with pytest.raises(SetupClosed):
        accounts.setup("alice", PASSWORD, "home", [], T0)


def test_racing_setups_create_one_owner(accounts: Accounts) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            accounts.setup(f"owner{n}", PASSWORD, f"home {n}", ["front"], T0)
            outcomes.append("created")
        except SetupClosed:
            outcomes.append("closed")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["closed", "closed", "closed", "created"]
    assert accounts.users_count() == 1


def test_usernames_are_unique_case_insensitively(accounts: Accounts, home: int) -> None:
    with pytest.raises(UsernameTaken):
        accounts.create_user("ALICE", "another password", Role.MEMBER, home, T0)
    assert login(accounts, "ALICE").ok
    assert login(accounts, "Alice").ok


def test_create_user_checks_name_password_and_household(accounts: Accounts, home: int) -> None:
    with pytest.raises(InvalidUsername):
        accounts.create_user("b", PASSWORD, Role.MEMBER, home, T0)
    with pytest.raises(PasswordRejected) as rejected:
        accounts.create_user("bobby", "bobby12345678", Role.MEMBER, home, T0)
    assert rejected.value.problems == ["a password must not contain the username"]
    with pytest.raises(PasswordRejected):
        accounts.create_user("bobby", "short", Role.MEMBER, home, T0)
    with pytest.raises(AccountError, match="must belong to a household"):
        accounts.create_user("bobby", PASSWORD, Role.MEMBER, None, T0)
    with pytest.raises(AccountError, match="belongs to no household"):
        accounts.create_user("root", PASSWORD, Role.ADMIN, home, T0)
    with pytest.raises(AccountError, match="no household"):
        accounts.create_user("bobby", PASSWORD, Role.OWNER, home + 99, T0)
    assert [u.username for u in accounts.list_users()] == ["alice"]


def test_list_users_never_shows_secrets(accounts: Accounts, home: int) -> None:
    bob = accounts.create_user("Bob", PASSWORD, Role.MEMBER, home, T0 + 5)
    ann = accounts.create_user("ann", PASSWORD, Role.ANNOTATOR, None, T0 + 6)
    assert [u.username for u in accounts.list_users()] == ["alice", "Bob", "ann"]
    assert [u.username for u in accounts.list_users(home)] == ["alice", "Bob"]
    assert bob.created == T0 + 5
    assert ann.household_id is None
    fields = set(type(bob).__dataclass_fields__)
    assert not fields & {"password_hash", "totp_secret"}
    assert accounts.user(bob.id) == bob
    assert accounts.user(9999) is None


def test_cameras_belong_to_one_household(accounts: Accounts, home: int) -> None:
    other = accounts.create_household("Bob's flat", T0)
    accounts.create_user("bob", PASSWORD, Role.OWNER, other, T0)
    accounts.assign_camera("hall", other)
    assert accounts.household_cameras(other) == ["hall"]
    assert accounts.household_cameras(home) == ["back", "front"]
    accounts.assign_camera("back", other)  # moving a camera takes it from its old household
    assert accounts.household_cameras(home) == ["front"]
    assert accounts.household_cameras(other) == ["back", "hall"]
    assert accounts.camera_household("back") == other
    assert accounts.camera_household("garage") is None
    with pytest.raises(AccountError):
        accounts.assign_camera("garage", other + 99)


def test_delete_user_ends_their_sessions(accounts: Accounts, home: int) -> None:
    bob = accounts.create_user("bob", PASSWORD, Role.MEMBER, home, T0)
    token = login(accounts, "bob").token
    assert token is not None
    assert accounts.session(token, T0) is not None
    assert accounts.delete_user(bob.id)
    assert accounts.session(token, T0) is None
    assert not accounts.delete_user(bob.id)
    assert not login(accounts, "bob").ok
    assert [u.username for u in accounts.list_users()] == ["alice"]


def households(store: Store) -> list[str]:
    with AccountStore(store).read() as tx:
        return [h.name for h in tx.households()]


def test_a_new_owner_with_a_refused_password_leaves_no_household(
    accounts: Accounts, store: Store, home: int
) -> None:
    with pytest.raises(PasswordRejected):
        accounts.create_owner("bob", "short", "Bob's flat", T0)
    with pytest.raises(InvalidUsername):
        accounts.create_owner("", PASSWORD, "Nobody's", T0)
    with pytest.raises(UsernameTaken):
        accounts.create_owner("ALICE", PASSWORD, "Alice again", T0)
    assert households(store) == ["Alice's home"]
    assert [u.username for u in accounts.list_users()] == ["alice"]


def test_a_new_owner_gets_a_new_household_of_their_own(
    accounts: Accounts, store: Store, home: int
) -> None:
    bob = accounts.create_owner("bob", PASSWORD, "Bob's flat", T0)
    assert bob.role is Role.OWNER
    assert bob.household_id not in (None, home)
    assert households(store) == ["Alice's home", "Bob's flat"]
    assert accounts.household_cameras(bob.household_id) == []  # cameras stay where they were
