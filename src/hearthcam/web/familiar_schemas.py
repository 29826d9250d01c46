"""Request and response bodies of the familiar-faces API (``routes.familiar``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hearthcam.store.familiar import PersonRecord
from hearthcam.web.schemas import EventId

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
#: A JPEG or PNG, base64: the page shrinks photos to 480 px before sending (body limit 64 KiB).
Photo = Annotated[str, StringConstraints(min_length=16, max_length=60_000)]


class FaceOut(BaseModel):
    """One face enrolled for a person: where it came from (the photo: ``/photo``)."""

    id: str
    source: str
    created: float


class ConsentOut(BaseModel):
    """The consent receipt kept with a person: who confirmed it, when, and the text."""

    by: str
    at: float
    text: str
    sha256: str


class PersonOut(BaseModel):
    """An enrolled person of the household."""

    id: str
    name: str
    created: float
    consent: ConsentOut
    faces: list[FaceOut]


class FamiliarOut(BaseModel):
    """The household's familiar faces: whether they can be used here, are on, and who."""

    available: bool = Field(description="false where media are not encrypted at rest")
    enabled: bool
    people: list[PersonOut]


class SwitchIn(BaseModel):
    """Turn familiar faces on or off (off destroys every enrolled face)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


class ConsentTextOut(BaseModel):
    """What the owner must confirm before enrolling ``name``, and its digest to send back."""

    name: str
    text: str
    sha256: str


class EnrolIn(BaseModel):
    """Enrol ``name`` from an event's snapshot or an uploaded photo, with the consent shown."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    consent_sha256: Sha256
    event_id: EventId | None = None
    photo: Photo | None = None


class EventPeopleOut(BaseModel):
    """Who the event recognised (the household's own people only)."""

    names: list[str]


def person_out(person: PersonRecord, faces: list[FaceOut]) -> PersonOut:
    c = person.consent
    consent = ConsentOut(by=c.by, at=c.at, text=c.text, sha256=c.digest)
    return PersonOut(
        id=person.id, name=person.name, created=person.created, consent=consent, faces=faces
    )
