"""The home's check of a hub's view log, against a real hub log (an AuditLog over a SQLite file in
tmp_path, signed by a real AuditKey) holding two homes' views interleaved: honest rounds are
accepted and grow the home's state, and each way a hub can lie is named."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearthcam.hub.monitor import (
    Alarm,
    Finding,
    HomeLogState,
    HubLogReply,
    check_reply,
    compare_checkpoints,
)
from hearthcam.store.db import Store
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, Checkpoint
from tests.viewlog.test_log import T0, view
from tests.viewlog.test_tampering import truncate_to

HOME, OTHER = 1, 2


class Hub:
    """A hub's view log as the tests run it: a SQLite file, its signing key, and the replies an
    honest hub serves from them."""

    def __init__(self, folder: Path, key: AuditKey | None = None) -> None:
        folder.mkdir(parents=True)
        self.path = folder / "hub.sqlite"
        self.key = key if key is not None else AuditKey.load_or_create(folder / "hub.pem")

    @contextmanager
    def log(self) -> Iterator[AuditLog]:
        """The log, opened afresh (its cached tree never outlives a raw edit of the file)."""
        with Store.open(f"sqlite:///{self.path}") as store:
            yield AuditLog(store, self.key)

    def append(self, *households: int, viewer: int = 7) -> None:
        """Logs one view of each household's clips, in order."""
        with self.log() as log:
            for household in households:
                log.append(view(log.size(), household=household, viewer=viewer))

    def checkpoint(self, now: float) -> Checkpoint:
        """Signs the log's head now."""
        with self.log() as log:
            return log.checkpoint(now)

    def consistency(self, old_size: int, size: int) -> tuple[bytes, ...]:
        """The log's consistency proof between two of its sizes."""
        with self.log() as log:
            return tuple(log.consistency_proof(old_size, size))

    def reply(self, home: int, kept: Checkpoint | None, now: float) -> HubLogReply:
        """What an honest hub answers a home that kept ``kept``."""
        with self.log() as log:
            checkpoint = log.checkpoint(now)
            old = 0 if kept is None or kept.size > checkpoint.size else kept.size
            consistency = tuple(log.consistency_proof(old, checkpoint.size))
            proven = log.proven_entries(home, checkpoint)
        entries = tuple((p.logged.index, p.logged.data, p.proof) for p in proven)
        return HubLogReply(checkpoint, consistency, entries)


def alarms(findings: list[Finding]) -> list[tuple[Alarm, int | None]]:
    return [(f.alarm, f.index) for f in findings]


def accepted(hub: Hub, home: int, state: HomeLogState, now: float) -> HomeLogState:
    """The state after an honest round, which must find nothing."""
    reply = hub.reply(home, state.checkpoint, now)
    new, findings = check_reply(hub.key.public_key, home, state, reply)
    assert findings == []
    return new


def resigned(key: AuditKey, checkpoint: Checkpoint, time_ms: int | None = None) -> Checkpoint:
    """``checkpoint`` signed again by ``key`` (at ``time_ms``, when given)."""
    when = checkpoint.time_ms if time_ms is None else time_ms
    unsigned = Checkpoint(checkpoint.size, checkpoint.root, when, b"")
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.note))


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(tmp_path / "hub")


def test_honest_rounds_are_accepted_and_the_state_grows(hub: Hub) -> None:
    homes = {HOME: HomeLogState(), OTHER: HomeLogState()}
    # The second batch adds nothing of HOME's, the last nothing at all: both are still fine.
    for step, batch in enumerate([(1, 2, 1), (2, 2), (1, 2, 1, 1), ()]):
        hub.append(*batch)
        for home, state in homes.items():
            reply = hub.reply(home, state.checkpoint, T0 + 100 + step)
            if state.checkpoint is not None and 0 < state.checkpoint.size < reply.checkpoint.size:
                assert reply.consistency  # the growth is proven, not assumed
            homes[home], findings = check_reply(hub.key.public_key, home, state, reply)
            assert findings == []
            assert homes[home].checkpoint == reply.checkpoint
    assert sorted(homes[HOME].seen) == [0, 2, 5, 7, 8]
    assert sorted(homes[OTHER].seen) == [1, 3, 4, 6]
    with hub.log() as log:
        for home, state in homes.items():
            assert dict(state.seen) == {e.index: e.data for e in log.entries_for_household(home)}


@pytest.mark.parametrize("forge", ["another key", "another root"])
def test_a_checkpoint_not_signed_by_the_hub_is_refused_and_nothing_else_trusted(
    hub: Hub, forge: str
) -> None:
    hub.append(1, 2, 1)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    hub.append(1, 2)
    reply = hub.reply(HOME, state.checkpoint, T0 + 200)
    if forge == "another key":
        checkpoint = resigned(AuditKey(Ed25519PrivateKey.generate()), reply.checkpoint)
    else:
        checkpoint = dataclasses.replace(reply.checkpoint, root=bytes(32))
    forged = dataclasses.replace(reply, checkpoint=checkpoint, entries=())
    new, findings = check_reply(hub.key.public_key, HOME, state, forged)
    assert alarms(findings) == [(Alarm.BAD_SIGNATURE, None)]  # not also DROPPED: nothing trusted
    assert new is state


def test_a_log_cut_back_is_shrunk_and_keeps_alarming(hub: Hub) -> None:
    hub.append(1, 2, 1, 2, 1, 1)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    truncate_to(hub.path, 3)
    for now in (T0 + 200, T0 + 300):  # the kept state stays, so every round alarms again
        new, findings = check_reply(
            hub.key.public_key, HOME, state, hub.reply(HOME, state.checkpoint, now)
        )
        assert alarms(findings) == [(Alarm.SHRUNK, None), (Alarm.DROPPED, 4), (Alarm.DROPPED, 5)]
        assert new is state


def test_a_log_rolled_back_to_an_old_checkpoint_is_shrunk_and_stale(hub: Hub) -> None:
    hub.append(1, 2, 1)
    hub.checkpoint(T0 + 100)
    hub.append(2, 1)
    state = accepted(hub, HOME, HomeLogState(), T0 + 200)
    truncate_to(hub.path, 3)  # keeps the checkpoint at 3, which the hub now serves again
    new, findings = check_reply(
        hub.key.public_key, HOME, state, hub.reply(HOME, state.checkpoint, T0 + 300)
    )
    assert alarms(findings) == [(Alarm.SHRUNK, None), (Alarm.STALE, None), (Alarm.DROPPED, 4)]
    assert new is state


def test_an_older_checkpoint_of_the_same_log_is_stale(hub: Hub) -> None:
    hub.append(1, 2, 1)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    reply = hub.reply(HOME, state.checkpoint, T0 + 200)
    assert state.checkpoint is not None
    older = resigned(hub.key, reply.checkpoint, time_ms=state.checkpoint.time_ms - 1)
    new, findings = check_reply(
        hub.key.public_key, HOME, state, dataclasses.replace(reply, checkpoint=older)
    )
    assert alarms(findings) == [(Alarm.STALE, None)]
    assert new is state


@pytest.mark.parametrize("more", [(), (2, 1)])
def test_a_rewritten_entry_is_a_fork_and_a_change(tmp_path: Path, more: tuple[int, ...]) -> None:
    honest = Hub(tmp_path / "honest")
    honest.append(1, 2, 1, 2)
    rewritten = Hub(tmp_path / "rewritten", honest.key)  # the same hub, its entry 2 rewritten
    rewritten.append(1, 2)
    rewritten.append(1, viewer=8)
    rewritten.append(2)
    state = accepted(honest, HOME, HomeLogState(), T0 + 100)
    rewritten.append(*more)  # served at the same size, or grown since
    new, findings = check_reply(
        honest.key.public_key, HOME, state, rewritten.reply(HOME, state.checkpoint, T0 + 200)
    )
    assert alarms(findings) == [(Alarm.FORKED, None), (Alarm.CHANGED, 2)]
    assert new is state


@pytest.mark.parametrize("seen_before", [True, False])
def test_an_entry_not_in_the_signed_tree_is_changed(tmp_path: Path, seen_before: bool) -> None:
    honest = Hub(tmp_path / "honest")
    honest.append(1, 2, 1, 2)
    other = Hub(tmp_path / "other", honest.key)
    other.append(1, 2)
    other.append(1, viewer=8)
    state = accepted(honest, HOME, HomeLogState(), T0 + 100) if seen_before else HomeLogState()
    reply = honest.reply(HOME, state.checkpoint, T0 + 100)
    changed = other.reply(HOME, None, T0 + 100).entries[1][1]
    entries = tuple((i, changed if i == 2 else data, proof) for i, data, proof in reply.entries)
    new, findings = check_reply(
        honest.key.public_key, HOME, state, dataclasses.replace(reply, entries=entries)
    )
    assert alarms(findings) == [(Alarm.CHANGED, 2)]
    assert new is state


def test_entries_moved_to_other_indexes_are_changed(hub: Hub) -> None:
    hub.append(1, 2, 1, 2)
    with closing(sqlite3.connect(hub.path, isolation_level=None)) as db:  # swap entries 0 and 2
        rows = db.execute("SELECT idx, entry, leaf FROM audit_views WHERE idx IN (0, 2)")
        for index, data, leaf in rows.fetchall():
            db.execute(
                "UPDATE audit_views SET entry = ?, leaf = ? WHERE idx = ?", (data, leaf, 2 - index)
            )
    truncate_to(hub.path, 4)  # the head the swapped entries make
    new, findings = check_reply(
        hub.key.public_key, HOME, HomeLogState(), hub.reply(HOME, None, T0 + 100)
    )
    assert alarms(findings) == [(Alarm.CHANGED, 0), (Alarm.CHANGED, 2)]
    assert all("written as entry" in f.detail for f in findings)
    assert new == HomeLogState()


def test_an_entry_no_longer_listed_is_dropped(hub: Hub) -> None:
    hub.append(1, 2, 1, 2)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    hub.append(1)
    reply = hub.reply(HOME, state.checkpoint, T0 + 200)
    entries = tuple(item for item in reply.entries if item[0] != 2)
    new, findings = check_reply(
        hub.key.public_key, HOME, state, dataclasses.replace(reply, entries=entries)
    )
    assert alarms(findings) == [(Alarm.DROPPED, 2)]
    assert new is state


def test_another_homes_entries_are_foreign(hub: Hub) -> None:
    hub.append(1, 2, 1, 2)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    hub.append(2, 1)
    reply = hub.reply(HOME, state.checkpoint, T0 + 200)
    theirs = hub.reply(OTHER, None, T0 + 200)  # the same checkpoint: its proofs hold
    assert theirs.checkpoint == reply.checkpoint
    entries = tuple(sorted(reply.entries + theirs.entries))
    new, findings = check_reply(
        hub.key.public_key, HOME, state, dataclasses.replace(reply, entries=entries)
    )
    assert alarms(findings) == [(Alarm.FOREIGN, 1), (Alarm.FOREIGN, 3), (Alarm.FOREIGN, 4)]
    assert new is state


def test_bytes_that_are_no_entry_are_unreadable(hub: Hub) -> None:
    hub.append(1, 2, 1)
    reply = hub.reply(HOME, None, T0 + 100)
    entries = (*reply.entries, (1, b"not an entry", ()))
    new, findings = check_reply(
        hub.key.public_key, HOME, HomeLogState(), dataclasses.replace(reply, entries=entries)
    )
    assert alarms(findings) == [(Alarm.CHANGED, 1), (Alarm.UNREADABLE, 1)]
    assert new == HomeLogState()


@pytest.mark.parametrize("proof", ["none", "of another size"])
def test_growth_without_a_consistency_proof_is_a_fork(hub: Hub, proof: str) -> None:
    hub.append(1, 2, 1)
    state = accepted(hub, HOME, HomeLogState(), T0 + 100)
    hub.append(2, 1, 1, 2)
    reply = hub.reply(HOME, state.checkpoint, T0 + 200)
    wrong = () if proof == "none" else hub.consistency(2, reply.checkpoint.size)
    new, findings = check_reply(
        hub.key.public_key, HOME, state, dataclasses.replace(reply, consistency=wrong)
    )
    assert alarms(findings) == [(Alarm.FORKED, None)]
    assert new is state


@pytest.mark.parametrize(("mine", "theirs"), [((1, 2), (2, 2, 1)), ((1, 2), (2, 1))])
def test_gossip_names_a_hub_that_forked_its_log(
    tmp_path: Path, mine: tuple[int, ...], theirs: tuple[int, ...]
) -> None:
    a = Hub(tmp_path / "a")
    b = Hub(tmp_path / "b", a.key)  # the same hub's key over both branches
    for hub in (a, b):
        hub.append(1, 2, 1)
    shared = a.checkpoint(T0 + 100)
    a.append(*mine)
    b.append(*theirs)
    seen_a, seen_b = a.checkpoint(T0 + 200), b.checkpoint(T0 + 200)
    key = a.key.public_key
    proof = b.consistency(seen_a.size, seen_b.size) if seen_b.size > seen_a.size else ()
    for first, second in ((seen_a, seen_b), (seen_b, seen_a)):
        finding = compare_checkpoints(key, first, second, proof)
        assert finding is not None
        assert finding.alarm is Alarm.FORKED
    # Before the branches parted, each agrees with the shared prefix.
    assert compare_checkpoints(key, shared, seen_b, b.consistency(3, seen_b.size)) is None
    assert compare_checkpoints(key, seen_a, shared, a.consistency(3, seen_a.size)) is None


def test_gossip_accepts_checkpoints_of_one_honest_log(hub: Hub) -> None:
    key = hub.key.public_key
    hub.append(1, 2, 1)
    early = hub.checkpoint(T0 + 100)
    hub.append(2, 2, 1, 1)
    late = hub.checkpoint(T0 + 200)
    proof = hub.consistency(early.size, late.size)
    assert compare_checkpoints(key, early, late, proof) is None
    assert compare_checkpoints(key, late, early, proof) is None
    assert compare_checkpoints(key, late, late, ()) is None
    finding = compare_checkpoints(key, early, late, ())  # the prefix must be proven
    assert finding is not None
    assert finding.alarm is Alarm.FORKED


def test_gossip_refuses_a_checkpoint_the_hub_did_not_sign(hub: Hub) -> None:
    hub.append(1, 2, 1)
    honest = hub.checkpoint(T0 + 100)
    forged = resigned(AuditKey(Ed25519PrivateKey.generate()), honest)
    for first, second in ((honest, forged), (forged, honest)):
        finding = compare_checkpoints(hub.key.public_key, first, second, ())
        assert finding is not None
        assert finding.alarm is Alarm.BAD_SIGNATURE
