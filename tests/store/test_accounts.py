"""Account tables: created by Store.open, unique username keys, cascades, atomic claims."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from hearthcam.errors import StoreError
from hearthcam.store.accounts import AccountStore, SessionRecord
from hearthcam.store.db import Store
from tests.support.store_fixtures import SQLITE_ONLY

T0 = 1_700_000_000.0


@pytest.fixture
def db_path(data_dir: Path) -> Path:
    return data_dir / "hearthcam.sqlite"  # where ``database_url`` puts a SQLite store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url) as opened:
        yield opened


@pytest.fixture
def db(store: Store) -> AccountStore:
    return AccountStore(store)


def session_record(session_id: str, user_id: int, last_seen: float = T0) -> SessionRecord:
    return SessionRecord(
        id=session_id,
        user_id=user_id,
        csrf_token="csrf",
        state="active",
        mfa_passed=False,
        created=T0,
        last_seen=last_seen,
        expires=T0 + 1000,
        ip="192.0.2.1",
        user_agent="ua",
    )


@SQLITE_ONLY
def test_store_open_creates_the_account_tables(store: Store, db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "households",
        "users",
        "sessions",
        "recovery_codes",
        "camera_households",
        "login_attempts",
        "segments",
        "events",
    } <= tables
    assert store.journal_mode() == "wal"


def test_username_key_is_unique_in_the_database(db: AccountStore) -> None:
    with db.write() as tx:
        tx.add_user("alice", "hash", "admin", None, T0)
    with pytest.raises(StoreError), db.write() as tx:
        tx.add_user("ALICE", "hash", "admin", None, T0)
    with db.read() as tx:
        assert tx.users_count() == 1
        found = tx.user_by_key("alice")
    assert found is not None
    assert found.username == "alice"


def test_an_error_inside_a_write_rolls_everything_back(db: AccountStore) -> None:
    def fail_halfway() -> None:
        with db.write() as tx:
            tx.add_household("home", T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_halfway()
    with db.read() as tx:
        assert tx.households() == []


def test_deleting_a_user_deletes_sessions_and_recovery_codes(db: AccountStore) -> None:
    with db.write() as tx:
        user = tx.add_user("alice", "hash", "admin", None, T0)
        other = tx.add_user("bob", "hash", "admin", None, T0)
        tx.add_session(session_record("s1", user.id))
        tx.add_session(session_record("s2", other.id))
        tx.replace_recovery_codes(user.id, ["h1", "h2"])
    with db.write() as tx:
        assert tx.delete_user(user.id)
        assert not tx.delete_user(user.id)
    with db.read() as tx:
        assert tx.session("s1") is None
        assert tx.session("s2") is not None
        assert tx.recovery_codes_left(user.id) == 0


def test_totp_step_claim_is_compare_and_set(db: AccountStore) -> None:
    with db.write() as tx:
        user = tx.add_user("alice", "hash", "admin", None, T0)
        tx.set_totp(user.id, "SECRET", True, None)
        assert tx.claim_totp_step(user.id, 100)
        assert not tx.claim_totp_step(user.id, 100)
        assert not tx.claim_totp_step(user.id, 99)
        assert tx.claim_totp_step(user.id, 101)
        current = tx.user(user.id)
    assert current is not None
    assert current.totp_last_step == 101


def test_recovery_code_is_used_once(db: AccountStore) -> None:
    with db.write() as tx:
        user = tx.add_user("alice", "hash", "admin", None, T0)
        tx.replace_recovery_codes(user.id, ["h1", "h2"])
        assert tx.use_recovery_code(user.id, "h1", T0)
        assert not tx.use_recovery_code(user.id, "h1", T0)
        assert not tx.use_recovery_code(user.id + 1, "h2", T0)
        assert tx.recovery_codes_left(user.id) == 1


def test_cameras_move_between_households(db: AccountStore) -> None:
    with db.write() as tx:
        a = tx.add_household("A", T0)
        b = tx.add_household("B", T0)
        tx.assign_camera("front", a.id)
        tx.assign_camera("back", a.id)
        tx.assign_camera("front", b.id)
    with db.read() as tx:
        assert tx.household_cameras(a.id) == ["back"]
        assert tx.household_cameras(b.id) == ["front"]
        assert tx.camera_household("front") == b.id
        assert tx.camera_household("side") is None


def test_camera_needs_a_real_household(db: AccountStore) -> None:
    with pytest.raises(StoreError), db.write() as tx:
        tx.assign_camera("front", 42)


def test_attempt_counts_and_pruning(db: AccountStore) -> None:
    with db.write() as tx:
        for i in range(3):
            tx.add_attempt("alice", "192.0.2.1", T0 + i)
        tx.add_attempt("bob", "192.0.2.1", T0 + 10)
        temporary = tx.add_attempt("alice", "192.0.2.2", T0 + 20)
        tx.delete_attempt(temporary)
    with db.read() as tx:
        assert tx.username_failures("alice", T0 - 1) == (3, T0 + 2)
        assert tx.username_failures("alice", T0 + 0.5) == (2, T0 + 2)
        assert tx.username_failures("carol", T0) == (0, 0.0)
        assert sorted(tx.ip_failure_times("192.0.2.1", T0 - 1)) == [T0, T0 + 1, T0 + 2, T0 + 10]
    with db.write() as tx:
        assert tx.prune_attempts(T0 + 1.5) == 2
        assert tx.clear_attempts("alice") == 1
        assert tx.username_failures("bob", 0.0) == (1, T0 + 10)


def test_ended_sessions_are_deleted(db: AccountStore) -> None:
    with db.write() as tx:
        user = tx.add_user("alice", "hash", "admin", None, T0)
        tx.add_session(session_record("fresh", user.id, last_seen=T0 + 500))
        tx.add_session(session_record("idle", user.id, last_seen=T0))
    with db.write() as tx:
        assert tx.delete_ended_sessions(T0 + 600, idle=300) == 1
        assert tx.user_session_ids(user.id) == ["fresh"]
        tx.touch_session("fresh", T0 + 900)
        assert tx.delete_ended_sessions(T0 + 1000, idle=300) == 1  # the absolute end
