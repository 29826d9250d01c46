"""The legacy database fixture of the migration tests: a database hearthcam wrote before schema
migrations existed, with rows in every table, and the JSON dump of those rows.

``tests/data/migrations/legacy.sqlite`` and ``legacy.json`` were made by this script run against
commit 17fe8fb (the last commit before Alembic; its ``Store.open`` used ``create_all`` and modules
made their own tables with ``ensure_tables``). To make them again::

    git worktree add --detach /tmp/legacy 17fe8fb
    PYTHONPATH=/tmp/legacy/src python tests/support/legacy_db.py tests/data/migrations
    git worktree remove /tmp/legacy

The rows go in through the public store APIs of that version, so they are what a home running it
has. No media and no secret files are written: the key ring gets a fixed test secret in memory and
the view log a throwaway signing key (only its public half is kept, to verify the log), so no
secret of any home is in this repository. ``dump`` is also what the test compares the migrated
database with. Media paths are absolute under ``OLD_DATA_DIR``, in the media layout, as that
version's recorder and clip cutter wrote them (the home's data directory made absolute).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthcam.layout import segment_path
from hearthcam.learn.registry import ModelRegistry
from hearthcam.store.accounts import AccountStore, SessionRecord
from hearthcam.store.annotations import AnnotationRecord, AnnotationStore, LeaseRecord
from hearthcam.store.cameras import CameraEntry, CameraStore
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClip, PendingClips
from hearthcam.store.push import PushStore, PushSubscription
from hearthcam.store.settings import HouseholdSettings, SettingsStore
from hearthcam.store.shares import ShareRecord, ShareStore, receipt_digest
from hearthcam.types import Event, Segment, TrackSummary, Verdict
from hearthcam.vault.keyring import KdfParams, Keyring
from hearthcam.viewlog.log import AuditLog, Derivative, ViewEntry
from hearthcam.viewlog.signing import AuditKey

DATABASE = "legacy.sqlite"
ROWS = "legacy.json"
VIEWLOG_KEY = "legacy-viewlog.pub"  # the public half of the throwaway key that signed the log
T0 = 1_764_000_000.0  # 2025-11-24, Unix seconds
OLD_DATA_DIR = Path("/srv/hearthcam-data")  # the data directory of the home that wrote it
DAY = "2025-11-24"  # T0's UTC day: the folder of its media
TEST_SECRET = bytes(range(32))  # a fixed server secret: tests only, never a home's
# An argon2id hash of "correct horse battery" with the cheapest parameters (tests only).
PASSWORD_HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$Q0ZPr0yBv2NqGsyEI8VpPQ"


def dump(database: Path) -> dict[str, Any]:
    """Every row of every table (Alembic's own left out), in rowid order, as JSON values:
    ``{table: {"columns": [...], "rows": [[...], ...]}}``; bytes become ``{"hex": ...}``."""
    tables: dict[str, Any] = {}
    with sqlite3.connect(database) as connection:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
            if not name.startswith("sqlite_") and name != "alembic_version"
        ]
        for name in names:
            cursor = connection.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
            columns = [d[0] for d in cursor.description]
            rows = [[_json_value(v) for v in row] for row in cursor]
            tables[name] = {"columns": columns, "rows": rows}
    connection.close()
    return tables


def _json_value(value: object) -> object:
    return {"hex": value.hex()} if isinstance(value, bytes) else value


def _recordings(store: Store) -> None:
    """Segments, a gap, a finished event with tracks and one still open."""
    for i in range(3):
        start = T0 + 10 * i
        path = segment_path(OLD_DATA_DIR / "recordings", "front", start)
        store.add_segment(Segment("front", path, start, start + 10))
    store.add_gap("front", T0 + 30, T0 + 42, "camera dropped")
    person = TrackSummary(
        tracker_id=7, label="person", best_score=0.91, mean_score=0.8, hits=42, first_pts=1.5,
        last_pts=9.25, max_area_ratio=0.12, travel=0.4, zones=frozenset({"porch", "door"}),
        votes=(("person", 30.5), ("dog", 1.25)),
    )  # fmt: skip
    cat = TrackSummary(8, "cat", 0.7, 0.6, 12, 2.0, 4.0, 0.02, 0.1, frozenset())
    store.save_event(
        Event(
            id="ev-threat", camera="front", verdict=Verdict.THREAT, labels=("person",),
            start=1.5, end=9.25, wall_start=T0 + 1.5, wall_end=T0 + 9.25, score=0.91,
            zones=("door", "porch"), tracks=(person, cat),
            snapshot=OLD_DATA_DIR / "snapshots" / "front" / DAY / "ev-threat.jpg",
            clip=OLD_DATA_DIR / "clips" / "front" / DAY / "ev-threat.mp4",
            alert=True,
        )
    )  # fmt: skip
    open_event = Event("ev-open", "yard", Verdict.MOTION, (), 0.0, 1.0, T0 + 50, T0 + 51, 0.1)
    store.save_event(open_event, finished=False)


def _accounts(store: Store) -> None:
    """An owner and a household, a member, an annotator, sessions, codes, attempts, cameras."""
    accounts = AccountStore(store)
    with accounts.write() as tx:
        home = tx.add_household("Home", T0)
        tx.add_household("Cabin", T0 + 1)
        owner = tx.add_user("Alice", PASSWORD_HASH, "owner", home.id, T0)
        member = tx.add_user("bob", PASSWORD_HASH, "member", home.id, T0 + 2)
        tx.add_user("ann", PASSWORD_HASH, "annotator", None, T0 + 3)
        tx.set_totp(owner.id, "JBSWY3DPEHPK3PXP", True, 58_800_000)
        tx.record_login(owner.id, T0 + 60)
        tx.set_lock(member.id, 2, T0 + 900)
        tx.replace_recovery_codes(owner.id, [f"{i:064x}" for i in range(3)])
        tx.use_recovery_code(owner.id, f"{1:064x}", T0 + 70)
        tx.add_session(
            SessionRecord(
                id="ab" * 32, user_id=owner.id, csrf_token="cd" * 16, state="active",
                mfa_passed=True, created=T0 + 60, last_seen=T0 + 65, expires=T0 + 86_400,
                ip="192.0.2.10", user_agent="Firefox/140.0",
            )
        )  # fmt: skip
        tx.add_attempt("bob", "192.0.2.99", T0 + 80)
        tx.assign_camera("front", home.id)
        tx.assign_camera("yard", home.id)


def _settings(store: Store) -> None:
    """Household settings and cameras added and edited in the app (both in ``settings``)."""
    settings = SettingsStore(store)
    retention = {v: 24.0 for v in Verdict} | {Verdict.THREAT: 72.0}
    settings.save_household(1, HouseholdSettings(mode="away", retention=retention), T0 + 100)
    cameras = CameraStore(settings)
    cameras.save("cam-0a1b2c3d", CameraEntry("Garage", None, "rtsp://192.0.2.5/sub"), T0 + 101)
    cameras.save(
        "front",
        CameraEntry("Front door", "rtsp://192.0.2.4/main", "rtsp://192.0.2.4/sub", enabled=False),
        T0 + 102,
    )


def _sharing(store: Store) -> None:
    """A share with its consent receipt, a disposed one, a counter, a lease and an annotation."""
    shares = ShareStore(store)
    receipt = {
        "share": "sh-1", "event": "ev-threat", "owner": 1, "household": 1, "purpose": "feedback",
        "retention_days": 30, "consented_at": T0 + 200, "text_sha256": "ef" * 32,
    }  # fmt: skip
    shares.add(
        ShareRecord(
            id="sh-1", event_id="ev-threat", household_id=1, owner_id=1, camera="front",
            status="published", reason="", created=T0 + 200, expires=T0 + 200 + 30 * 86_400,
            updated=T0 + 260, receipt=receipt, receipt_sha256=receipt_digest(receipt),
            facts={"faces": 2, "bodies": 1, "frames": 240},
        )
    )  # fmt: skip
    disposed = {**receipt, "share": "sh-2"}
    shares.add(
        ShareRecord(
            "sh-2", "ev-threat", 1, 1, "front", "disposed", "intimate content", T0 + 300,
            T0 + 300 + 86_400, T0 + 320, disposed, receipt_digest(disposed), {},
        )
    )  # fmt: skip
    shares.bump("disposed")
    annotations = AnnotationStore(store)
    annotations.add_lease(
        LeaseRecord(
            id="le-1", share_id="sh-1", annotator_id=3, state="submitted", created=T0 + 400,
            expires=T0 + 1_300, ended=T0 + 700, shown={"bucket": "day", "duration": 9.5},
        )
    )  # fmt: skip
    annotations.add_lease(
        LeaseRecord("le-2", "sh-1", 3, "active", T0 + 800, T0 + 1_700, None, {"bucket": "day"})
    )
    annotations.add_annotation(
        AnnotationRecord(
            id=0, share_id="sh-1", lease_id="le-1", annotator_id=3, verdict="threat",
            reason=None, keyframes=[{"t": 1.5, "box": [0.1, 0.2, 0.3, 0.6]}], created=T0 + 690,
        )
    )  # fmt: skip


def _keys_and_views(store: Store, folder: Path) -> None:
    """Household keys (one in password mode), media keys, view-log entries and a checkpoint
    (signed by a throwaway key, whose public half goes to ``folder``)."""
    keyring = Keyring(store, TEST_SECRET, kdf=KdfParams(time_cost=1, memory_kib=8, parallelism=1))
    keyring.ensure_household(1)
    keyring.ensure_household(2)
    keyring.new_media_key(f"recordings/front/{DAY}/16-00-00.000.mp4", 1)
    keyring.new_media_key(f"clips/front/{DAY}/ev-threat.mp4", 1)
    keyring.enable_password(2, "cabin password")
    signer = AuditKey(Ed25519PrivateKey.generate())
    (folder / VIEWLOG_KEY).write_bytes(signer.public_pem())
    log = AuditLog(store, signer)
    log.append(ViewEntry(3, "annotator", 1, "sh-1", Derivative.REDACTED, T0 + 410, "le-1", (0, 99)))
    log.append(ViewEntry(3, "annotator", 1, "sh-1", Derivative.THUMBNAIL, T0 + 411, "le-1"))
    log.checkpoint(T0 + 500)
    log.append(ViewEntry(2, "member", 1, "ev-threat", Derivative.ORIGINAL, T0 + 520))


def _learning(store: Store, data_dir: Path) -> None:
    """A registered model with its lineage, promoted, a child candidate and a queued retrain."""
    registry = ModelRegistry(store, data_dir)
    manifest = {"clips": [{"share": "sh-1", "receipt": "ef" * 32}], "features": 3}
    first = registry.register(manifest, {"f1": 0.82, "threat_recall": 0.9}, "0.1.0", T0 + 900)
    registry.promote(first.id, T0 + 950)
    registry.register(manifest, {"f1": 0.8}, "0.1.0", T0 + 1_000, parent=first.id)
    registry.queue_retrain("nightly", ["sh-2"], T0 + 1_100)


def _push_and_pending(store: Store) -> None:
    """A browser's push subscription and a clip waiting for its household to be unlocked."""
    PushStore(store).add(
        PushSubscription(1, 1, "https://push.example/send/abc123", "B" + "p" * 86, "a" * 22),
        T0 + 1_200,
    )
    PendingClips(store).add(PendingClip("ev-open", "yard", T0 + 45, T0 + 75))


def write(folder: Path) -> Path:
    """Writes ``legacy.sqlite`` (rows in every table), ``legacy.json`` (its rows) and
    ``legacy-viewlog.pub`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / DATABASE
    for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        stale.unlink(missing_ok=True)
    with Store.open(f"sqlite:///{database}") as store:
        _recordings(store)
        _accounts(store)
        _settings(store)
        _sharing(store)
        _keys_and_views(store, folder)
        _learning(store, folder / "data")
        _push_and_pending(store)
    # One small self-contained file: the WAL folded in, a rollback journal, 1 KiB pages (the
    # tables and indexes hold a page each at least), no free pages.
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.execute("PRAGMA page_size=1024")
    connection.execute("VACUUM")
    connection.close()
    rows = dump(database)
    empty = sorted(name for name, table in rows.items() if not table["rows"])
    if empty:
        raise SystemExit(f"tables without rows: {empty}")
    (folder / ROWS).write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    return database


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: legacy_db.py FOLDER")
    print(write(Path(sys.argv[1])))
