"""``/api/events/stream``: Server-Sent Events of the household's events as they change.

``event: created|updated|deleted`` with the event's JSON (``{"id": ...}`` for a deletion). Only
events of the household's cameras are sent. A comment goes out every ``HEARTBEAT`` seconds so
proxies keep the connection and a gone client is noticed; at most every ``RECHECK`` seconds the
session is checked again, so a logout, an expiry or a removed camera ends or narrows the stream
instead of leaving it open for good.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hearthcam.web.bus import BusKind, BusMessage
from hearthcam.web.deps import (
    Household,
    Member,
    Services,
    csrf_protect,
    household_for_token,
    session_token,
)
from hearthcam.web.routes.cameras import display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import EventOut
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/events", tags=["events"], dependencies=[Depends(csrf_protect)])

EVENT_STREAM = "text/event-stream"
HEARTBEAT = 15.0
RECHECK = 30.0


def sse_frame(services: WebServices, message: BusMessage) -> str:
    """One SSE message for a bus message."""
    if message.kind is BusKind.DELETED or message.event is None:
        data = json.dumps({"id": message.event_id})
    else:
        event = EventOut.of(message.event, display_name(services, message.camera))
        data = event.model_dump_json()
    return f"event: {message.kind.value}\ndata: {data}\n\n"


async def event_stream(
    services: WebServices, token: str, household: Household, heartbeat: float = HEARTBEAT
) -> AsyncIterator[str]:
    """The SSE body: the household's event changes until the client or the session goes."""
    subscription = services.bus.subscribe()
    cameras = household.cameras
    recheck_at = time.monotonic() + RECHECK
    try:
        yield "retry: 3000\n\n"
        while not subscription.closed:
            message = await subscription.next(heartbeat)
            if message is None:
                yield ": keep-alive\n\n"
            elif message.camera in cameras:
                yield sse_frame(services, message)
            if time.monotonic() >= recheck_at:
                current = await run_in_threadpool(household_for_token, services, token)
                if current is None or current.household_id != household.household_id:
                    return
                cameras, recheck_at = current.cameras, time.monotonic() + RECHECK
    finally:
        subscription.close()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {EVENT_STREAM: {}}}, **errors(401, 403)},
)
async def events_stream(request: Request, member: Member, services: Services) -> StreamingResponse:
    """Server-Sent Events: created, updated and deleted events of the household."""
    token = session_token(request) or ""
    return StreamingResponse(
        event_stream(services, token, member, HEARTBEAT),
        media_type=EVENT_STREAM,
        # no-transform/X-Accel-Buffering: a buffering proxy would hold events back.
        headers={"Cache-Control": "no-store, no-transform", "X-Accel-Buffering": "no"},
    )
