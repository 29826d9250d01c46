"""Familiar faces in the app (/api/familiar): the owner's switch, consent, enrolment, deletion,
the photos used; and who an event recognised (/api/events/{id}/people, the household only).

Owners only, except an event's names, which every member of the household sees with the event.
Where media are not encrypted at rest there is no household key to seal faces under: the
feature is unavailable (409).
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hearthcam.privacy.familiar import FamiliarError, FamiliarFaces, consent_digest, consent_text
from hearthcam.privacy.familiar_enrol import decode_picture
from hearthcam.vault.media import read_bytes
from hearthcam.web.deps import Member, Owner, Services, VisibleEvent, csrf_protect
from hearthcam.web.familiar_schemas import (
    ConsentTextOut,
    EnrolIn,
    EventPeopleOut,
    FaceOut,
    FamiliarOut,
    Name,
    PersonOut,
    SwitchIn,
    person_out,
)
from hearthcam.web.routes.common import errors
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api", tags=["familiar"], dependencies=[Depends(csrf_protect)])
IdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="id (32 hex)")]
NameQuery = Annotated[Name, Query(description="the person's name")]
NO_SUCH = "no such person or face in this household"


def _service(services: WebServices) -> FamiliarFaces:
    if services.familiar is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "familiar faces need media encrypted at rest on this box"
        )
    return services.familiar


def _people(familiar: FamiliarFaces, household_id: int) -> list[PersonOut]:
    return [
        person_out(p, [FaceOut(id=f.id, source=f.source, created=f.created)
                       for f in familiar.faces(household_id, p.id)])
        for p in familiar.people(household_id)
    ]  # fmt: skip


def _state(services: WebServices, household_id: int) -> FamiliarOut:
    familiar = services.familiar
    if familiar is None:
        return FamiliarOut(available=False, enabled=False, people=[])
    enabled = familiar.enabled(household_id)
    return FamiliarOut(available=True, enabled=enabled, people=_people(familiar, household_id))


@router.get("/familiar", response_model=FamiliarOut, responses=errors(401, 403))
def get_familiar(owner: Owner, services: Services) -> FamiliarOut:
    """Whether familiar faces are on, and the household's enrolled people."""
    return _state(services, owner.household_id)


@router.put("/familiar", response_model=FamiliarOut, responses=errors(401, 403, 409))
def put_familiar(body: SwitchIn, owner: Owner, services: Services) -> FamiliarOut:
    """Turns familiar faces on, or off (which destroys every enrolled face at once)."""
    familiar = _service(services)
    who = owner.session.username
    if body.enabled:
        familiar.turn_on(owner.household_id, who)
    else:
        familiar.turn_off(owner.household_id, who)
    return _state(services, owner.household_id)


@router.get("/familiar/consent", response_model=ConsentTextOut, responses=errors(401, 403, 422))
def get_consent(owner: Owner, name: NameQuery) -> ConsentTextOut:
    """The consent text to show before enrolling ``name``, and the digest to send back."""
    name = " ".join(name.split())
    return ConsentTextOut(name=name, text=consent_text(name), sha256=consent_digest(name))


@router.post(
    "/familiar/people",
    response_model=PersonOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 401, 403, 404, 409, 422, 423),
)
async def enrol(body: EnrolIn, owner: Owner, services: Services) -> PersonOut:
    """Enrols a person from an event's snapshot or a photo, after the consent was confirmed."""
    familiar = _service(services)
    if (body.event_id is None) == (body.photo is None):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "give an event_id or a photo, not both")
    return await run_in_threadpool(_enrol, services, familiar, owner.household_id,
                                   owner.session.username, body)  # fmt: skip


def _enrol(
    services: WebServices, familiar: FamiliarFaces, household_id: int, who: str, body: EnrolIn
) -> PersonOut:
    snapshot = None
    if body.event_id is not None:
        # Another household's event answers as a missing one, whatever this household's switch.
        event = services.store.get_event(body.event_id)
        cameras = services.accounts.household_cameras(household_id)
        if event is None or event.camera not in cameras or event.snapshot is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such event snapshot")
        snapshot = event.snapshot
    if not familiar.enabled(household_id):
        raise HTTPException(status.HTTP_409_CONFLICT, "familiar faces are off for this household")
    if snapshot is not None:
        picture, source = read_bytes(services.media, snapshot), f"event:{body.event_id}"
    else:
        assert body.photo is not None
        try:
            picture, source = base64.b64decode(body.photo, validate=True), "upload"
        except ValueError as error:  # binascii.Error, or characters outside ASCII
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "the photo is not base64") from error
    try:
        face = services.enroller.face(decode_picture(picture), source)
        person = familiar.enrol(household_id, body.name, who, body.consent_sha256, [face])
    except FamiliarError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    return next(p for p in _people(familiar, household_id) if p.id == person.id)


@router.delete(
    "/familiar/people/{person_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 409),
)
def delete_person(owner: Owner, services: Services, person_id: IdPath) -> Response:
    """Destroys a person: their faces' keys first (crypto-shred), then every row."""
    try:
        _service(services).delete_person(owner.household_id, person_id)
    except FamiliarError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_SUCH) from error
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/familiar/faces/{face_id}/photo",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **errors(401, 403, 404, 409, 423)},
)
def face_photo(owner: Owner, services: Services, face_id: IdPath) -> Response:
    """The photo a face was enrolled from (the face and a margin)."""
    try:
        jpeg = _service(services).photo(owner.household_id, face_id)
    except FamiliarError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NO_SUCH) from error
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/events/{event_id}/people", response_model=EventPeopleOut,
            responses=errors(401, 403, 404))  # fmt: skip
def event_people(event: VisibleEvent, member: Member, services: Services) -> EventPeopleOut:
    """Who the event recognised: its household's people only."""
    familiar = services.familiar
    names = [] if familiar is None else familiar.names(member.household_id, event.id)
    return EventPeopleOut(names=names)
