"""Browser Web Push subscriptions: where to deliver a household member's alerts.

A row is one browser of one user (its push service endpoint and the two keys that encrypt
messages to it, RFC 8291). Rows go when the user unsubscribes, when the push service says the
endpoint is gone (404/410), or with the user; the alert channel only ever sends to the
subscriptions of users who are still members of the camera's household (the composition root
checks that at each alert).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Float, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store


class _PushRow(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    created: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """One browser's subscription (the Push API's ``PushSubscription.toJSON()`` fields)."""

    user_id: int
    household_id: int
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict[str, object]:
        """The ``subscription_info`` shape pywebpush takes."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class PushStore:
    """The push_subscriptions table over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, sub: PushSubscription, now: float) -> None:
        """Stores a subscription; the same endpoint again replaces the old row (a browser that
        re-subscribed, or another user on the same browser)."""
        with self._store.write_session() as session:
            session.execute(delete(_PushRow).where(_PushRow.endpoint == sub.endpoint))
            session.add(
                _PushRow(
                    user_id=sub.user_id,
                    household_id=sub.household_id,
                    endpoint=sub.endpoint,
                    p256dh=sub.p256dh,
                    auth=sub.auth,
                    created=now,
                )
            )

    def remove(self, endpoint: str, user_id: int | None = None) -> bool:
        """Deletes a subscription (only ``user_id``'s, when given); True if there was one."""
        query = delete(_PushRow).where(_PushRow.endpoint == endpoint)
        if user_id is not None:
            query = query.where(_PushRow.user_id == user_id)
        with self._store.write_session() as session:
            return bool(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def remove_user(self, user_id: int) -> int:
        """Deletes every subscription of a user (they were removed); returns how many."""
        with self._store.write_session() as session:
            query = delete(_PushRow).where(_PushRow.user_id == user_id)
            return int(session.execute(query).rowcount)  # type: ignore[attr-defined]

    def of_household(self, household_id: int) -> list[PushSubscription]:
        """Every subscription of a household's users."""
        return self._select(_PushRow.household_id == household_id)

    def of_user(self, user_id: int) -> list[PushSubscription]:
        """Every subscription of one user."""
        return self._select(_PushRow.user_id == user_id)

    def _select(self, condition: ColumnElement[bool]) -> list[PushSubscription]:
        with self._store.read_session() as session:
            return [
                PushSubscription(r.user_id, r.household_id, r.endpoint, r.p256dh, r.auth)
                for r in session.scalars(select(_PushRow).where(condition))
            ]
