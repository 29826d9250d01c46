"""Shared clips' rows: who shared which event, under which receipt, and where the share stands.

A row exists from the owner's consent until the share ends by withdrawal or expiry (then the
row goes with the media). Disposed and owner-only shares keep their row, without media, so the
owner can read why; the only other trace of a disposal is a counter. Each move of the status
is appended to the row's ``history`` (when, what, from, to, and who: a user id, or None for the
machine checks), in the same transaction as the move.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store


class _ShareRow(Base):
    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), index=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    owner_id: Mapped[int] = mapped_column(Integer)
    camera: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float, index=True)
    updated: Mapped[float] = mapped_column(Float)
    receipt: Mapped[Any] = mapped_column(JSON)
    receipt_sha256: Mapped[str] = mapped_column(String(64))
    facts: Mapped[Any] = mapped_column(JSON, default=dict)  # counts the checks found
    # The workbench's pre-labels, found on the original frames before redaction (boxes,
    # labels, scores and frame indexes; never pixels). Kept only while published.
    prelabels: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    # Every status move, oldest first (``ShareMove.to_json``); None on rows made before it.
    history: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)


class _CounterRow(Base):
    __tablename__ = "share_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True, slots=True)
class ShareMove:
    """One move in a share's history: ``event`` took it ``before`` -> ``after`` at ``at``;
    ``by`` is the user who asked (None: the machine checks), ``note`` what it replaced (the
    previous outcome's reason, for a re-run)."""

    at: float
    event: str
    before: str
    after: str
    by: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at, "event": self.event, "from": self.before, "to": self.after,
            "by": self.by, "note": self.note,
        }  # fmt: skip

    @staticmethod
    def from_json(data: dict[str, Any]) -> ShareMove:
        by = data.get("by")
        return ShareMove(
            float(data["at"]), str(data["event"]), str(data["from"]), str(data["to"]),
            None if by is None else int(by), str(data.get("note") or ""),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """One share as stored."""

    id: str
    event_id: str
    household_id: int
    owner_id: int
    camera: str
    status: str
    reason: str
    created: float
    expires: float
    updated: float
    receipt: dict[str, Any]
    receipt_sha256: str
    facts: dict[str, Any]
    #: ``vision.redact.PreLabels.to_json`` of the published copy (None: none were stored).
    prelabels: dict[str, Any] | None = None
    #: Every status move, oldest first.
    history: tuple[ShareMove, ...] = ()


def _record(row: _ShareRow) -> ShareRecord:
    return ShareRecord(
        row.id, row.event_id, row.household_id, row.owner_id, row.camera, row.status,
        row.reason, row.created, row.expires, row.updated, dict(row.receipt or {}),
        row.receipt_sha256, dict(row.facts or {}),
        None if row.prelabels is None else dict(row.prelabels),
        tuple(ShareMove.from_json(m) for m in row.history or ()),
    )  # fmt: skip


def receipt_digest(receipt: dict[str, Any]) -> str:
    """SHA-256 (hex) of the receipt's canonical JSON: what the owner agreed to, fixed."""
    canonical = json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ShareStore:
    """The shares and share_counters tables over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, share: ShareRecord) -> None:
        """Stores a new share; its history starts with the owner's consent (unless given)."""
        consent = ShareMove(share.created, "consent", "", share.status, share.owner_id)
        with self._store.write_session() as session:
            session.add(
                _ShareRow(
                    id=share.id, event_id=share.event_id, household_id=share.household_id,
                    owner_id=share.owner_id, camera=share.camera, status=share.status,
                    reason=share.reason, created=share.created, expires=share.expires,
                    updated=share.updated, receipt=share.receipt,
                    receipt_sha256=share.receipt_sha256, facts=share.facts,
                    history=[m.to_json() for m in share.history or (consent,)],
                )
            )  # fmt: skip

    def get(self, share_id: str) -> ShareRecord | None:
        """One share by id."""
        with self._store.read_session() as session:
            row = session.get(_ShareRow, share_id)
            return None if row is None else _record(row)

    def set_status(
        self,
        share_id: str,
        expected: str,
        status: str,
        now: float,
        reason: str = "",
        facts: dict[str, Any] | None = None,
        prelabels: dict[str, Any] | None = None,
        move: ShareMove | None = None,
    ) -> bool:
        """Moves a share from ``expected`` to ``status``; False if it was not in ``expected``
        any more (withdrawn meanwhile, or another worker took it): compare-and-set.

        ``prelabels`` are stored with a move to ``published``; any other move drops them (they
        belong to the published copy, which no other status keeps). The move is appended to
        the history (``move``, or one without event name or user when not given)."""
        values: dict[str, Any] = {"status": status, "updated": now, "reason": reason}
        if facts is not None:
            values["facts"] = facts
        values["prelabels"] = prelabels if status == "published" else None
        query = (
            update(_ShareRow)
            .where(_ShareRow.id == share_id, _ShareRow.status == expected)
            .values(**values)
        )
        step = move or ShareMove(now, "", expected, status)
        with self._store.write_session() as session:
            if not session.execute(query).rowcount:  # type: ignore[attr-defined]
                return False
            row = session.get(_ShareRow, share_id)
            if row is not None:  # the row the update just moved, in the same transaction
                row.history = [*(row.history or ()), step.to_json()]
            return True

    def remove(self, share_id: str) -> bool:
        """Deletes a share's row; True if there was one."""
        with self._store.write_session() as session:
            result = session.execute(delete(_ShareRow).where(_ShareRow.id == share_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def of_household(self, household_id: int) -> list[ShareRecord]:
        """A household's shares, newest first."""
        query = (
            select(_ShareRow)
            .where(_ShareRow.household_id == household_id)
            .order_by(_ShareRow.created.desc())
        )
        with self._store.read_session() as session:
            return [_record(r) for r in session.scalars(query)]

    def of_event(self, event_id: str) -> list[ShareRecord]:
        """Every share of one event."""
        with self._store.read_session() as session:
            query = select(_ShareRow).where(_ShareRow.event_id == event_id)
            return [_record(r) for r in session.scalars(query)]

    def with_status(self, status: str, limit: int = 100) -> list[ShareRecord]:
        """Shares in one state, oldest first."""
        query = (
            select(_ShareRow)
            .where(_ShareRow.status == status)
            .order_by(_ShareRow.created)
            .limit(limit)
        )
        with self._store.read_session() as session:
            return [_record(r) for r in session.scalars(query)]

    def expired(self, now: float) -> list[ShareRecord]:
        """Shares whose consented keeping time is over."""
        with self._store.read_session() as session:
            query = select(_ShareRow).where(_ShareRow.expires <= now)
            return [_record(r) for r in session.scalars(query)]

    def count(self) -> int:
        """How many share rows exist."""
        with self._store.read_session() as session:
            return int(session.scalar(select(func.count()).select_from(_ShareRow)) or 0)

    def bump(self, counter: str) -> None:
        """Adds one to a named counter (disposals are kept only as a count)."""
        with self._store.write_session() as session:
            row = session.get(_CounterRow, counter)
            if row is None:
                session.add(_CounterRow(name=counter, count=1))
            else:
                row.count += 1

    def counter(self, counter: str) -> int:
        """A named counter's value."""
        with self._store.read_session() as session:
            row = session.get(_CounterRow, counter)
            return 0 if row is None else row.count
