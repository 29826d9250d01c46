"""Events of the caller's household: the timeline, one event, its clip and snapshot, deletion.

Media are served only from the paths the pipeline recorded in the event's row, and only if they
lie inside the data directory; no path is ever built from a request. A deleted event's files are
gone from disk before the API stops listing it (``store.media.delete_event_media``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import FileResponse

from hearthcam.store.event_query import EventFilter, camera_events, events_by_id
from hearthcam.store.media import delete_event_media
from hearthcam.web.deps import NOT_FOUND, Member, Services, VisibleEvent, csrf_protect
from hearthcam.web.routes.cameras import JPEG, PRIVATE, display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import (
    BulkDeleteIn,
    BulkDeleteOut,
    EventDetailOut,
    EventOut,
    EventQuery,
)

router = APIRouter(prefix="/api/events", tags=["events"], dependencies=[Depends(csrf_protect)])

MP4 = "video/mp4"


def media_file(recorded: Path | None, data_dir: Path) -> Path:
    """A recorded media path if it is a file inside the data directory; 404 otherwise."""
    if recorded is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    resolved = recorded.resolve()
    if not resolved.is_relative_to(data_dir.resolve()) or not resolved.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return resolved


@router.get("", response_model=list[EventOut], responses=errors(401, 403, 422))
def list_events(
    member: Member, services: Services, query: Annotated[EventQuery, Query()]
) -> list[EventOut]:
    """The household's events, newest first (a camera it does not own lists nothing)."""
    wanted = EventFilter(query.camera, query.verdict, query.since, query.until, query.limit)
    events = camera_events(services.store, member.cameras, wanted)
    return [EventOut.of(e, display_name(services, e.camera)) for e in events]


@router.post("/delete", response_model=BulkDeleteOut, responses=errors(401, 403, 422))
def delete_events(body: BulkDeleteIn, member: Member, services: Services) -> BulkDeleteOut:
    """Deletes the listed events the caller may see, files first; others are not counted."""
    deleted = 0
    for event in events_by_id(services.store, set(body.ids), member.cameras):
        if delete_event_media(services.store, event.id, services.data_dir):
            services.bus.deleted(event.id, event.camera)
            deleted += 1
    return BulkDeleteOut(deleted=deleted)


@router.get("/{event_id}", response_model=EventDetailOut, responses=errors(401, 403, 404, 422))
def get_event(event: VisibleEvent, services: Services) -> EventDetailOut:
    """One event with the objects followed in it."""
    return EventDetailOut.detail(event, display_name(services, event.camera))


@router.get(
    "/{event_id}/clip",
    response_class=FileResponse,
    responses={200: {"content": {MP4: {}}}, 206: {"content": {MP4: {}}}, **errors(401, 403, 404)},
)
def event_clip(event: VisibleEvent, services: Services, download: bool = False) -> FileResponse:
    """The event's clip; supports Range requests (206) for seeking; ``download=1`` attaches."""
    path = media_file(event.clip, services.data_dir)
    when = dt.datetime.fromtimestamp(event.wall_start, dt.UTC).strftime("%Y%m%d-%H%M%S")
    return FileResponse(
        path,
        media_type=MP4,
        filename=f"{event.camera}-{when}.mp4",
        content_disposition_type="attachment" if download else "inline",
        headers=PRIVATE,
    )


@router.get(
    "/{event_id}/snapshot",
    response_class=FileResponse,
    responses={200: {"content": {JPEG: {}}}, **errors(401, 403, 404)},
)
def event_snapshot(event: VisibleEvent, services: Services) -> FileResponse:
    """The event's snapshot."""
    return FileResponse(
        media_file(event.snapshot, services.data_dir), media_type=JPEG, headers=PRIVATE
    )


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404),
)
def delete_event(event: VisibleEvent, services: Services) -> Response:
    """Deletes the event: clip, snapshot and every derivative from disk, then its row."""
    if delete_event_media(services.store, event.id, services.data_dir):
        services.bus.deleted(event.id, event.camera)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
