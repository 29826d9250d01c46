"""Which shared clips this home sent to its review hub, and what became of each copy there.

A row is made *before* the clip is sent (``sending``, with the pseudonymous id it goes under),
so a withdrawal that races the upload still finds it; the hub's acknowledgement makes it
``held``. Withdrawing the share at home (or its expiry) makes it ``withdrawing`` until the hub
answers with a signed deletion receipt (``deleted``, the receipt kept here: the home's
evidence), or says it holds no such clip (``gone``: deleted by an unlink, say). A clip the hub
refuses to take (too large, say) is ``refused``, with the hub's reason. The row outlives its
share: a pending deletion is retried until the hub answers, and the receipt is the owner's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store


class DeliveryState(enum.StrEnum):
    """Where the hub's copy of a shared clip stands."""

    SENDING = "sending"  # the row is made; the upload may or may not have reached the hub
    HELD = "held"  # the hub confirmed it holds the clip (its digest and size)
    WITHDRAWING = "withdrawing"  # withdrawn at home; the hub's deletion is pending
    DELETED = "deleted"  # the hub deleted it: its signed receipt is in ``deletion``
    GONE = "gone"  # the hub said it holds no such clip (an unlink deleted it, say)
    # The hub refused to take it (too large, say), or its own checks refused it and deleted it
    # (``deletion`` holds that receipt): the hub holds nothing of it.
    REFUSED = "refused"


#: States in which the hub may still hold a copy.
AT_HUB = frozenset({DeliveryState.SENDING, DeliveryState.HELD, DeliveryState.WITHDRAWING})


class _DeliveryRow(Base):
    __tablename__ = "hub_deliveries"

    share_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    clip_id: Mapped[str] = mapped_column(String(64), unique=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    hub_key: Mapped[str] = mapped_column(String(64))  # the hub's key id, as pinned at linking
    state: Mapped[str] = mapped_column(String(16), index=True)
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    sent: Mapped[float | None] = mapped_column(Float, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), default="")  # of the bytes the hub holds
    size: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")  # the last failure to reach the hub
    deletion: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One shared clip's copy at the hub, as this home knows it."""

    share_id: str
    clip_id: str
    household_id: int
    hub_key: str
    state: DeliveryState
    created: float
    updated: float
    sent: float | None
    sha256: str
    size: int
    error: str
    deletion: dict[str, Any] | None


def _delivery(row: _DeliveryRow) -> Delivery:
    return Delivery(
        row.share_id, row.clip_id, row.household_id, row.hub_key, DeliveryState(row.state),
        row.created, row.updated, row.sent, row.sha256, row.size, row.error,
        None if row.deletion is None else dict(row.deletion),
    )  # fmt: skip


class HubDeliveryStore:
    """The hub_deliveries table over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def begin(
        self, share_id: str, clip_id: str, household_id: int, hub_key: str, now: float
    ) -> bool:
        """Records that ``share_id`` is about to be sent as ``clip_id``; False if it has a row
        already (sent before, or being sent by another pass)."""
        with self._store.write_session() as session:
            if session.get(_DeliveryRow, share_id) is not None:
                return False
            session.add(
                _DeliveryRow(
                    share_id=share_id, clip_id=clip_id, household_id=household_id,
                    hub_key=hub_key, state=DeliveryState.SENDING.value, created=now,
                    updated=now, sent=None, sha256="", size=0, error="", deletion=None,
                )
            )  # fmt: skip
            return True

    def get(self, share_id: str) -> Delivery | None:
        with self._store.read_session() as session:
            row = session.get(_DeliveryRow, share_id)
            return None if row is None else _delivery(row)

    def of_household(self, household_id: int) -> list[Delivery]:
        """A household's deliveries, newest first (withdrawn shares' receipts included)."""
        query = (
            select(_DeliveryRow)
            .where(_DeliveryRow.household_id == household_id)
            .order_by(_DeliveryRow.created.desc())
        )
        with self._store.read_session() as session:
            return [_delivery(r) for r in session.scalars(query)]

    def in_state(self, *states: DeliveryState) -> list[Delivery]:
        """Deliveries in any of ``states``, oldest first."""
        query = (
            select(_DeliveryRow)
            .where(_DeliveryRow.state.in_([s.value for s in states]))
            .order_by(_DeliveryRow.created)
        )
        with self._store.read_session() as session:
            return [_delivery(r) for r in session.scalars(query)]

    def move(
        self,
        share_id: str,
        expected: frozenset[DeliveryState] | DeliveryState,
        state: DeliveryState,
        now: float,
        **values: Any,
    ) -> bool:
        """Moves a delivery from one of ``expected`` to ``state`` (with column ``values``);
        False if it was in none of them (compare-and-set: a withdrawal that came first wins)."""
        allowed = [expected] if isinstance(expected, DeliveryState) else sorted(expected)
        query = (
            update(_DeliveryRow)
            .where(
                _DeliveryRow.share_id == share_id,
                _DeliveryRow.state.in_([s.value for s in allowed]),
            )
            .values(state=state.value, updated=now, **values)
        )
        with self._store.write_session() as session:
            return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def note_error(self, share_id: str, error: str, now: float) -> None:
        """Keeps the last failure to reach the hub (shown to the owner), the state unchanged."""
        query = (
            update(_DeliveryRow)
            .where(_DeliveryRow.share_id == share_id)
            .values(error=error[:500], updated=now)
        )
        with self._store.write_session() as session:
            session.execute(query)
