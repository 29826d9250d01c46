"""``ShareChecks`` with a cluster (``remote``): the server's side of the bargain, on a real
SQLite store and real clips. The cluster is a scripted ``RemoteChecks`` here (the real one, on a
real Ray cluster, is tests/cluster/test_shares.py): what the server does when an outcome comes,
when a check is lost, when the cluster fails mid-pass, and when it cannot be reached."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from hearthcam.privacy.consent import Sharing
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import MAX_LOST, RemoteChecks, ShareChecks
from hearthcam.store.shares import ShareRecord
from hearthcam.vision.prepare import ClipPreparer, PreparedClip, ShareState
from tests.privacy.conftest import NOW, agreed, event_with_clip

Script = Callable[[ShareRecord, threading.Event], PreparedClip | None]


class _Cluster:
    """Answers each share by ``script``; raises ``ConnectionError`` at ``fail_at`` answers."""

    def __init__(self, script: Script, fail_at: int | None = None) -> None:
        self.script, self.fail_at = script, fail_at
        self.asked: list[list[str]] = []

    def prepare(
        self, shares: Sequence[ShareRecord], stop: threading.Event
    ) -> Iterator[tuple[ShareRecord, PreparedClip | None]]:
        self.asked.append([s.id for s in shares])
        for i, share in enumerate(shares):
            if i == self.fail_at:
                raise ConnectionError("the head went away")
            yield share, self.script(share, stop)


def _no_local_checks() -> ClipPreparer:
    raise AssertionError("with a cluster the server checks nothing itself")


def _shares(
    sharing: Sharing, data_dir: Path, clip: Path, count: int, now: float = NOW
) -> list[str]:
    ids = []
    for _ in range(count):
        event = event_with_clip(data_dir, clip)
        digest = agreed(sharing, event, now=now)
        ids.append(sharing.share(event, 1, 7, "Front door", digest, now).id)
    return ids


def _status(sharing: Sharing, share_id: str) -> ShareRecord:
    record = sharing.shares.get(share_id)
    assert record is not None
    return record


def _owner_only(share: ShareRecord, stop: threading.Event) -> PreparedClip:
    return PreparedClip(ShareState.OWNER_ONLY, failure="scripted")


def test_outcomes_are_settled_and_a_lost_check_waits_for_the_next_pass(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    first, lost = _shares(sharing, data_dir, plain_clip, 2)
    scripted = PreparedClip(ShareState.OWNER_ONLY, failure="scripted")
    answers: dict[str, PreparedClip | None] = {first: scripted}
    cluster = _Cluster(lambda share, stop: answers.get(share.id))
    connects: list[RemoteChecks] = []

    def connect() -> RemoteChecks:
        connects.append(cluster)
        return cluster

    checks = ShareChecks(sharing, _no_local_checks, remote=connect)
    [outcome] = checks.run_once()

    assert outcome.share_id == first
    assert outcome.status is ShareStatus.OWNER_ONLY
    assert sorted(cluster.asked[0]) == sorted([first, lost])  # all waiting ones in one pass
    back = _status(sharing, lost)
    assert back.status == ShareStatus.CONSENTED.value  # waits again, its move recorded
    assert [m.event for m in back.history][-2:] == ["start_checks", "retry"]
    answers[lost] = scripted
    [again] = checks.run_once()
    assert again.share_id == lost
    assert cluster.asked[1] == [lost]
    assert len(connects) == 1  # connected once


def test_a_cluster_failing_mid_pass_leaves_no_share_checking(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    ids = _shares(sharing, data_dir, plain_clip, 3)
    clusters = [_Cluster(_owner_only, fail_at=1), _Cluster(_owner_only)]
    checks = ShareChecks(sharing, _no_local_checks, remote=lambda: clusters.pop(0))

    with pytest.raises(ConnectionError):
        checks.run_once()

    statuses = sorted(_status(sharing, i).status for i in ids)
    assert statuses == ["consented", "consented", "owner_only"]  # none stays "checking"
    assert len(checks.run_once()) == 2  # reconnected (a new cluster) and checked the rest
    assert clusters == []


def test_an_unreachable_cluster_leaves_the_shares_waiting(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    [share] = _shares(sharing, data_dir, plain_clip, 1)

    def unreachable() -> RemoteChecks:
        raise ConnectionError("no head at 10.0.0.9:6379")

    checks = ShareChecks(sharing, _no_local_checks, remote=unreachable)
    assert checks.run_once() == []
    record = _status(sharing, share)
    assert record.status == "consented"
    assert [m.event for m in record.history] == ["consent"]  # never moved to checking


def test_a_stop_during_a_pass_puts_what_still_runs_back_to_waiting(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    # Shared now: run_forever ends shares past their keep days first.
    ids = _shares(sharing, data_dir, plain_clip, 2, now=time.time())
    stop = threading.Event()

    def answer(share: ShareRecord, given: threading.Event) -> PreparedClip | None:
        assert given is stop  # the server's stop reaches the cluster's pass
        if share.id == ids[0]:
            stop.set()  # the server is told to stop while the second check runs
            return _owner_only(share, given)
        return None if given.is_set() else _owner_only(share, given)

    checks = ShareChecks(sharing, _no_local_checks, remote=lambda: _Cluster(answer))
    stopper = threading.Thread(target=checks.run_forever, args=(stop,))
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()
    assert sorted(_status(sharing, i).status for i in ids) == ["consented", "owner_only"]


def test_a_share_whose_check_is_lost_pass_after_pass_ends_owner_only(
    sharing: Sharing, data_dir: Path, plain_clip: Path
) -> None:
    """A clip that kills its worker every time must not be retried for ever: after MAX_LOST
    passes it stays with its owner, saying why."""
    [share] = _shares(sharing, data_dir, plain_clip, 1)
    cluster = _Cluster(lambda share, stop: None)  # lost, every time
    checks = ShareChecks(sharing, _no_local_checks, remote=lambda: cluster)

    for _ in range(MAX_LOST - 1):
        assert checks.run_once() == []
        assert _status(sharing, share).status == "consented"
    [outcome] = checks.run_once()

    assert outcome.status is ShareStatus.OWNER_ONLY
    record = _status(sharing, share)
    assert record.status == "owner_only"
    assert f"lost on the cluster {MAX_LOST} times" in record.reason
    assert len(cluster.asked) == MAX_LOST
