"""The home's check of what a review hub shows it of the hub's view log (issue 16).

A hub logs every view of a home's clips by its annotators in an RFC 6962 view log
(``viewlog.log``). Each round the home fetches the hub's newest signed checkpoint, a consistency
proof from the checkpoint the home kept, and the home's own entries with their audit paths.
The home trusts none of it: ``check_reply`` checks the signature, that the log only grew since
the kept checkpoint, and that every listed entry is the home's, sits in the signed tree and
reads as it did before, and that no entry the home saw has gone. Homes that exchange
checkpoints of the same hub catch one that shows each of them another log
(``compare_checkpoints``).

The home moves to a new checkpoint only when nothing was found, so a hub caught once is caught
again every round until the owner acts. The proofs show that what the hub lists is in its log;
they cannot show that the hub listed every entry of the home's it logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hearthcam.hub.identity import encode_b64
from hearthcam.viewlog import merkle
from hearthcam.viewlog.entry import parse_entry
from hearthcam.viewlog.signing import Checkpoint

__all__ = [
    "Alarm",
    "Finding",
    "HomeLogState",
    "HubLogReply",
    "check_reply",
    "checkpoint_to_json",
    "compare_checkpoints",
]


@dataclass(frozen=True, slots=True)
class HubLogReply:
    """What the home fetched from the hub in one round."""

    checkpoint: Checkpoint  # the hub's newest signed checkpoint
    # The proof from the size of the home's kept checkpoint to checkpoint.size (empty when the
    # home kept none or the sizes are equal).
    consistency: tuple[bytes, ...]
    # (index, entry bytes, audit path in checkpoint's tree) for every entry of this home.
    entries: tuple[tuple[int, bytes, tuple[bytes, ...]], ...]


class Alarm(StrEnum):
    """What the hub showed that an honest hub cannot."""

    BAD_SIGNATURE = "bad signature"  # a checkpoint the hub's key did not sign
    SHRUNK = "shrunk"  # fewer entries than the checkpoint the home kept
    FORKED = "forked"  # a log that does not extend the checkpoint the home kept
    CHANGED = "changed"  # an entry that reads otherwise than before, or is not in the tree
    DROPPED = "dropped"  # an entry the home saw is no longer listed
    FOREIGN = "foreign"  # an entry about another home's clips
    UNREADABLE = "unreadable"  # bytes listed as an entry that are not one
    STALE = "stale"  # a checkpoint older than the kept one, with no more entries


@dataclass(frozen=True, slots=True)
class Finding:
    """One alarm; ``index`` is the entry's, or None when the checkpoint itself is at fault."""

    alarm: Alarm
    index: int | None
    detail: str

    def __str__(self) -> str:
        return f"{self.alarm.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class HomeLogState:
    """What the home keeps between rounds: the last checkpoint it accepted and the entries it
    accepted with it (index to exact bytes). The default is a home that has seen nothing."""

    checkpoint: Checkpoint | None = None
    seen: Mapping[int, bytes] = field(default_factory=dict)


def checkpoint_to_json(checkpoint: Checkpoint) -> dict[str, Any]:
    """A checkpoint as the hub sends it and a home keeps it (roots and signatures base64)."""
    return {
        "size": checkpoint.size,
        "root": encode_b64(checkpoint.root),
        "time_ms": checkpoint.time_ms,
        "signature": encode_b64(checkpoint.signature),
    }


def _unsigned(checkpoint: Checkpoint) -> Finding:
    detail = f"the checkpoint at size {checkpoint.size} is not signed by the hub's key"
    return Finding(Alarm.BAD_SIGNATURE, None, detail)


def _check_growth(
    kept: Checkpoint | None, new: Checkpoint, proof: Sequence[bytes]
) -> list[Finding]:
    """The new checkpoint against the kept one: the log may only have grown from it."""
    if kept is None:
        return []
    findings = []
    if new.size < kept.size:
        detail = f"the log has {new.size} entries, the checkpoint kept {kept.size}"
        findings.append(Finding(Alarm.SHRUNK, None, detail))
    elif new.size == kept.size and new.root != kept.root:
        detail = f"the log's root at size {new.size} is not the kept checkpoint's"
        findings.append(Finding(Alarm.FORKED, None, detail))
    elif new.size > kept.size and not merkle.verify_consistency(
        kept.size, new.size, kept.root, new.root, proof
    ):
        detail = f"the log at size {new.size} does not extend the kept checkpoint at {kept.size}"
        findings.append(Finding(Alarm.FORKED, None, detail))
    if new.size <= kept.size and new.time_ms < kept.time_ms:
        detail = f"the checkpoint of {new.time_ms} ms is older than the kept one of {kept.time_ms}"
        findings.append(Finding(Alarm.STALE, None, detail))
    return findings


def _check_entry(
    home_id: int,
    seen: Mapping[int, bytes],
    checkpoint: Checkpoint,
    listed: tuple[int, bytes, tuple[bytes, ...]],
) -> list[Finding]:
    """One listed entry: the bytes seen before, its audit path, its own index and its home."""
    index, data, proof = listed
    changed = []
    findings = []
    before = seen.get(index)
    if before is not None and before != data:
        changed.append("its bytes differ from those seen before")
    leaf = merkle.leaf_hash(data)
    if not merkle.verify_inclusion(index, checkpoint.size, leaf, proof, checkpoint.root):
        changed.append(f"its audit path does not lead to the root at size {checkpoint.size}")
    try:
        written, entry = parse_entry(data)
    except ValueError as error:
        findings.append(Finding(Alarm.UNREADABLE, index, f"entry {index}: {error}"))
    else:
        if written != index:
            changed.append(f"it was written as entry {written}")
        if entry.household_id != home_id:
            detail = f"entry {index} is a view of another home's clips"
            findings.append(Finding(Alarm.FOREIGN, index, detail))
    if changed:
        findings.insert(0, Finding(Alarm.CHANGED, index, f"entry {index}: {'; '.join(changed)}"))
    return findings


def check_reply(
    hub_key: Ed25519PublicKey, home_id: int, state: HomeLogState, reply: HubLogReply
) -> tuple[HomeLogState, list[Finding]]:
    """Checks one round's reply against what the home kept; returns the state to keep and what
    was found. A checkpoint the hub's key did not sign makes nothing else worth checking. The
    state takes the new checkpoint and entries only when nothing was found, so every later
    round is checked against the last state the home could trust."""
    checkpoint = reply.checkpoint
    if not checkpoint.signed_by(hub_key):
        return state, [_unsigned(checkpoint)]
    findings = _check_growth(state.checkpoint, checkpoint, reply.consistency)
    listed: dict[int, bytes] = {}
    for item in reply.entries:
        findings += _check_entry(home_id, state.seen, checkpoint, item)
        listed[item[0]] = item[1]
    for index in sorted(state.seen.keys() - listed.keys()):
        detail = f"entry {index}, seen before, is no longer listed"
        findings.append(Finding(Alarm.DROPPED, index, detail))
    if findings:
        return state, findings
    return HomeLogState(checkpoint, MappingProxyType({**state.seen, **listed})), []


def compare_checkpoints(
    hub_key: Ed25519PublicKey, a: Checkpoint, b: Checkpoint, proof: Sequence[bytes]
) -> Finding | None:
    """Whether two homes' checkpoints of one hub can both be heads of one log: equal roots at
    equal sizes, else ``proof`` shows the smaller a prefix of the larger. None when they can; a
    hub showing homes different logs is caught here even when each home's own view holds."""
    for checkpoint in (a, b):
        if not checkpoint.signed_by(hub_key):
            return _unsigned(checkpoint)
    old, new = sorted((a, b), key=lambda checkpoint: checkpoint.size)
    if old.size == new.size:
        if old.root == new.root:
            return None
        detail = f"two checkpoints at size {old.size} with different roots"
    elif merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
        return None
    else:
        detail = f"the checkpoint at size {old.size} is not a prefix of the one at {new.size}"
    return Finding(Alarm.FORKED, None, detail)
