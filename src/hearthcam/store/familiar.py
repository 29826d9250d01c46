"""Familiar faces' rows: the per-household switch, enrolled people with their consent receipts,
their sealed face descriptors and photos, and which events recognised whom.

Rows only. A face's descriptor and photo are stored sealed (``sealed``, ``photo``: bytes this
module never reads); the key that opens them is the key ring's, under the blob id ``face_blob``,
so deleting that key destroys them (``hearthcam.privacy.familiar`` does both). Nothing here is
exported, shared or put in a dataset: no other store module reads these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store

#: "row:" is the vault's ROW_BLOB_PREFIX: a sealed row, no file (the start-up sweep keeps it).
FACE_BLOB_PREFIX = "row:familiar-face:"


def face_blob(face_id: str) -> str:
    """The key ring's blob id of one enrolled face (its descriptor and photo)."""
    return FACE_BLOB_PREFIX + face_id


class _SwitchRow(Base):
    __tablename__ = "familiar_switch"

    household_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed: Mapped[float] = mapped_column(Float)
    changed_by: Mapped[str] = mapped_column(String(128))


class _PersonRow(Base):
    __tablename__ = "familiar_people"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(80))
    created: Mapped[float] = mapped_column(Float)
    consent_by: Mapped[str] = mapped_column(String(128))
    consent_at: Mapped[float] = mapped_column(Float)
    consent_text: Mapped[str] = mapped_column(Text)
    consent_digest: Mapped[str] = mapped_column(String(64))


class _FaceRow(Base):
    __tablename__ = "familiar_faces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("familiar_people.id", ondelete="CASCADE"), index=True
    )
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(128))
    created: Mapped[float] = mapped_column(Float)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    photo: Mapped[bytes] = mapped_column(LargeBinary)


class _SightingRow(Base):
    __tablename__ = "familiar_sightings"

    # Deleting the event (by its owner or by retention) deletes who it recognised with it.
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("familiar_people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    score: Mapped[float] = mapped_column(Float)
    wall: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class Consent:
    """What the owner confirmed before a person was enrolled: who, when, and the exact text."""

    by: str
    at: float
    text: str
    digest: str


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """An enrolled person of a household."""

    id: str
    household_id: int
    name: str
    created: float
    consent: Consent


@dataclass(frozen=True, slots=True)
class FaceRecord:
    """One enrolled face: sealed descriptor and photo (opened by the key of ``face_blob(id)``)."""

    id: str
    person_id: str
    household_id: int
    source: str
    created: float
    sealed: bytes
    photo: bytes


def _person(row: _PersonRow) -> PersonRecord:
    consent = Consent(row.consent_by, row.consent_at, row.consent_text, row.consent_digest)
    return PersonRecord(row.id, row.household_id, row.name, row.created, consent)


def _face(row: _FaceRow) -> FaceRecord:
    return FaceRecord(
        row.id, row.person_id, row.household_id, row.source, row.created, row.sealed, row.photo
    )


class FamiliarStore:
    """The familiar-faces tables over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def enabled(self, household_id: int) -> bool:
        """Whether the household turned familiar faces on (off unless it did)."""
        with self._store.read_session() as session:
            row = session.get(_SwitchRow, household_id)
            return bool(row is not None and row.enabled)

    def set_enabled(self, household_id: int, enabled: bool, by: str, now: float) -> None:
        """Records the household's switch."""
        with self._store.write_session() as session:
            row = session.get(_SwitchRow, household_id)
            if row is None:
                session.add(_SwitchRow(household_id=household_id, enabled=enabled, changed=now,
                                       changed_by=by))  # fmt: skip
            else:
                row.enabled, row.changed, row.changed_by = enabled, now, by

    def add_person(self, person: PersonRecord) -> None:
        """Adds an enrolled person with their consent receipt."""
        c = person.consent
        with self._store.write_session() as session:
            session.add(
                _PersonRow(
                    id=person.id, household_id=person.household_id, name=person.name,
                    created=person.created, consent_by=c.by, consent_at=c.at,
                    consent_text=c.text, consent_digest=c.digest,
                )
            )  # fmt: skip

    def person(self, person_id: str) -> PersonRecord | None:
        """One person, or None."""
        with self._store.read_session() as session:
            row = session.get(_PersonRow, person_id)
            return None if row is None else _person(row)

    def people(self, household_id: int) -> list[PersonRecord]:
        """A household's people, by name."""
        query = select(_PersonRow).where(_PersonRow.household_id == household_id)
        with self._store.read_session() as session:
            return [_person(r) for r in session.scalars(query.order_by(_PersonRow.name))]

    def add_face(self, face: FaceRecord) -> None:
        """Adds one enrolled face (already sealed)."""
        with self._store.write_session() as session:
            session.add(
                _FaceRow(
                    id=face.id, person_id=face.person_id, household_id=face.household_id,
                    source=face.source, created=face.created, sealed=face.sealed,
                    photo=face.photo,
                )
            )  # fmt: skip

    def faces(self, household_id: int, person_id: str | None = None) -> list[FaceRecord]:
        """A household's enrolled faces (of one person), oldest first."""
        query = select(_FaceRow).where(_FaceRow.household_id == household_id)
        if person_id is not None:
            query = query.where(_FaceRow.person_id == person_id)
        with self._store.read_session() as session:
            return [_face(r) for r in session.scalars(query.order_by(_FaceRow.created))]

    def face_ids(self, household_id: int, person_id: str | None = None) -> list[str]:
        """The ids of a household's (one person's) faces."""
        return [f.id for f in self.faces(household_id, person_id)]

    def delete_person(self, person_id: str) -> bool:
        """Deletes a person, their faces and sightings; True if they existed."""
        with self._store.write_session() as session:
            session.execute(delete(_FaceRow).where(_FaceRow.person_id == person_id))
            session.execute(delete(_SightingRow).where(_SightingRow.person_id == person_id))
            gone = session.execute(delete(_PersonRow).where(_PersonRow.id == person_id))
            return int(gone.rowcount) > 0  # type: ignore[attr-defined]

    def delete_household(self, household_id: int) -> int:
        """Deletes every person, face and sighting of a household; returns how many people."""
        people = [p.id for p in self.people(household_id)]
        for person_id in people:
            self.delete_person(person_id)
        return len(people)

    def record_sighting(self, event_id: str, person_id: str, score: float, wall: float) -> None:
        """Notes that an event recognised a person (the best score wins)."""
        with self._store.write_session() as session:
            row = session.get(_SightingRow, (event_id, person_id))
            if row is None:
                session.add(_SightingRow(event_id=event_id, person_id=person_id, score=score,
                                         wall=wall))  # fmt: skip
            elif score > row.score:
                row.score = score

    def sightings(self, event_id: str) -> list[tuple[PersonRecord, float]]:
        """Who an event recognised, best match first."""
        query = (
            select(_PersonRow, _SightingRow.score)
            .join(_SightingRow, _SightingRow.person_id == _PersonRow.id)
            .where(_SightingRow.event_id == event_id)
            .order_by(_SightingRow.score.desc())
        )
        with self._store.read_session() as session:
            return [(_person(p), float(s)) for p, s in session.execute(query)]
