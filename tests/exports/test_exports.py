"""Exports of a time range: real recorded, sealed segments in, a sealed MP4 out that decodes and
lasts what was asked; progress, deletion (key and file), expiry, a restart, refusals, the audit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from hearthcam.app import open_media
from hearthcam.config import ExportsConfig
from hearthcam.exports import Exporter, ExportRefused, event_range
from hearthcam.exports.jobs import RESTARTED, STOPPED, Requester
from hearthcam.store.db import Store
from hearthcam.store.exports import ExportRecord, ExportState
from hearthcam.types import Event, Verdict
from hearthcam.vault.keyring import NoMediaKey
from hearthcam.vault.media import SealedMedia
from tests.support.recorded import record_footage
from tests.support.store_fixtures import BACKENDS
from tests.support.world import FakeClock

T0 = 1_700_000_000.0
ALICE = Requester(user_id=1, username="alice", household_id=1)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each export test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


@pytest.fixture
def media(store: Store, data_dir: Path) -> SealedMedia:
    return open_media(store, data_dir)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 3600)


@pytest.fixture
def footage(store: Store, media: SealedMedia, data_dir: Path, tmp_path: Path) -> None:
    """60 s of ``front`` from T0, in 4 s sealed segments."""
    record_footage(store, media, data_dir, "front", T0, 60.0, scratch=tmp_path)


@pytest.fixture
def exporter(
    store: Store, media: SealedMedia, data_dir: Path, clock: FakeClock
) -> Iterator[Exporter]:
    made = Exporter(store, media, data_dir, ExportsConfig(keep_days=7), clock=clock)
    yield made
    made.close()


def decoded_seconds(media: SealedMedia, path: Path) -> tuple[float, int]:
    """(duration by the frames' timestamps, frames decoded) of a sealed MP4."""
    with media.open(path) as file, av.open(file, "r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        times = [
            float(frame.pts * stream.time_base)
            for frame in container.decode(stream)
            if frame.pts is not None
        ]
        rate = float(stream.average_rate or 10)
    return max(times) - min(times) + 1 / rate, len(times)


def finished(exporter: Exporter, record: ExportRecord) -> ExportRecord:
    assert exporter.wait_idle(60)
    done = exporter.rows.get(record.id)
    assert done is not None
    return done


@pytest.mark.usefixtures("footage")
def test_an_exported_range_decodes_and_lasts_what_was_asked(
    store: Store, media: SealedMedia, data_dir: Path, clock: FakeClock
) -> None:
    seen: list[float] = []
    listed: list[tuple[ExportState, float]] = []
    exporter: Exporter

    def on_progress(export_id: str, share: float) -> None:
        seen.append(share)
        # A running job is listed with its progress, from another thread than the worker's.
        lister = threading.Thread(
            target=lambda: listed.extend(
                (r.state, r.progress) for r in exporter.rows.of_household(1)
            )
        )
        lister.start()
        lister.join()

    exporter = Exporter(store, media, data_dir, clock=clock, on_progress=on_progress)
    try:
        record = exporter.create(ALICE, "front", T0 + 7.3, T0 + 41.8)
        assert record.state is ExportState.QUEUED
        done = finished(exporter, record)
    finally:
        exporter.close()

    assert done.state is ExportState.DONE, done.error
    assert done.progress == 1.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert any(state is ExportState.RUNNING and 0 < p < 1 for state, p in listed)
    assert done.path is not None
    assert done.path.is_relative_to(data_dir / "exports" / "front")
    seconds, frames = decoded_seconds(media, done.path)
    assert abs(seconds - 34.5) <= 1.0
    assert frames >= 340
    assert done.size == media.size(done.path)
    # Sealed at rest: no MP4 box names in the file's bytes.
    assert b"ftyp" not in done.path.read_bytes()[:4096]


@pytest.mark.usefixtures("footage")
def test_an_event_with_seconds_around_it_is_exported(
    exporter: Exporter, media: SealedMedia
) -> None:
    event = Event(
        id="e" * 32, camera="front", verdict=Verdict.THREAT, labels=("person",), start=0.0,
        end=5.0, wall_start=T0 + 20, wall_end=T0 + 25, score=0.9, zones=(), tracks=(),
        snapshot=None, clip=None, alert=False,
    )  # fmt: skip
    start, end = event_range(event, 10, 5)
    done = finished(exporter, exporter.create(ALICE, "front", start, end, event.id))
    assert done.state is ExportState.DONE
    assert done.event_id == event.id
    assert done.path is not None
    assert abs(decoded_seconds(media, done.path)[0] - 20.0) <= 1.0


@pytest.mark.usefixtures("footage")
def test_deleting_an_export_destroys_its_key_and_its_file(
    exporter: Exporter, media: SealedMedia, data_dir: Path
) -> None:
    done = finished(exporter, exporter.create(ALICE, "front", T0, T0 + 10))
    assert done.path is not None
    assert done.path.is_file()
    blob = done.path.relative_to(data_dir).as_posix()
    assert media.vault.keyring.has_key(blob)

    assert exporter.delete(done, ALICE)

    assert not done.path.exists()
    assert not media.vault.keyring.has_key(blob)
    with pytest.raises((NoMediaKey, FileNotFoundError)):
        media.open(done.path)
    assert exporter.rows.get(done.id) is None
    assert list((data_dir / "exports").rglob("*.mp4*")) == []


@pytest.mark.usefixtures("footage")
def test_exports_expire_after_their_days(
    exporter: Exporter, media: SealedMedia, clock: FakeClock, data_dir: Path
) -> None:
    done = finished(exporter, exporter.create(ALICE, "front", T0, T0 + 10))
    assert done.path is not None
    assert done.expires == pytest.approx(done.created + 7 * 86400)
    clock.advance(7 * 86400 - 60)
    assert exporter.sweep() == 0
    assert done.path.is_file()

    clock.advance(120)
    assert exporter.sweep() == 1

    assert not done.path.exists()
    assert not media.vault.keyring.has_key(done.path.relative_to(data_dir).as_posix())
    assert exporter.rows.get(done.id) is None
    assert [a.action for a in exporter.rows.audit_of_household(1)] == ["expired", "created"]


def test_a_restart_marks_unfinished_exports_failed(
    store: Store, media: SealedMedia, data_dir: Path, clock: FakeClock
) -> None:
    before = Exporter(store, media, data_dir, clock=clock)
    for state in (ExportState.QUEUED, ExportState.RUNNING, ExportState.DONE):
        before.rows.add(
            ExportRecord(
                id=state.value.ljust(32, "0"),
                household_id=1,
                camera="front",
                start=T0,
                end=T0 + 5,
                event_id=None,
                created_by=1,
                created=clock(),
                state=state,
                progress=0.5,
                error=None,
                path=None,
                size=None,
                finished=None,
                expires=clock() + 86400,
            )
        )

    assert Exporter(store, media, data_dir, clock=clock).fail_unfinished() == 2

    states = {r.id[:7].rstrip("0"): (r.state, r.error) for r in before.rows.of_household(1)}
    assert states == {
        "queued": (ExportState.FAILED, RESTARTED),
        "running": (ExportState.FAILED, RESTARTED),
        "done": (ExportState.DONE, None),
    }


@pytest.mark.usefixtures("footage")
@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (T0 + 30, T0 + 10, "must be after the start"),
        (T0 + 10, T0 + 10, "must be after the start"),
        (T0, T0 + 121 * 60, "at most 120 minutes"),
        (T0 + 600, T0 + 660, "no recorded footage of front"),
        (T0, T0 + 7200, "ends in the future"),
    ],
)
def test_refusals_say_what_to_change(
    exporter: Exporter, clock: FakeClock, start: float, end: float, words: str
) -> None:
    if words == "ends in the future":
        clock.now = T0 + 60
    with pytest.raises(ExportRefused, match=words):
        exporter.create(ALICE, "front", start, end)
    assert exporter.rows.of_household(1) == []


@pytest.mark.usefixtures("footage")
def test_the_audit_says_who_exported_downloaded_and_deleted_what(exporter: Exporter) -> None:
    mia = Requester(user_id=2, username="mia", household_id=1)
    done = finished(exporter, exporter.create(mia, "front", T0, T0 + 8))
    exporter.downloaded(done, ALICE)
    exporter.delete(done, mia)

    lines = exporter.rows.audit_of_household(1)
    assert [(a.username, a.action) for a in lines] == [
        ("mia", "deleted"),
        ("alice", "downloaded"),
        ("mia", "created"),
    ]
    assert {(a.export_id, a.camera, a.start, a.end) for a in lines} == {
        (done.id, "front", T0, T0 + 8)
    }
    assert exporter.rows.audit_of_household(2) == []


@pytest.mark.usefixtures("footage")
def test_closing_stops_a_running_export_and_marks_it_failed(
    store: Store, media: SealedMedia, data_dir: Path, clock: FakeClock
) -> None:
    closers: list[threading.Thread] = []
    exporter: Exporter

    def on_progress(_export_id: str, _share: float) -> None:
        if not closers:  # a shutdown begins while the job runs
            closers.append(threading.Thread(target=exporter.close))
            closers[0].start()
            time.sleep(0.3)

    exporter = Exporter(store, media, data_dir, clock=clock, on_progress=on_progress)
    record = exporter.create(ALICE, "front", T0, T0 + 50)
    assert exporter.wait_idle(60)
    closers[0].join(30)

    stopped = exporter.rows.get(record.id)
    assert stopped is not None
    assert (stopped.state, stopped.error) == (ExportState.FAILED, STOPPED)
    assert list((data_dir / "exports").rglob("*.mp4*")) == []
