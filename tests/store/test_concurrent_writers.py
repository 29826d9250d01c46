"""Several processes writing one database at once (SQLite file and PostgreSQL server): the
places that rely on one writer at a time (``store.engine``'s write lock) stay correct.

Leases (the rules and the quota), the key ring (made once; a password change is a
compare-and-swap), view-log appends (contiguous indexes, a head that verifies) and retention
(passes on two nodes shredding old footage while two recorders write). The workers are
``tests.support.concurrent_writers``; every statement there is a few milliseconds slower, as
across a network. ``HEARTHCAM_TEST_UNLOCKED=1`` runs the workers without PostgreSQL's write
lock: the control, under which these tests fail on PostgreSQL (docs/scale.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.keys import HouseholdKeyRow
from hearthcam.vault.keyring import KdfParams, Keyring, WrongPassword
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from tests.support import concurrent_writers as writers

UNLOCKED = writers.unlocked_from_environment()
PROCESSES = 4

pytestmark = pytest.mark.integration


def no_errors(results: list[object]) -> None:
    failed = [r for r in results if isinstance(r, str) and r.startswith("error")]
    assert failed == []


def test_leases_keep_their_rules_and_quota_across_processes(
    store: Store, database_url: str
) -> None:
    quota = 5
    shares = [f"share-{n}" for n in range(3)]  # fewer clips than takers: they collide
    results = writers.run_workers(
        writers.lease_worker, PROCESSES, database_url, shares, quota, UNLOCKED
    )
    no_errors(results)
    rows = AnnotationStore(store)
    for annotator in writers.ANNOTATORS:
        taken = rows.leases(annotator_id=annotator)
        assert len(taken) == quota  # four processes took for each: never more between them
        assert {lease.state for lease in taken} == {"released"}
    counts = [r for r in results if isinstance(r, dict)]
    assert sum(c["taken"] for c in counts) == quota * len(writers.ANNOTATORS)
    assert all(c["quota_full"] > 0 for c in counts)  # every process ran into the quota


def test_the_key_ring_is_made_once_and_a_password_changes_once(
    store: Store, database_url: str, data_dir: Path
) -> None:
    keyring = Keyring.open(store, data_dir, kdf=KdfParams(1, 8, 1))
    keyring.ensure_household(writers.HOUSEHOLD)
    keyring.enable_password(writers.HOUSEHOLD, "old")
    public = keyring._public_key(writers.HOUSEHOLD).public_bytes_raw()

    results = writers.run_workers(
        writers.keyring_worker, PROCESSES, database_url, data_dir, UNLOCKED
    )

    no_errors(results)
    outcomes = sorted(r["password"] for r in results if isinstance(r, dict))
    assert outcomes.count("changed") == 1  # the others found the key changed meanwhile
    winner = next(
        n for n, r in enumerate(results) if isinstance(r, dict) and r["password"] == "changed"
    )
    again = Keyring.open(store, data_dir, kdf=KdfParams(1, 8, 1))
    again.unlock(writers.HOUSEHOLD, f"new-{winner}")  # the winner's password opens it
    assert again._public_key(writers.HOUSEHOLD).public_bytes_raw() == public  # the same key
    with pytest.raises(WrongPassword):
        again.unlock(writers.HOUSEHOLD, "old")
    with store.read_session() as session:
        households = session.scalars(select(HouseholdKeyRow.household_id)).all()
    assert sorted(households) == [writers.HOUSEHOLD, writers.HOUSEHOLD + 1]


def test_view_log_appends_from_processes_stay_contiguous_and_verify(
    store: Store, database_url: str, data_dir: Path
) -> None:
    key = AuditKey.load_or_create(key_path(data_dir))
    appends = 40
    results = writers.run_workers(
        writers.viewlog_worker, PROCESSES, database_url, key_path(data_dir), appends, UNLOCKED
    )
    no_errors(results)
    indexes = sorted(i for r in results if isinstance(r, list) for i in r)
    assert indexes == list(range(PROCESSES * appends))  # no index twice, none skipped
    log = AuditLog(store, None)
    report = log.verify(key.public_key)  # what ``hearthcam audit verify`` runs
    assert report.ok, report.problems
    assert report.entries == PROCESSES * appends
    assert report.checkpoints >= 1
    by_index = {e.index: e.entry for e in log.entries()}
    for worker, got in enumerate(results):
        assert isinstance(got, list)
        assert [by_index[i].lease_id for i in got] == [
            f"lease-{worker}-{n}" for n in range(appends)
        ]


def test_retention_shreds_old_footage_on_two_nodes_while_two_recorders_write(
    store: Store, database_url: str, data_dir: Path
) -> None:
    Keyring.open(store, data_dir, kdf=KdfParams(1, 8, 1)).ensure_household(writers.HOUSEHOLD)
    media = writers.sealed_media(store, data_dir)
    old = [data_dir / "recordings" / "old" / f"{n:04d}.mp4" for n in range(60)]
    for n, path in enumerate(old):
        writers.write_segment(store, media, path, "old", writers.NOW - 10 * 86_400 + 2 * n)
    per_recorder = 30

    results = writers.run_workers(
        writers.retention_worker, PROCESSES, database_url, data_dir, per_recorder, UNLOCKED
    )

    no_errors(results)
    done = [r for r in results if isinstance(r, dict)]
    # Each old segment counted once: by the pass whose write session removed its row.
    assert sum(d["deleted"] for d in done) == len(old)
    assert sum(d["written"] for d in done) == 2 * per_recorder
    vault = media.vault
    assert store.known_segment_paths("old") == set()
    assert [p for p in old if p.exists() or vault.keyring.has_key(vault.blob_id(p))] == []
    for worker in range(0, PROCESSES, 2):
        camera = f"new-{worker}"
        paths = sorted(store.known_segment_paths(camera))
        assert len(paths) == per_recorder
        for path in paths:  # every new file kept its key and opens
            with media.open(path) as reader:
                assert reader.read() == path.name.encode() * 64
