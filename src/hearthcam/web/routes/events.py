"""Events of the caller's household: the timeline, one event, its clip and snapshot, deletion.

Media are served only from the paths the pipeline recorded in the event's row, and only if they
lie inside the data directory; no path is ever built from a request. They are read through the
media I/O (sealed files are decrypted chunk by chunk, so a Range request decrypts only what it
returns): a shredded key reads as 404, a household locked in password mode as 423. A deleted
event's files (and keys) are gone before the API stops listing it
(``store.media.delete_event_media``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from hearthcam import mp4
from hearthcam.layout import contained
from hearthcam.recordings.event_files import delete_event_media
from hearthcam.store.event_query import (
    Cursor,
    EventFilter,
    events_by_id,
    is_reviewed,
    mark_reviewed,
    set_reviewed,
    timeline,
)
from hearthcam.types import Event
from hearthcam.vault.keyring import HouseholdLocked, NoMediaKey
from hearthcam.vault.sealed import SealedError
from hearthcam.web.deps import NOT_FOUND, Member, Services, VisibleEvent, csrf_protect
from hearthcam.web.ranges import damaged, ranged_response
from hearthcam.web.routes.cameras import JPEG, PRIVATE, display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import (
    BulkDeleteIn,
    BulkDeleteOut,
    EventDetailOut,
    EventOut,
    EventQuery,
    ReviewAllIn,
    ReviewAllOut,
    ReviewedOut,
    parse_cursor,
)
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/events", tags=["events"], dependencies=[Depends(csrf_protect)])

MP4 = "video/mp4"
LOCKED: Final = "locked: the owner must log in with their password to open this media"


def media_file(recorded: Path | None, data_dir: Path) -> Path:
    """A recorded media path, links followed, if it is a file inside the data directory; 404
    otherwise (a link from inside to anything outside is outside)."""
    found = None if recorded is None else contained(recorded, data_dir)
    if found is None or not found.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return found


def media_response(
    services: WebServices,
    recorded: Path | None,
    media_type: str,
    request: Request,
    *,
    disposition: str | None = None,
) -> StreamingResponse:
    """A recorded media file (inside the data directory) with single-range support.

    404 when it is missing or its key was shredded, 423 when its household is locked, 410
    when it is damaged (a sealed chunk fails: checked before the status goes out, see
    ``web.ranges``). ``disposition`` is a full Content-Disposition value, if any.
    """
    path = media_file(recorded, services.data_dir)
    try:
        reader = services.media.open(path)
    except HouseholdLocked as error:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED) from error
    except (NoMediaKey, FileNotFoundError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from error
    except SealedError as error:  # opening checks the final chunk; a retry cannot mend it
        raise damaged(path, error) from None
    headers = dict(PRIVATE)
    if disposition is not None:
        headers["Content-Disposition"] = disposition
    return ranged_response(reader, request.headers.get("range"), media_type, headers)


@router.get("", response_model=list[EventOut], responses=errors(401, 403, 422))
def list_events(
    member: Member, services: Services, query: Annotated[EventQuery, Query()]
) -> list[EventOut]:
    """The household's events, newest first (a camera it does not own lists nothing); a page
    goes on from the ``cursor`` of the last event of the one before (``after``)."""
    after = None if query.after is None else Cursor(*parse_cursor(query.after))
    wanted = EventFilter(
        query.camera, query.verdict, query.since, query.until, query.limit,
        label=query.label, zone=query.zone, alert=query.alert, reviewed=query.reviewed,
        after=after,
    )  # fmt: skip
    listed = timeline(services.store, member.cameras, wanted)
    cameras = services.cameras()
    return [
        EventOut.of(item.event, display_name(services, item.event.camera, cameras), item.reviewed)
        for item in listed
    ]


@router.post("/reviewed", response_model=ReviewAllOut, responses=errors(401, 403, 422))
def review_all(body: ReviewAllIn, member: Member, services: Services) -> ReviewAllOut:
    """Marks reviewed every event of the household that matches the filters (every page)."""
    wanted = EventFilter(
        body.camera, body.verdict, body.since, body.until,
        label=body.label, zone=body.zone, alert=body.alert,
    )  # fmt: skip
    return ReviewAllOut(
        marked=mark_reviewed(services.store, member.cameras, wanted, services.clock())
    )


@router.post("/delete", response_model=BulkDeleteOut, responses=errors(401, 403, 422))
def delete_events(body: BulkDeleteIn, member: Member, services: Services) -> BulkDeleteOut:
    """Deletes the listed events the caller may see, files first; others are not counted."""
    deleted = 0
    for event in events_by_id(services.store, set(body.ids), member.cameras):
        services.sharing.withdraw_event(event.id)  # a shared copy is a derivative too
        if delete_event_media(services.store, event.id, services.data_dir, services.media):
            services.bus.deleted(event.id, event.camera)
            deleted += 1
    return BulkDeleteOut(deleted=deleted)


@router.get("/{event_id}", response_model=EventDetailOut, responses=errors(401, 403, 404, 422))
def get_event(event: VisibleEvent, services: Services) -> EventDetailOut:
    """One event with the objects followed in it (grouped by label, parked vehicles apart) and
    its clip's own duration."""
    return EventDetailOut.detail(
        event,
        display_name(services, event.camera),
        reviewed=is_reviewed(services.store, event.id),
        clip_duration=clip_seconds(services, event),
    )


def clip_seconds(services: WebServices, event: Event) -> float | None:
    """The duration the clips' files say they have, all parts together (each ``mvhd``: a clip
    starts at a keyframe before the event, so it is not the event's span); None if one cannot
    be read (no clip, a locked household, a shredded key, damaged media)."""
    total = 0.0
    for clip in event.clips:
        path = contained(clip, services.data_dir)
        if path is None or not path.is_file():
            return None
        try:
            with services.media.open(path) as reader:
                seconds = mp4.duration(reader)
        except (HouseholdLocked, NoMediaKey, SealedError, OSError, mp4.BoxError):
            return None
        if seconds is None:
            return None
        total += seconds
    return total if event.clips else None


@router.put(
    "/{event_id}/reviewed", response_model=ReviewedOut, responses=errors(401, 403, 404, 422)
)
def review_event(event: VisibleEvent, services: Services) -> ReviewedOut:
    """Marks the event reviewed (for everyone in its household)."""
    set_reviewed(services.store, event.id, True, services.clock())
    return ReviewedOut(reviewed=True)


@router.delete(
    "/{event_id}/reviewed", response_model=ReviewedOut, responses=errors(401, 403, 404, 422)
)
def unreview_event(event: VisibleEvent, services: Services) -> ReviewedOut:
    """Marks the event not reviewed again."""
    set_reviewed(services.store, event.id, False, services.clock())
    return ReviewedOut(reviewed=False)


@router.get(
    "/{event_id}/clip",
    response_class=StreamingResponse,
    responses={
        200: {"content": {MP4: {}}},
        206: {"content": {MP4: {}}},
        **errors(401, 403, 404, 410, 416, 423),
    },
)
def event_clip(
    event: VisibleEvent,
    services: Services,
    request: Request,
    download: bool = False,
    part: Annotated[int, Query(ge=1, le=1000, description="which of the event's clips")] = 1,
) -> StreamingResponse:
    """The event's clip (``part``: which of a long event's consecutive clips, from 1); supports
    Range requests (206) for seeking; ``download=1`` attaches."""
    clips = event.clips
    if part > len(clips):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    when = dt.datetime.fromtimestamp(event.wall_start, dt.UTC).strftime("%Y%m%d-%H%M%S")
    name = f"{event.camera}-{when}" + ("" if part == 1 else f"-{part}") + ".mp4"
    kind = "attachment" if download else "inline"
    # As Starlette's FileResponse: a plain name when it needs no escaping.
    quoted = quote(name)
    label = f'filename="{name}"' if quoted == name else f"filename*=utf-8''{quoted}"
    return media_response(services, clips[part - 1], MP4, request, disposition=f"{kind}; {label}")


@router.get(
    "/{event_id}/snapshot",
    response_class=StreamingResponse,
    responses={200: {"content": {JPEG: {}}}, **errors(401, 403, 404, 410, 416, 423)},
)
def event_snapshot(event: VisibleEvent, services: Services, request: Request) -> StreamingResponse:
    """The event's snapshot."""
    return media_response(services, event.snapshot, JPEG, request)


@router.delete(
    "/{event_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404),
)
def delete_event(event: VisibleEvent, services: Services) -> Response:
    """Deletes the event: clip, snapshot and every derivative from disk (shared copies too:
    their shares are withdrawn), then its row."""
    services.sharing.withdraw_event(event.id)
    if delete_event_media(services.store, event.id, services.data_dir, services.media):
        services.bus.deleted(event.id, event.camera)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
