"""Export jobs: one worker thread renders queued exports in turn, with progress, into sealed files.

An export is a row (``store.exports``) from its request on: queued, running (its progress 0..1
written as segments are copied), then done (with its file) or failed (with why). Listing reads
the rows, so a running job shows wherever it is asked about. A restart cannot resume a job (its
half-written ``.part`` is dropped by start-up recovery), so ``fail_unfinished`` marks what was
queued or running failed, saying so.

The file is ``<data_dir>/exports/<camera>/<YYYY-MM-DD>/<id>.mp4`` (UTC day of the range's
start), written through the media I/O like every media file: sealed under its own key of the
camera's household, so deleting the export destroys the key, then the file. Exports are
deleted on request or ``exports.keep_days`` after they were asked for (``sweep``: the worker
runs it every ``sweep_interval`` seconds).

Who created, downloaded, deleted and which expired goes into ``export_audit``, one row each,
kept after the export is gone (the owner reads it; not the view log, which records deliveries of
shared clips to people outside the household, in a signed format of its own).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hearthcam.config import ExportsConfig
from hearthcam.errors import HearthcamError, MediaLocked
from hearthcam.exports.plan import ExportRefused, check_range, footage
from hearthcam.exports.render import render_range
from hearthcam.layout import EXPORTS_DIR
from hearthcam.store.db import Store
from hearthcam.store.exports import (
    AuditRecord,
    ExportRecord,
    ExportState,
    ExportStore,
)
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)

__all__ = ["EXPORTS_DIR", "Exporter", "Requester", "export_path"]

RESTARTED: Final = "hearthcam restarted before this export finished: export it again"
_DAY: Final = 86400.0


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks: their user id, name and household."""

    user_id: int
    username: str
    household_id: int


class _Cancelled(HearthcamError):
    """The export was deleted while it ran."""


class _Stopped(HearthcamError):
    """The exporter was closed while the export ran."""


STOPPED: Final = "hearthcam stopped before this export finished: export it again"


def export_path(data_dir: Path, record: ExportRecord) -> Path:
    """Where an export's file lives (see the module docstring)."""
    day = dt.datetime.fromtimestamp(record.start, dt.UTC).strftime("%Y-%m-%d")
    return data_dir / EXPORTS_DIR / record.camera / day / f"{record.id}.mp4"


class Exporter:
    """Exports of one data directory: requests, the worker, listing, deletion and expiry.

    ``start`` runs the worker (the runtime does; a request made before starts it too);
    ``close`` stops it after the job in hand. ``on_progress(id, share)`` hears every progress
    step (tests and benchmarks watch it)."""

    def __init__(
        self,
        store: Store,
        media: MediaIO | None,
        data_dir: Path,
        config: ExportsConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sweep_interval: float = 300.0,
        on_progress: Callable[[str, float], None] | None = None,
    ) -> None:
        self.rows = ExportStore(store)
        self._store = store
        self._media = media or PlainMedia()
        self._data_dir = data_dir
        self.config = config or ExportsConfig()
        self._clock = clock
        self._sweep_interval = sweep_interval
        self._on_progress = on_progress
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = 0  # jobs queued or running in this process

    # Requests ----------------------------------------------------------------------------------

    def create(
        self,
        who: Requester,
        camera: str,
        start: float,
        end: float,
        event_id: str | None = None,
    ) -> ExportRecord:
        """Queues an export of ``camera`` over [start, end] (ExportRefused if it cannot be)."""
        now = self._clock()
        check_range(start, end, now, self.config.max_minutes * 60)
        footage(self._store, camera, start, end)
        record = ExportRecord(
            id=uuid.uuid4().hex, household_id=who.household_id, camera=camera, start=start,
            end=end, event_id=event_id, created_by=who.user_id, created=now,
            state=ExportState.QUEUED, progress=0.0, error=None, path=None, size=None,
            finished=None, expires=now + self.config.keep_days * _DAY,
        )  # fmt: skip
        self.rows.add(record)
        self._audit(record, "created", who, now)
        with self._lock:
            self._busy += 1
        self._submit(record.id)
        return record

    def downloaded(self, record: ExportRecord, who: Requester) -> None:
        """Records a download in the audit (before its bytes go)."""
        self._audit(record, "downloaded", who, self._clock())

    def delete(self, record: ExportRecord, who: Requester | None) -> bool:
        """Deletes an export for real: its file's key and file, then its row (None: expiry)."""
        path = record.path or export_path(self._data_dir, record)
        self._media.delete([path])  # a running job's .part too: it stops at its next step
        gone = self.rows.delete(record.id)
        if gone:
            action = "deleted" if who is not None else "expired"
            self._audit(record, action, who, self._clock())
        return gone

    def sweep(self) -> int:
        """Deletes the exports whose days are up; returns how many."""
        count = 0
        for record in self.rows.expired(self._clock()):
            try:
                count += self.delete(record, None)
            except HearthcamError as error:  # tried again at the next sweep
                log.warning("export %s could not be deleted yet: %s", record.id, error)
        if count:
            log.info("exports: %d expired and deleted", count)
        return count

    def fail_unfinished(self) -> int:
        """Marks exports a stopped process left queued or running failed (call at start)."""
        count = self.rows.fail_unfinished(RESTARTED, self._clock())
        if count:
            log.info("exports: %d left unfinished by the last run marked failed", count)
        return count

    def _audit(self, record: ExportRecord, action: str, who: Requester | None, now: float) -> None:
        self.rows.audit(
            AuditRecord(
                household_id=record.household_id,
                user_id=None if who is None else who.user_id,
                username="" if who is None else who.username,
                action=action,
                export_id=record.id,
                camera=record.camera,
                start=record.start,
                end=record.end,
                time=now,
            )
        )

    # The worker --------------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the worker thread (idempotent)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._work, name="exports", daemon=True)
            self._thread.start()

    def _submit(self, export_id: str) -> None:
        self.start()
        self._queue.put(export_id)

    def close(self) -> None:
        """Stops the worker: the job in hand stops at its next segment and is marked failed
        (a range of hours must not hold a shutdown); queued ones stay queued (the next start
        marks them failed)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._queue.put(None)
        if thread is not None:
            thread.join()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no job of this process is queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._busy == 0:
                    return True
            time.sleep(0.02)
        return False

    def _work(self) -> None:
        next_sweep = time.monotonic()
        while True:
            if time.monotonic() >= next_sweep:
                try:
                    self.sweep()
                except Exception:  # the store may be briefly unavailable: next time
                    log.exception("exports: sweep failed")
                next_sweep = time.monotonic() + self._sweep_interval
            try:
                item = self._queue.get(timeout=max(0.0, next_sweep - time.monotonic()))
            except queue.Empty:
                continue
            if item is None:
                return
            try:
                self.run(item)
            except Exception:  # one job's bug must not end the worker
                log.exception("export %s crashed", item)
                self.rows.fail(item, "the export failed unexpectedly (see the log)", self._clock())
            finally:
                with self._lock:
                    self._busy -= 1

    def run(self, export_id: str) -> ExportRecord | None:
        """Renders one queued export now (the worker's step); returns its row as it ends."""
        record = self.rows.get(export_id)
        if record is None or not self.rows.set_running(export_id, 0.0):
            return record
        path = export_path(self._data_dir, record)
        try:
            size = self._render(record, path)
        except _Cancelled:
            log.info("export %s was deleted while it ran", export_id)
            return None
        except _Stopped:
            self.rows.fail(export_id, STOPPED, self._clock())
            return self.rows.get(export_id)
        except MediaLocked:
            self.rows.fail(export_id, "the recordings are locked until the owner signs in: "
                           "export again after that", self._clock())  # fmt: skip
            return self.rows.get(export_id)
        except (ExportRefused, HearthcamError, OSError) as error:
            self.rows.fail(export_id, str(error), self._clock())
            return self.rows.get(export_id)
        if not self.rows.finish(export_id, path, size, self._clock()):
            self._media.delete([path])  # deleted the moment it was done
            return None
        self._progress(export_id, 1.0)
        return self.rows.get(export_id)

    def _render(self, record: ExportRecord, path: Path) -> int:
        """Writes the export's sealed file; returns its size in bytes."""
        last = [time.monotonic()]

        def progress(share: float) -> None:
            if self._closed:
                raise _Stopped(record.id)
            # At most a few row writes a second: a range of hours has thousands of segments.
            now = time.monotonic()
            if share >= 1.0 or now - last[0] >= 0.2:
                last[0] = now
                if not self.rows.set_running(record.id, min(share, 0.99)):
                    raise _Cancelled(record.id)
            self._progress(record.id, min(share, 0.99))

        with self._media.create(path, record.camera) as writer:
            render_range(
                self._store, self._media, record.camera, record.start, record.end, writer,
                progress,
            )  # fmt: skip
            return writer.tell()

    def _progress(self, export_id: str, share: float) -> None:
        if self._on_progress is not None:
            self._on_progress(export_id, share)
