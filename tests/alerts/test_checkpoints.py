"""The view log checkpoint schedule: each household gets a signed checkpoint once per change of
the log (a fake clock signs them), the size sent survives a restart, a tampered log sends
nothing; over a real webhook on loopback the body is what `audit verify --against` reads, and
it catches a log cut back below it (real SQLite file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearthcam.alerts.checkpoints import CheckpointSchedule, state_path
from hearthcam.alerts.notify import AlertDispatcher, FakeNotifier
from hearthcam.alerts.text import AlertFormatter, CheckpointNotice
from hearthcam.alerts.webhook import (
    DELIVERY_HEADER,
    HOUSEHOLD_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path, parse_saved
from tests.alerts.test_webhook import SECRET, RecordingServer, notifier, serve, servers
from tests.cli.test_audit import audit
from tests.viewlog.test_log import T0, change_entry, filled_log, view
from tests.viewlog.test_tampering import truncate_to

__all__ = ["servers"]  # the fixture, imported for the webhook test


class Sent:
    """A ``send`` that records notices and names one channel (or none)."""

    def __init__(self, channels: list[str] | None = None) -> None:
        self.notices: list[CheckpointNotice] = []
        self.channels = ["fake"] if channels is None else channels

    def __call__(self, notice: CheckpointNotice) -> list[str]:
        self.notices.append(notice)
        return self.channels


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def schedule(store: Store, data_dir: Path, send: Sent, clock: Clock) -> CheckpointSchedule:
    log = AuditLog(store, AuditKey.load(key_path(data_dir)))
    return CheckpointSchedule(log, send, state_path(data_dir), 24.0, clock=clock)


def append(db: Path, data_dir: Path, index: int, household: int) -> None:
    with Store.open(f"sqlite:///{db}") as store:
        AuditLog(store, AuditKey.load(key_path(data_dir))).append(view(index, household))


def test_each_household_gets_a_checkpoint_once_per_change(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = filled_log(data_dir, 9, ())  # households 1, 2, 3
    send, clock = Sent(), Clock(T0 + 1000)
    with Store.open(f"sqlite:///{db}") as store:
        sched = schedule(store, data_dir, send, clock)
        assert sched.run_once() == [1, 2, 3]
        assert [n.household_id for n in send.notices] == [1, 2, 3]
        assert {n.size for n in send.notices} == {9}
        first = json.loads(send.notices[0].text)
        assert first["time_ms"] == int((T0 + 1000) * 1000)  # signed at the fake clock's time
        clock.now += 24 * 3600
        assert sched.run_once() == []  # unchanged: nothing again
        assert sched.sent() == {1: 9, 2: 9, 3: 9}
    append(db, data_dir, 9, household=4)
    clock.now += 24 * 3600
    with Store.open(f"sqlite:///{db}") as store:  # a restart: the sizes sent were kept
        sched = schedule(store, data_dir, send, clock)
        assert sched.run_once() == [1, 2, 3, 4]
        assert sched.run_once() == []
        assert AuditLog(store, None).checkpoints()[-1].size == 10
        assert len(AuditLog(store, None).checkpoints()) == 2  # one per change, not per pass
    assert [n.size for n in send.notices[3:]] == [10, 10, 10, 10]
    assert json.loads(state_path(data_dir).read_text()) == {"1": 10, "2": 10, "3": 10, "4": 10}


def test_nothing_is_remembered_when_no_channel_carries_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = filled_log(data_dir, 3, ())
    with Store.open(f"sqlite:///{db}") as store:
        sched = schedule(store, data_dir, Sent(channels=[]), Clock(T0))
        assert sched.run_once() == []
        assert sched.sent() == {}
        send = Sent()
        assert schedule(store, data_dir, send, Clock(T0)).run_once() == [1, 2, 3]


def test_a_tampered_log_is_not_signed_or_sent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = filled_log(data_dir, 6, (3,))
    change_entry(db, 1)
    send = Sent()
    with Store.open(f"sqlite:///{db}") as store:
        assert schedule(store, data_dir, send, Clock(T0)).run_once() == []
        assert len(AuditLog(store, None).checkpoints()) == 1
    assert send.notices == []


def test_an_empty_log_sends_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = filled_log(data_dir, 0, ())
    send = Sent()
    with Store.open(f"sqlite:///{db}") as store:
        assert schedule(store, data_dir, send, Clock(T0)).run_once() == []
    assert send.notices == []


def test_the_dispatcher_hands_checkpoints_only_to_channels_that_carry_them(
    tmp_path: Path,
) -> None:
    class AlertsOnly:
        name, follow_ups = "alerts-only", False

        def send(self, alert: object) -> None: ...

        def close(self) -> None: ...

    fake = FakeNotifier()
    formatter = AlertFormatter("http://127.0.0.1:8971", {})
    dispatcher = AlertDispatcher([fake, AlertsOnly()], formatter)
    notice = CheckpointNotice(1, 3, "ab" * 32, "{}")
    try:
        assert dispatcher.send_checkpoint(notice) == ["fake"]
    finally:
        dispatcher.close()
    assert fake.checkpoints == [notice]


@pytest.mark.integration
def test_a_webhook_checkpoint_is_kept_and_catches_a_cut_back_log(
    tmp_path: Path, servers: list[RecordingServer]
) -> None:
    data_dir = tmp_path / "data"
    db = filled_log(data_dir, 30, (12,))  # households 1, 2, 3
    config_file = tmp_path / "hearthcam.yml"
    config_file.write_text(f"data_dir: {data_dir}\n")
    server = serve(servers)
    dispatcher = AlertDispatcher(
        [notifier(server.url)], AlertFormatter("http://127.0.0.1:8971", {})
    )
    try:
        with Store.open(f"sqlite:///{db}") as store:
            log = AuditLog(store, AuditKey.load(key_path(data_dir)))
            sched = CheckpointSchedule(log, dispatcher.send_checkpoint, state_path(data_dir), 24)
            assert sched.run_once() == [1, 2, 3]
    finally:
        dispatcher.close()  # delivers what is queued
    assert len(server.requests) == 3
    request = server.requests[0]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify_signature(
        SECRET, headers[TIMESTAMP_HEADER.lower()], request.body, headers[SIGNATURE_HEADER.lower()]
    )
    assert headers[HOUSEHOLD_HEADER.lower()] == "1"
    assert headers[DELIVERY_HEADER.lower()] == "checkpoint.1.30"
    ((checkpoint, raw),) = parse_saved(request.body.decode("utf-8"))  # the CLI's reader
    key = AuditKey.load(key_path(data_dir))
    assert checkpoint.size == 30
    assert checkpoint.signed_by(key.public_key)
    assert raw == key.public_raw()

    kept = tmp_path / "kept.json"  # what the owner's receiver stores
    kept.write_bytes(request.body)
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 0, output
    truncate_to(db, 12)  # an attacker with the database cuts it back to the checkpoint at 12
    assert audit(config_file, "verify")[0] == 0  # the database alone agrees with itself
    code, output = audit(config_file, "verify", "--against", str(kept))
    assert code == 1, output
    assert "the saved checkpoint has 30 entries, the log only 12: 18 removed" in output
