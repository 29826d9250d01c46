"""Writers in separate processes against one database, for the concurrency tests of the store.

Each ``*_worker`` runs in its own process (``spawn``: nothing of the parent's engine or threads
comes along), opens its own Store, waits at a barrier so that every process starts at once, does
its part and puts ``(worker, result)`` or ``(worker, "error: ...")`` on the queue.

Every statement of a worker takes ``LATENCY`` more (a listener sleeps after it): the round trip
of a database across a network, which is what several nodes have. It widens every window
between a read and the write that follows from it, so a missing lock shows as a failure on
every run rather than once in a while.

``unlocked``: the worker's PostgreSQL write sessions skip the advisory lock
(``store.engine``), the control that shows the tests need it (``HEARTHCAM_TEST_UNLOCKED=1``).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import time
import traceback
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event

from hearthcam.store import engine
from hearthcam.store.db import Store

LATENCY: Final = 0.002
# A count of the leases table (a scan, where a primary-key insert is a probe) takes longer.
COUNT_LATENCY: Final = 0.03
NOW: Final = 1_790_000_000.0
ANNOTATORS: Final = (1, 2, 3, 4)
HOUSEHOLD: Final = 1


def unlocked_from_environment() -> bool:
    """Whether this run is the control without the write lock."""
    return os.environ.get("HEARTHCAM_TEST_UNLOCKED", "") not in ("", "0")


def _slow(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
    time.sleep(COUNT_LATENCY if statement.lstrip().startswith("SELECT count(") else LATENCY)


def _no_lock(_conn: object) -> None:
    return None


def open_store(url: str, data_dir: Path | None, unlocked: bool) -> Store:
    """A worker's own Store, every statement ``LATENCY`` slower."""
    if unlocked:
        engine._postgres_on_begin = _no_lock  # type: ignore[assignment]
    store = Store.open(url, data_dir=data_dir)
    event.listen(store._engine, "after_cursor_execute", _slow)
    return store


Worker = Callable[..., object]


def run_workers(target: Worker, count: int, *args: Any) -> list[object]:
    """Runs ``target(worker, barrier, *args)`` in ``count`` processes at once; their results in
    worker order (an exception becomes the text ``error: ...``)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(count)
    queue = context.Queue()
    processes = [
        context.Process(target=_run, args=(target, n, barrier, queue, args)) for n in range(count)
    ]
    for process in processes:
        process.start()
    results = dict(queue.get(timeout=240) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    return [results[n] for n in range(count)]


def _run(target: Worker, worker: int, barrier: Barrier, queue: Any, args: tuple[Any, ...]) -> None:
    try:
        result = target(worker, barrier, *args)
    except BaseException as error:  # reported to the test, which fails on it
        result = f"error: {error!r} {traceback.format_exc(limit=3)}"
        barrier.abort()
    queue.put((worker, result))


# Leases ----------------------------------------------------------------------------------------


def lease_worker(
    worker: int, barrier: Barrier, url: str, shares: list[str], quota: int, unlocked: bool
) -> dict[str, int]:
    """Takes and releases leases for every one of ``ANNOTATORS`` in turn until their quotas
    are full (every process works for every annotator: many tabs, many nodes)."""
    from hearthcam.store.annotations import AnnotationStore, LeaseRecord, LeaseTaken, QuotaFull

    store = open_store(url, None, unlocked)
    rows = AnnotationStore(store)
    counts = {"taken": 0, "taken_by_other": 0, "quota_full": 0}
    barrier.wait()
    for attempt in range(3 * quota * len(ANNOTATORS)):
        annotator = ANNOTATORS[(worker + attempt) % len(ANNOTATORS)]
        share = shares[(worker + attempt) % len(shares)]
        now = time.time()
        record = LeaseRecord(
            secrets.token_hex(16), share, annotator, "active", now, now + 600, None, {}
        )
        try:
            rows.add_lease(record, quota=(0.0, quota))
        except QuotaFull:
            counts["quota_full"] += 1
            continue
        except LeaseTaken:
            counts["taken_by_other"] += 1
            continue
        counts["taken"] += 1
        rows.set_state(record.id, "active", "released", time.time())
    store.close()
    return counts


# The key ring ----------------------------------------------------------------------------------


def keyring_worker(
    worker: int, barrier: Barrier, url: str, data_dir: Path, unlocked: bool
) -> dict[str, str]:
    """Every process makes the household's key (as each node does at start), then each tries
    to change the owner's password from "old" to its own at once."""
    from hearthcam.vault.keyring import KdfParams, Keyring, KeyringError, WrongPassword

    store = open_store(url, data_dir, unlocked)
    keyring = Keyring.open(store, data_dir, kdf=KdfParams(1, 8, 1), create=False)
    barrier.wait()
    keyring.ensure_household(HOUSEHOLD + 1)  # every node at start: made once
    barrier.wait()
    try:
        keyring.change_password(HOUSEHOLD, "old", f"new-{worker}")
        outcome = "changed"
    except (KeyringError, WrongPassword) as error:
        outcome = type(error).__name__
    store.close()
    return {"password": outcome}


# The view log ----------------------------------------------------------------------------------


def viewlog_worker(
    worker: int, barrier: Barrier, url: str, key_file: Path, appends: int, unlocked: bool
) -> list[int]:
    """Appends ``appends`` views; returns the indexes the log gave them."""
    from hearthcam.viewlog.entry import Derivative, ViewEntry
    from hearthcam.viewlog.log import AuditLog
    from hearthcam.viewlog.signing import AuditKey

    store = open_store(url, None, unlocked)
    log = AuditLog(store, AuditKey.load(key_file))
    barrier.wait()
    indexes = []
    for i in range(appends):
        entry = ViewEntry(
            viewer_id=100 + worker, viewer_role="annotator", household_id=1,
            clip_id=f"share-{i % 7}", derivative=Derivative.REDACTED, time=NOW + i,
            lease_id=f"lease-{worker}-{i}",
        )  # fmt: skip
        indexes.append(log.append(entry))
        if i % 10 == 9:
            log.checkpoint(NOW + i)
    store.close()
    return indexes


# Retention -------------------------------------------------------------------------------------


def sealed_media(store: Store, data_dir: Path) -> Any:
    """The vault's media of a data directory whose every camera is ``HOUSEHOLD``'s."""
    from hearthcam.vault.keyring import KdfParams, Keyring, MediaVault
    from hearthcam.vault.media import SealedMedia

    keyring = Keyring.open(store, data_dir, kdf=KdfParams(1, 8, 1), create=False)
    return SealedMedia(MediaVault(keyring, data_dir), lambda _camera: HOUSEHOLD)


def write_segment(store: Store, media: Any, path: Path, camera: str, start: float) -> None:
    """Records one sealed segment file and indexes it, as the recorder does."""
    from hearthcam.types import Segment

    path.parent.mkdir(parents=True, exist_ok=True)
    with media.create(path, camera) as writer:
        writer.write(path.name.encode() * 64)
    store.add_segment(Segment(camera, path, start, start + 2.0))


def retention_worker(
    worker: int, barrier: Barrier, url: str, data_dir: Path, segments: int, unlocked: bool
) -> dict[str, int]:
    """Even workers record ``segments`` new segments of their own camera; odd ones run
    retention passes (shredding the old footage) until the recorders are done."""
    from hearthcam.recordings.retention import sweep

    store = open_store(url, data_dir, unlocked)
    media = sealed_media(store, data_dir)
    done = {"written": 0, "deleted": 0, "passes": 0}
    barrier.wait()
    if worker % 2 == 0:
        camera = f"new-{worker}"
        for i in range(segments):
            path = data_dir / "recordings" / camera / f"{i:04d}.mp4"
            write_segment(store, media, path, camera, NOW - 60 + i)
            done["written"] += 1
    else:
        # Passes go on while old footage is left, as every node's retention does.
        while store.oldest_segments(1, ended_before=NOW - 86_400) or done["passes"] < 3:
            report = sweep(store, data_dir, NOW, lambda _path: 10**15, media=media)
            if report.errors:
                raise RuntimeError(f"retention pass failed: {report}")
            done["deleted"] += report.segments_deleted
            done["passes"] += 1
    store.close()
    return done
