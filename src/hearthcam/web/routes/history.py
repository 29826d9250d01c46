"""A camera's history (24/7 playback): what was recorded when, and the recording itself.

``GET /api/history/{camera}`` lists the recorded spans (segments merged where one follows the
next), the gaps the recorder noted and the events as markers with their verdicts.
``GET /api/history/{camera}/media`` streams a window of the recording as one fragmented MP4
for Media Source Extensions (``recordings.playback``): the init segment, then the fragments of
successive segments on the page's timeline, decrypted through the media I/O.

Who may see it follows the event clips (``routes.events``): the household's owner and members,
with no view-log entry (the view log records views by anyone outside the household; a
recording is never shared). Another household's camera, or one that does not exist, is the
same 404 as every camera API. A locked household (password mode) answers 423, a shredded key
or a file retention took 404, a damaged first segment 410; all before any byte is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from hearthcam.mp4 import BoxError
from hearthcam.recordings.playback import Playback, Window, open_playback
from hearthcam.store.history import event_markers, recorded_spans
from hearthcam.vault.keyring import HouseholdLocked, NoMediaKey
from hearthcam.vault.sealed import SealedError
from hearthcam.web.deps import NOT_FOUND, Services, VisibleCamera, csrf_protect
from hearthcam.web.history_schemas import (
    MAX_MARKERS,
    MAX_RANGE_S,
    GapOut,
    HistoryOut,
    HistoryQuery,
    MarkerOut,
    MediaQuery,
    SpanOut,
)
from hearthcam.web.ranges import damaged
from hearthcam.web.routes.cameras import PRIVATE, display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.routes.events import LOCKED, MP4

router = APIRouter(prefix="/api/history", tags=["history"], dependencies=[Depends(csrf_protect)])

DAY_S = 86400.0
NOTHING = "nothing was recorded then"


@router.get("/{camera}", response_model=HistoryOut, responses=errors(401, 403, 404, 422))
def camera_history(
    camera: VisibleCamera, services: Services, query: Annotated[HistoryQuery, Query()]
) -> HistoryOut:
    """The camera's recorded spans, gaps and events between ``since`` and ``until`` (unix
    seconds; default the ``hours`` before now, 24 unless given; at most 8 days)."""
    now = services.clock()
    until = now if query.until is None else query.until
    back = DAY_S if query.hours is None else query.hours * 3600
    since = until - back if query.since is None else query.since
    if not since < until <= since + MAX_RANGE_S:
        days = MAX_RANGE_S // 86400
        raise HTTPException(422, f"until must be after since, by at most {days} days")
    gaps = [g for g in services.store.gaps(camera, since_wall=since) if g.start < until]
    return HistoryOut(
        camera=camera,
        camera_name=display_name(services, camera),
        since=since,
        until=until,
        server_time=now,
        spans=[SpanOut.of(s) for s in recorded_spans(services.store, camera, since, until)],
        gaps=[GapOut.of(g) for g in gaps],
        events=[
            MarkerOut.of(m)
            for m in event_markers(services.store, camera, since, until, MAX_MARKERS)
        ],
        media_url=f"/api/history/{camera}/media",
    )


def _open(services: Services, camera: str, query: MediaQuery) -> Playback:
    segments = services.store.segments_between(camera, query.since, query.until)
    if not segments:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOTHING)
    origin = query.since if query.origin is None else query.origin
    window = Window(query.since, query.until, origin)
    try:
        return open_playback(services.media, segments, window)
    except HouseholdLocked as error:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED) from error
    except (NoMediaKey, FileNotFoundError) as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from error
    except SealedError as error:
        raise damaged(segments[0].path, error) from None
    except BoxError as error:
        raise damaged(segments[0].path, SealedError(str(error))) from None


@router.get(
    "/{camera}/media",
    response_class=StreamingResponse,
    responses={200: {"content": {MP4: {}}}, **errors(401, 403, 404, 410, 422, 423)},
)
def camera_media(
    camera: VisibleCamera, services: Services, query: Annotated[MediaQuery, Query()]
) -> StreamingResponse:
    """The recording of ``[since, until)`` (at most 15 min) as one fMP4 stream for MSE; its
    Content-Type carries the codecs for ``addSourceBuffer``. Media time is wall time minus
    ``origin``; each fragment that overlaps the window is sent whole (from its keyframe)."""
    playback = _open(services, camera, query)
    # The background task closes the first segment if the body was never read (a client gone).
    return StreamingResponse(
        playback.chunks(),
        media_type=playback.mime,
        headers=PRIVATE,
        background=BackgroundTask(playback.close),
    )
