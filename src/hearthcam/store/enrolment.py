"""Enrolment links: the one-time link an admin or owner gives a new user (or one whose TOTP was
reset) to set their password and enrol TOTP.

Only the SHA-256 of the link's token is stored (like sessions), so a leaked database or backup
holds no usable link. A user has at most one link; a new one replaces the old. A link is used
at most once (``used`` is set in the same transaction that checks it) and not after ``expires``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CursorResult, Float, ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from hearthcam.store.db import Base


class _EnrolmentLinkRow(Base):
    __tablename__ = "enrolment_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, unique=True
    )
    created: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float)
    used: Mapped[float | None] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """An enrolment link row (the token's hash, never the token)."""

    id: str
    user_id: int
    created: float
    expires: float
    used: float | None

    def live(self, now: float) -> bool:
        """Whether the link may still be used."""
        return self.used is None and now < self.expires


def _record(row: _EnrolmentLinkRow) -> LinkRecord:
    return LinkRecord(row.id, row.user_id, row.created, row.expires, row.used)


class LinkTx:
    """Enrolment-link reads and writes inside an account transaction."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def replace(self, link_id: str, user_id: int, now: float, expires: float) -> None:
        """Gives ``user_id`` a new link, ending any link they had."""
        self.delete_for(user_id)
        self._s.add(_EnrolmentLinkRow(id=link_id, user_id=user_id, created=now, expires=expires))
        self._s.flush()

    def get(self, link_id: str) -> LinkRecord | None:
        """The link with this id (token hash), or None."""
        row = self._s.get(_EnrolmentLinkRow, link_id)
        return None if row is None else _record(row)

    def for_user(self, user_id: int) -> LinkRecord | None:
        """The user's link, used or not, or None."""
        query = select(_EnrolmentLinkRow).where(_EnrolmentLinkRow.user_id == user_id)
        row = self._s.scalars(query).first()
        return None if row is None else _record(row)

    def use(self, link_id: str, now: float) -> bool:
        """Marks a live link used; False if it was already used or has expired."""
        result = self._s.execute(
            update(_EnrolmentLinkRow)
            .where(
                _EnrolmentLinkRow.id == link_id,
                _EnrolmentLinkRow.used.is_(None),
                _EnrolmentLinkRow.expires > now,
            )
            .values(used=now)
        )
        return isinstance(result, CursorResult) and result.rowcount == 1

    def delete_for(self, user_id: int) -> None:
        """Forgets the user's link."""
        self._s.execute(delete(_EnrolmentLinkRow).where(_EnrolmentLinkRow.user_id == user_id))
