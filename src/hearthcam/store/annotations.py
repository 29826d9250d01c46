"""Annotators' leases on published shared clips and the annotations they recorded.

Owns the ``review_leases`` table (one row per lease: which share, which annotator, its state
and expiry, what it was shown) and ``review_annotations`` (one row per submitted annotation).
The lease rules live in ``hearthcam.annotate.workbench``; this module only stores rows. Two
partial unique indexes make "one active lease per clip and per annotator" a property of the
database, so two annotators racing for one clip cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Index,
    Integer,
    String,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.errors import StoreError
from hearthcam.store.db import Base, Store

ACTIVE = "active"  # the one lease state the unique indexes single out (annotate.LeaseState)


# What a lease of a withdrawn clip says instead of the clip's share id.
WITHDRAWN = "withdrawn"


class LeaseTaken(StoreError):
    """The clip or the annotator already has an active lease."""


class QuotaFull(StoreError):
    """The annotator took their quota of leases already."""


class _LeaseRow(Base):
    __tablename__ = "review_leases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    share_id: Mapped[str] = mapped_column(String(32), index=True)
    annotator_id: Mapped[int] = mapped_column(Integer, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[float] = mapped_column(Float, index=True)
    expires: Mapped[float] = mapped_column(Float, index=True)
    ended: Mapped[float | None] = mapped_column(Float, nullable=True)
    shown: Mapped[Any] = mapped_column(JSON, default=dict)  # pre-labels, bucket, duration

    __table_args__ = (
        Index(
            "ux_review_leases_active_share",
            "share_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        Index(
            "ux_review_leases_active_annotator",
            "annotator_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )


class _AnnotationRow(Base):
    __tablename__ = "review_annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    share_id: Mapped[str] = mapped_column(String(32), index=True)
    lease_id: Mapped[str] = mapped_column(String(32), unique=True)
    annotator_id: Mapped[int] = mapped_column(Integer, index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    keyframes: Mapped[Any] = mapped_column(JSON, default=list)
    created: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """One lease as stored."""

    id: str
    share_id: str
    annotator_id: int
    state: str
    created: float
    expires: float
    ended: float | None
    shown: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    """One submitted annotation as stored."""

    id: int
    share_id: str
    lease_id: str
    annotator_id: int
    verdict: str
    reason: str | None
    keyframes: list[Any]
    created: float


def _lease(row: _LeaseRow) -> LeaseRecord:
    return LeaseRecord(
        row.id, row.share_id, row.annotator_id, row.state, row.created, row.expires,
        row.ended, dict(row.shown or {}),
    )  # fmt: skip


def _annotation(row: _AnnotationRow) -> AnnotationRecord:
    return AnnotationRecord(
        row.id, row.share_id, row.lease_id, row.annotator_id, row.verdict, row.reason,
        list(row.keyframes or []), row.created,
    )  # fmt: skip


class AnnotationStore:
    """The review_leases and review_annotations tables over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add_lease(self, lease: LeaseRecord, *, quota: tuple[float, int] | None = None) -> None:
        """Stores a new lease; LeaseTaken if the clip or the annotator already has one active.

        ``quota`` (since, limit): QuotaFull if the annotator took ``limit`` leases since then.
        The count and the insert are one write session (the write lock held), so annotators
        taking clips from several processes at once never pass their quota together."""
        row = _LeaseRow(
            id=lease.id, share_id=lease.share_id, annotator_id=lease.annotator_id,
            state=lease.state, created=lease.created, expires=lease.expires, ended=lease.ended,
            shown=lease.shown,
        )  # fmt: skip
        try:
            with self._store.write_session() as session:
                if quota is not None:
                    since, limit = quota
                    taken = select(func.count()).where(
                        _LeaseRow.annotator_id == lease.annotator_id, _LeaseRow.created >= since
                    )
                    if int(session.scalar(taken) or 0) >= limit:
                        raise QuotaFull(f"the quota of {limit} leases is taken")
                session.add(row)
        except StoreError as error:  # the store wraps the driver's error; its cause says which
            if isinstance(error.__cause__, IntegrityError):
                raise LeaseTaken("the clip or the annotator already has an active lease") from error
            raise

    def lease(self, lease_id: str) -> LeaseRecord | None:
        """One lease by id."""
        with self._store.read_session() as session:
            row = session.get(_LeaseRow, lease_id)
            return None if row is None else _lease(row)

    def set_shown(self, lease_id: str, shown: dict[str, Any]) -> None:
        """Records what the lease shows (pre-labels and clip facts), once they are made."""
        with self._store.write_session() as session:
            session.execute(update(_LeaseRow).where(_LeaseRow.id == lease_id).values(shown=shown))

    def set_state(self, lease_id: str, expected: str, state: str, now: float) -> bool:
        """Moves a lease from ``expected`` to ``state`` (compare-and-set); False if it was not
        in ``expected`` any more."""
        query = (
            update(_LeaseRow)
            .where(_LeaseRow.id == lease_id, _LeaseRow.state == expected)
            .values(state=state, ended=now)
        )
        with self._store.write_session() as session:
            return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def leases(
        self,
        *,
        state: str | None = None,
        share_id: str | None = None,
        annotator_id: int | None = None,
        expires_before: float | None = None,
    ) -> list[LeaseRecord]:
        """Leases matching every filter given, oldest first."""
        query = select(_LeaseRow).order_by(_LeaseRow.created)
        if state is not None:
            query = query.where(_LeaseRow.state == state)
        if share_id is not None:
            query = query.where(_LeaseRow.share_id == share_id)
        if annotator_id is not None:
            query = query.where(_LeaseRow.annotator_id == annotator_id)
        if expires_before is not None:
            query = query.where(_LeaseRow.expires <= expires_before)
        with self._store.read_session() as session:
            return [_lease(r) for r in session.scalars(query)]

    def taken_since(self, annotator_id: int, since: float) -> int:
        """How many leases the annotator took at or after ``since`` (every state counts)."""
        query = select(func.count()).where(
            _LeaseRow.annotator_id == annotator_id, _LeaseRow.created >= since
        )
        with self._store.read_session() as session:
            return int(session.scalar(query) or 0)

    def excluded_for(self, annotator_id: int) -> set[str]:
        """Share ids the annotator may not be offered: leased by them before, leased by anyone
        now, or annotated already."""
        seen = select(_LeaseRow.share_id).where(_LeaseRow.annotator_id == annotator_id)
        held = select(_LeaseRow.share_id).where(_LeaseRow.state == ACTIVE)
        done = select(_AnnotationRow.share_id)
        with self._store.read_session() as session:
            return {s for q in (seen, held, done) for s in session.scalars(q)}

    def add_annotation(self, annotation: AnnotationRecord) -> int:
        """Stores an annotation; returns its id."""
        row = _AnnotationRow(
            share_id=annotation.share_id, lease_id=annotation.lease_id,
            annotator_id=annotation.annotator_id, verdict=annotation.verdict,
            reason=annotation.reason, keyframes=annotation.keyframes, created=annotation.created,
        )  # fmt: skip
        with self._store.write_session() as session:
            session.add(row)
            session.flush()
            return int(row.id)

    def annotations(self, share_id: str | None = None) -> list[AnnotationRecord]:
        """Annotations (of one share, when given), oldest first."""
        query = select(_AnnotationRow).order_by(_AnnotationRow.id)
        if share_id is not None:
            query = query.where(_AnnotationRow.share_id == share_id)
        with self._store.read_session() as session:
            return [_annotation(r) for r in session.scalars(query)]

    def forget_share(self, share_id: str) -> int:
        """Unlinks a withdrawn share's ended leases from it: each row keeps only who leased
        something and when (the daily quota counts it), not which clip nor what was shown.
        Returns how many rows were scrubbed."""
        query = (
            update(_LeaseRow)
            .where(_LeaseRow.share_id == share_id, _LeaseRow.state != "active")
            .values(share_id=WITHDRAWN, shown={})
        )
        with self._store.write_session() as session:
            return int(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def delete_annotations(self, share_id: str) -> int:
        """Deletes a share's annotations; returns how many there were."""
        with self._store.write_session() as session:
            query = delete(_AnnotationRow).where(_AnnotationRow.share_id == share_id)
            return int(session.execute(query).rowcount)  # type: ignore[attr-defined]
