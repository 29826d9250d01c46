"""The key hierarchy and the vault: secret file, wrapping, crypto-shredding, password mode."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.vault.keyring import (
    HouseholdLocked,
    KdfParams,
    KeyMode,
    Keyring,
    KeyringError,
    MediaVault,
    NoMediaKey,
    SecretUnusable,
    WrongPassword,
    load_or_create_secret,
    secret_path,
)
from hearthcam.vault.sealed import (
    SealedError,
    SealedReader,
    SealedWriter,
    plaintext_media_signatures,
    whole_boxes,
)
from tests.support.store_fixtures import SQLITE_ONLY
from tests.vault.test_sealed import encode_fragmented

CHEAP = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
CHUNK = 1024


@pytest.fixture
def vault(store: Store, data_dir: Path) -> MediaVault:
    return MediaVault(Keyring.open(store, data_dir, kdf=CHEAP), data_dir, chunk_size=CHUNK)


def fresh(vault: MediaVault, store: Store) -> MediaVault:
    """The same data directory and database as another process (a restart) sees them."""
    keyring = Keyring.open(store, vault.data_dir, kdf=CHEAP)
    return MediaVault(keyring, vault.data_dir, chunk_size=CHUNK)


def put(vault: MediaVault, name: str, data: bytes, household: int = 1) -> Path:
    path = vault.data_dir / name
    with vault.create(path, household) as writer:
        writer.write(data)
    return path


def get(vault: MediaVault, path: Path) -> bytes:
    with vault.open(path) as reader:
        return reader.read()


def die(writer: SealedWriter) -> None:
    """Closes a "killed" writer's descriptor, as the end of its process would."""
    assert writer._fd is not None
    os.close(writer._fd)
    writer._fd = None


def raw_database(data_dir: Path) -> bytes:
    """Every byte SQLite keeps on disk: the database file and its WAL."""
    files = [data_dir / "hearthcam.sqlite", data_dir / "hearthcam.sqlite-wal"]
    return b"".join(f.read_bytes() for f in files if f.exists())


def wrapped(store: Store, table: str, column: str, value: object) -> bytes:
    with store.read_session() as session:
        query = text(f"SELECT wrapped FROM {table} WHERE {column} = :v")
        return bytes(session.execute(query, {"v": value}).scalar_one())


# The server secret ---------------------------------------------------------------------------


def test_the_server_secret_is_made_once_private_and_checked(data_dir: Path) -> None:
    path = secret_path(data_dir)
    secret = load_or_create_secret(path)
    assert len(secret) == 32
    assert path == data_dir / "secrets" / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert load_or_create_secret(path) == secret
    path.write_bytes(b"short")
    with pytest.raises(StoreError, match="32 bytes"):
        load_or_create_secret(path)


def test_a_new_secret_is_made_only_where_nothing_needs_the_old_one(
    store: Store, data_dir: Path
) -> None:
    path = secret_path(data_dir)
    with pytest.raises(SecretUnusable, match="nothing is sealed"):
        Keyring.open(store, data_dir, kdf=CHEAP, create=False)  # a reader makes none
    assert not path.exists()
    plain = data_dir / "clips" / "cam" / "old.mp4"  # written before encryption: sealed later
    plain.parent.mkdir(parents=True)
    plain.write_bytes(b"\x00\x00\x00\x18ftypisom")
    Keyring.open(store, data_dir, kdf=CHEAP).ensure_household(1)
    assert path.stat().st_size == 32

    path.unlink()  # the keys in the database need it now
    with pytest.raises(SecretUnusable, match=r"holds keys \(household_keys\).*restore"):
        Keyring.open(store, data_dir, kdf=CHEAP)
    assert not path.exists()


def test_sealed_media_without_keys_still_need_their_secret(store: Store, data_dir: Path) -> None:
    vault = MediaVault(Keyring.open(store, data_dir, kdf=CHEAP), data_dir, chunk_size=CHUNK)
    put(vault, "recordings/cam/2026-12-03/10-00-00.000.mp4", b"footage")
    with Store.open(f"sqlite:///{data_dir / 'other.sqlite'}") as empty:  # a database restored wrong
        secret_path(data_dir).unlink()
        with pytest.raises(SecretUnusable, match=r"holds sealed media \(recordings/cam/"):
            Keyring.open(empty, data_dir, kdf=CHEAP)
    assert not secret_path(data_dir).exists()


def test_another_data_directorys_secret_is_refused_at_open(vault: MediaVault, store: Store) -> None:
    vault.keyring.ensure_household(1)
    path = secret_path(vault.data_dir)
    path.write_bytes(os.urandom(32))
    with pytest.raises(SecretUnusable, match="does not open this database's keys"):
        Keyring.open(store, vault.data_dir, kdf=CHEAP)


# Sealing through the vault -------------------------------------------------------------------


def test_a_blob_round_trips_under_its_own_key(vault: MediaVault, store: Store) -> None:
    data = os.urandom(5 * CHUNK + 7)
    path = put(vault, "clips/cam/2024-05-01/abc.mp4", data)
    assert get(vault, path) == data
    assert get(vault, Path("clips/cam/2024-05-01/abc.mp4")) == data  # relative to the data dir
    assert vault.keyring.blob_ids() == ["clips/cam/2024-05-01/abc.mp4"]
    other = put(vault, "clips/cam/2024-05-01/def.mp4", data)
    assert path.read_bytes()[32:] != other.read_bytes()[32:]
    key = vault.keyring.media_key("clips/cam/2024-05-01/abc.mp4")
    assert key not in raw_database(vault.data_dir)  # only wrapped keys are stored


def test_blob_ids_are_data_dir_relative_and_stay_inside(vault: MediaVault, tmp_path: Path) -> None:
    assert vault.blob_id(vault.data_dir / "snapshots" / "x.jpg") == "snapshots/x.jpg"
    with pytest.raises(KeyringError, match="not inside"):
        vault.blob_id(tmp_path / "elsewhere.mp4")
    with pytest.raises(KeyringError, match="not inside"):
        vault.blob_id(Path("../escape.mp4"))
    assert vault.blob_id(vault.data_dir / "clips" / ".." / "x.mp4") == "x.mp4"
    with pytest.raises(KeyringError, match="not inside"):
        vault.blob_id(vault.data_dir)


def test_a_sealed_file_is_never_read_through_a_link_out_of_the_data_dir(
    vault: MediaVault, tmp_path: Path
) -> None:
    path = put(vault, "clips/cam/a.mp4", b"plain bytes")
    moved = tmp_path / "moved.mp4"
    shutil.move(path, moved)
    path.symlink_to(moved)  # its key would still open it
    with pytest.raises(KeyringError, match="link out"):
        vault.open(path)
    path.unlink()
    inside = vault.data_dir / "elsewhere-inside.mp4"
    shutil.move(moved, inside)
    path.symlink_to(inside)  # a link that stays inside is read under its own name's key
    assert get(vault, path) == b"plain bytes"


def test_an_aborted_writer_leaves_no_file_and_no_key(vault: MediaVault) -> None:
    path = vault.data_dir / "clips" / "a.mp4"
    writer = vault.create(path, 1)
    writer.write(os.urandom(3 * CHUNK))
    assert vault.keyring.blob_ids() == ["clips/a.mp4.part"]
    writer.abort()
    assert vault.keyring.blob_ids() == []
    assert not path.exists()
    assert not writer.part.exists()


def test_a_replaced_file_stays_readable_until_the_new_one_is_done(vault: MediaVault) -> None:
    path = put(vault, "snapshots/e.jpg", b"first")
    writer = vault.create(path, 1)
    writer.write(b"second")
    assert get(vault, path) == b"first"
    writer.close()
    assert get(vault, path) == b"second"
    assert vault.keyring.blob_ids() == ["snapshots/e.jpg"]


def test_a_wrapped_key_only_opens_for_its_own_blob(vault: MediaVault, store: Store) -> None:
    one = put(vault, "clips/one.mp4", b"one" * 100)
    two = put(vault, "clips/two.mp4", b"two" * 100)
    with store.write_session() as session:
        session.execute(
            text("UPDATE media_keys SET wrapped = :w WHERE blob_id = 'clips/two.mp4'"),
            {"w": wrapped(store, "media_keys", "blob_id", "clips/one.mp4")},
        )
    with pytest.raises(KeyringError, match="does not open"):
        vault.open(two)
    shutil.copy(one, two)  # the file and the key moved together: still bound to the old name
    with pytest.raises(KeyringError, match="does not open"):
        vault.open(two)


def test_a_key_moved_to_another_household_does_not_open(vault: MediaVault, store: Store) -> None:
    path = put(vault, "clips/one.mp4", b"data", household=1)
    vault.keyring.ensure_household(2)
    with store.write_session() as session:
        session.execute(text("UPDATE media_keys SET household_id = 2"))
    with pytest.raises(KeyringError, match="does not open"):
        vault.open(path)


def test_another_server_secret_opens_nothing(vault: MediaVault, store: Store) -> None:
    path = put(vault, "clips/one.mp4", b"data")
    stranger = MediaVault(Keyring(store, os.urandom(32)), vault.data_dir)
    with pytest.raises(KeyringError, match="does not open with this secret"):
        stranger.open(path)
    with pytest.raises(KeyringError, match="altered"):  # it cannot even seal for household 1
        stranger.create(vault.data_dir / "clips/two.mp4", 1)


def test_an_altered_public_key_is_refused(vault: MediaVault, store: Store) -> None:
    vault.keyring.ensure_household(1)
    with store.write_session() as session:
        session.execute(text("UPDATE household_keys SET public = :p"), {"p": os.urandom(32)})
    with pytest.raises(KeyringError, match="public key of household 1 was altered"):
        fresh(vault, store).create(vault.data_dir / "x.mp4", 1)


def test_a_blob_without_a_key_is_refused(vault: MediaVault) -> None:
    with pytest.raises(NoMediaKey):
        vault.open(vault.data_dir / "nothing.mp4")
    vault.keyring.new_media_key("clips/x.mp4", 1)
    with pytest.raises(KeyringError, match="has a key already"):
        vault.keyring.new_media_key("clips/x.mp4", 1)


def test_blob_ids_by_prefix_escape_wildcards(vault: MediaVault) -> None:
    for name in ("clips/c/d/ab_1.mp4", "clips/c/d/abX1.mp4", "clips/c/d/ab%.jpg"):
        put(vault, name, b"x")
    assert vault.keyring.blob_ids("clips/c/d/ab_") == ["clips/c/d/ab_1.mp4"]
    assert vault.keyring.blob_ids("clips/c/d/ab%") == ["clips/c/d/ab%.jpg"]
    assert vault.keyring.blob_ids(household_id=2) == []


# Crypto-shredding ----------------------------------------------------------------------------


@pytest.fixture
def insecure_sqlite(store: Store) -> None:
    """Every connection starts with secure_delete OFF (SQLite's own default; some builds turn
    it on), so the shred test shows what the keyring itself does."""

    def off(connection: sqlite3.Connection, _record: Any) -> None:
        connection.execute("PRAGMA secure_delete=OFF")

    event.listen(store._engine, "connect", off)
    store._engine.dispose()


@SQLITE_ONLY
@pytest.mark.usefixtures("insecure_sqlite")
def test_shredding_leaves_no_key_bytes_on_disk_and_the_file_undecryptable(
    vault: MediaVault, store: Store, tmp_path: Path
) -> None:
    paths = [put(vault, f"clips/cam/day/{i:03d}.mp4", os.urandom(300)) for i in range(120)]
    keys = {p: vault.keyring.media_key(vault.blob_id(p)) for p in paths}
    blobs = {p: wrapped(store, "media_keys", "blob_id", vault.blob_id(p)) for p in paths}
    backup = tmp_path / "backup"
    shutil.copytree(vault.data_dir / "clips", backup)  # the file bytes survive somewhere
    doomed, kept = paths[::2], paths[1::2]
    assert all(vault.shred(p) for p in doomed)
    assert not vault.shred(doomed[0])  # once is enough
    on_disk = raw_database(vault.data_dir)
    assert [p for p in doomed if blobs[p] in on_disk] == []
    assert all(blobs[p] in on_disk for p in kept)  # the search would have found them
    assert not (vault.data_dir / "hearthcam.sqlite-wal").stat().st_size
    for path in doomed:
        assert not path.exists()
        with pytest.raises(NoMediaKey):
            vault.open(path)
    survivor = backup / "cam" / "day" / doomed[0].name
    for key in keys.values():
        if key != keys[doomed[0]]:
            with pytest.raises(SealedError):
                SealedReader(survivor, key)
    assert get(vault, kept[0]) == get(fresh(vault, store), kept[0])


@SQLITE_ONLY
@pytest.mark.usefixtures("insecure_sqlite")
def test_without_the_keyring_a_deleted_row_would_stay_on_disk(
    vault: MediaVault, store: Store
) -> None:
    """The control: a plain DELETE keeps the bytes, so the test above proves something."""
    put(vault, "clips/a.mp4", b"x")
    blob = wrapped(store, "media_keys", "blob_id", "clips/a.mp4")
    with store.write_session() as session:
        session.execute(text("DELETE FROM media_keys"))
    assert blob in raw_database(vault.data_dir)


def test_shredding_a_household_destroys_all_its_keys(vault: MediaVault, store: Store) -> None:
    mine = [put(vault, f"clips/{i}.mp4", b"x" * 50, household=1) for i in range(3)]
    theirs = put(vault, "clips/other.mp4", b"y", household=2)
    household_blob = wrapped(store, "household_keys", "household_id", 1)
    assert vault.shred_household(1) == 3
    assert vault.keyring.mode(1) is None
    assert household_blob not in raw_database(vault.data_dir)
    assert not any(p.exists() for p in mine)
    with pytest.raises(NoMediaKey):
        vault.open(mine[0])
    assert get(vault, theirs) == b"y"


def test_many_files_go_in_one_shred(vault: MediaVault) -> None:
    paths = [put(vault, f"recordings/cam/day/{i}.mp4", b"x") for i in range(5)]
    assert vault.shred_many([*paths[:3], vault.data_dir / "recordings/never.mp4"]) == 3
    assert [p.exists() for p in paths] == [False, False, False, True, True]
    assert vault.keyring.blob_ids() == ["recordings/cam/day/3.mp4", "recordings/cam/day/4.mp4"]


def test_footage_rehomed_to_another_household_opens_with_its_key_only(
    vault: MediaVault, store: Store
) -> None:
    path = put(vault, "clips/cam/a.mp4", b"footage", household=0)
    old = wrapped(store, "media_keys", "blob_id", "clips/cam/a.mp4")
    assert vault.keyring.rehome(["clips/cam/a.mp4"], 7) == 1
    assert old not in raw_database(vault.data_dir)
    vault.keyring.shred_household(0)
    assert get(vault, path) == b"footage"
    vault.keyring.enable_password(7, "pw")
    with pytest.raises(HouseholdLocked):
        fresh(vault, store).open(path)


def test_keys_of_vanished_files_are_shredded_at_recovery(vault: MediaVault) -> None:
    gone = put(vault, "clips/gone.mp4", b"x")
    put(vault, "clips/here.mp4", b"y")
    gone.unlink()
    assert vault.shred_orphans() == 1
    assert vault.keyring.blob_ids() == ["clips/here.mp4"]


# Killed writers ------------------------------------------------------------------------------


def test_a_killed_writers_part_is_salvaged_with_its_key(vault: MediaVault) -> None:
    data = os.urandom(6 * CHUNK + 5)
    path = vault.data_dir / "recordings/cam/day/seg.mp4"
    writer = vault.create(path, 1)
    writer.write(data)  # then the process dies: no close, no abort
    with vault.open_unfinished(writer.part) as reader:
        assert reader.read() == data[: 6 * CHUNK]
    assert vault.salvage(writer.part) == 6 * CHUNK
    assert get(vault, path) == data[: 6 * CHUNK]
    assert vault.keyring.blob_ids() == ["recordings/cam/day/seg.mp4"]
    assert not writer.part.exists()
    die(writer)


def test_a_writer_killed_between_key_and_rename_is_salvaged(vault: MediaVault) -> None:
    path = vault.data_dir / "recordings/cam/day/seg.mp4"
    writer = vault.create(path, 1)
    writer.write(os.urandom(3 * CHUNK))
    vault.keyring.finish("recordings/cam/day/seg.mp4.part", "recordings/cam/day/seg.mp4")
    assert vault.salvage(writer.part) == 2 * CHUNK
    assert len(get(vault, path)) == 2 * CHUNK
    die(writer)


def test_a_part_with_nothing_whole_goes_with_its_key(vault: MediaVault) -> None:
    writer = vault.create(vault.data_dir / "recordings/seg.mp4", 1)
    writer.write(b"a little")
    assert vault.salvage(writer.part) == 0
    assert vault.keyring.blob_ids() == []
    assert not (vault.data_dir / "recordings/seg.mp4").exists()
    die(writer)


def test_a_fragmented_recording_is_never_plaintext_on_disk_and_salvages_to_whole_fragments(
    vault: MediaVault,
) -> None:
    path = vault.data_dir / "recordings/cam/day/seg.mp4"
    writer = vault.create(path, 1)
    container = encode_fragmented(writer, frames=100)
    assert plaintext_media_signatures(vault.data_dir) == []  # mid-write: only the sealed .part
    kept = vault.salvage(writer.part, keep=whole_boxes)
    assert kept > 0
    container.close()
    writer.abort()
    assert plaintext_media_signatures(vault.data_dir) == []
    with vault.open(path) as reader:
        assert reader.size == kept


# Password mode -------------------------------------------------------------------------------


def test_password_mode_needs_the_password_to_read_but_not_to_record(
    vault: MediaVault, store: Store
) -> None:
    before = put(vault, "clips/before.mp4", b"before")
    server_wrapped = wrapped(store, "household_keys", "household_id", 1)
    vault.keyring.enable_password(1, "correct horse")
    assert vault.keyring.mode(1) is KeyMode.PASSWORD
    assert get(vault, before) == b"before"  # this process stays unlocked
    # The copy the server alone could open is gone from the disk (a stolen disk + database,
    # server secret included, opens nothing without the password).
    assert server_wrapped not in raw_database(vault.data_dir)

    restarted = fresh(vault, store)
    assert not restarted.keyring.is_unlocked(1)
    after = put(restarted, "clips/after.mp4", b"after")  # cameras record while locked
    with pytest.raises(HouseholdLocked):
        restarted.open(before)
    with pytest.raises(WrongPassword):
        restarted.keyring.unlock(1, "wrong horse")
    restarted.keyring.unlock(1, "correct horse")
    assert get(restarted, before) == b"before"
    assert get(restarted, after) == b"after"
    restarted.keyring.lock(1)
    with pytest.raises(HouseholdLocked):
        restarted.open(after)


def test_a_password_change_and_going_back_to_server_mode(vault: MediaVault, store: Store) -> None:
    path = put(vault, "clips/a.mp4", b"data")
    vault.keyring.enable_password(1, "old pass")
    with pytest.raises(KeyringError, match="password mode already"):
        vault.keyring.enable_password(1, "again")
    with pytest.raises(WrongPassword):
        vault.keyring.change_password(1, "not it", "new pass")
    vault.keyring.change_password(1, "old pass", "new pass")
    restarted = fresh(vault, store)
    with pytest.raises(WrongPassword):
        restarted.keyring.unlock(1, "old pass")
    restarted.keyring.unlock(1, "new pass")
    assert get(restarted, path) == b"data"
    restarted.keyring.disable_password(1, "new pass")
    assert restarted.keyring.mode(1) is KeyMode.SERVER
    assert get(fresh(vault, store), path) == b"data"
    with pytest.raises(KeyringError, match="not in password mode"):
        restarted.keyring.unlock(1, "new pass")


def test_the_password_copy_needs_the_server_secret_too(vault: MediaVault, store: Store) -> None:
    path = put(vault, "clips/a.mp4", b"data")
    vault.keyring.enable_password(1, "pass")
    stranger = MediaVault(Keyring(store, os.urandom(32), kdf=CHEAP), vault.data_dir)
    with pytest.raises(WrongPassword):  # the right password, the wrong server secret
        stranger.keyring.unlock(1, "pass")
    with pytest.raises(HouseholdLocked):
        stranger.open(path)
