"""Exports of the caller's household: ask for a time range (or an event +- seconds) as MP4, see
its progress, download it (Range requests, like clips), delete it; the owner reads the audit.

An export is created queued (202) and rendered by the export worker (``hearthcam.exports``); the
list shows its progress. Another household's export, and an export of a camera the caller's
household does not own, answer 404 like one that does not exist. Every download that starts at
byte 0 is written to the export audit before its bytes go (a player's later range requests are
the same download).
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse

from hearthcam.exports import ExportRefused, event_range
from hearthcam.exports.jobs import Requester
from hearthcam.vault.keyring import HouseholdLocked, NoMediaKey
from hearthcam.vault.sealed import SealedError
from hearthcam.web.deps import (
    NOT_FOUND,
    Household,
    Member,
    Owner,
    Services,
    VisibleExport,
    csrf_protect,
)
from hearthcam.web.export_schemas import ExportAuditOut, ExportIn, ExportOut
from hearthcam.web.ranges import damaged, ranged_response
from hearthcam.web.routes.cameras import PRIVATE, display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.routes.events import LOCKED, MP4, media_file

router = APIRouter(prefix="/api/exports", tags=["exports"], dependencies=[Depends(csrf_protect)])

PENDING: Final = "this export is not ready yet"


def requester(member: Household) -> Requester:
    """The caller as the export jobs and their audit know them."""
    session = member.session
    return Requester(session.user_id, session.username, member.household_id)


@router.get("", response_model=list[ExportOut], responses=errors(401, 403))
def list_exports(member: Member, services: Services) -> list[ExportOut]:
    """The household's exports, newest first, each with its state and progress."""
    cameras = services.cameras()
    return [
        ExportOut.of(r, display_name(services, r.camera, cameras))
        for r in services.exports.rows.of_household(member.household_id)
        if r.camera in member.cameras
    ]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportOut,
    responses=errors(401, 403, 404, 422),
)
def create_export(body: ExportIn, member: Member, services: Services) -> ExportOut:
    """Queues an export of a camera's range, or of an event with seconds around it.

    422 says why one cannot be made: the end is not after the start, the range is longer than
    ``exports.max_minutes``, lies in the future, or no footage of it was recorded (or kept).
    """
    camera, start, end = body.camera, body.start, body.end
    if body.event_id is not None:
        event = services.store.get_event(body.event_id)
        if event is None or event.camera not in member.cameras:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        if camera is not None and camera != event.camera:
            raise HTTPException(422, "that event is of another camera")
        camera = event.camera
        start, end = event_range(event, body.before, body.after)
    if camera is None or start is None or end is None or camera not in member.cameras:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    try:
        record = services.exports.create(requester(member), camera, start, end, body.event_id)
    except ExportRefused as refused:
        raise HTTPException(422, str(refused)) from None
    return ExportOut.of(record, display_name(services, camera))


@router.get("/audit", response_model=list[ExportAuditOut], responses=errors(401, 403))
def export_audit(owner: Owner, services: Services) -> list[ExportAuditOut]:
    """Who created, downloaded and deleted which export of the household (and which expired),
    newest first: the owner's to read."""
    return [
        ExportAuditOut.of(a) for a in services.exports.rows.audit_of_household(owner.household_id)
    ]


@router.get("/{export_id}", response_model=ExportOut, responses=errors(401, 403, 404, 422))
def get_export(record: VisibleExport, services: Services) -> ExportOut:
    """One export and where it stands."""
    return ExportOut.of(record, display_name(services, record.camera))


@router.get(
    "/{export_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"content": {MP4: {}}},
        206: {"content": {MP4: {}}},
        **errors(401, 403, 404, 409, 410, 416, 422, 423),
    },
)
def download_export(
    record: VisibleExport, member: Member, services: Services, request: Request
) -> StreamingResponse:
    """The export's MP4, as an attachment; supports Range requests (206). 409 until it is done."""
    if record.path is None:
        raise HTTPException(status.HTTP_409_CONFLICT, PENDING)
    path = media_file(record.path, services.data_dir)
    try:
        reader = services.media.open(path)
    except HouseholdLocked as error:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED) from error
    except (NoMediaKey, FileNotFoundError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from error
    except SealedError as error:
        raise damaged(path, error) from None
    when = dt.datetime.fromtimestamp(record.start, dt.UTC).strftime("%Y%m%d-%H%M%S")
    minutes = max(1, round((record.end - record.start) / 60))
    name = f"{record.camera}-{when}-{minutes}min.mp4"
    quoted = quote(name)
    label = f'filename="{name}"' if quoted == name else f"filename*=utf-8''{quoted}"
    headers = {**PRIVATE, "Content-Disposition": f"attachment; {label}"}

    def audited(first: int, _last: int) -> None:
        if first == 0:
            services.exports.downloaded(record, requester(member))

    return ranged_response(reader, request.headers.get("range"), MP4, headers, audited)


@router.delete(
    "/{export_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 422),
)
def delete_export(record: VisibleExport, member: Member, services: Services) -> Response:
    """Deletes the export for real: its file's key, its file, then its row (a running one
    stops)."""
    services.exports.delete(record, requester(member))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
