"""Live view, authorized like clips: fMP4 over a WebSocket for MSE, MJPEG as the fallback.

WebSocket protocol (``/api/live/{camera}/mse``): a text message ``{"mime": "..."}`` before every
init segment (the first, and again if the camera reconnects with another stream: the page then
calls ``SourceBuffer.changeType``), then binary messages: the init segment, then fragments.
Messages from the client are ignored. The handshake is refused (HTTP 401/403/404, as for a
clip) before it is accepted when the caller may not watch, and refused with 403 when the Origin
is not this server. Long-lived views re-check the session every ``RECHECK`` seconds.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from hearthcam.live import ChunkKind, LiveSource, Subscription, chunks
from hearthcam.live.mjpeg import CONTENT_TYPE as MJPEG
from hearthcam.web.deps import (
    NOT_FOUND,
    Household,
    Services,
    VisibleCamera,
    csrf_protect,
    household_for_token,
    session_token,
)
from hearthcam.web.routes.common import errors
from hearthcam.web.services import WebServices
from hearthcam.web.system_schemas import OverlayOut

router = APIRouter(prefix="/api/live", tags=["live"], dependencies=[Depends(csrf_protect)])

RECHECK = 30.0
POLICY_VIOLATION = 1008  # WebSocket close code: the session no longer allows this


def live_view(services: WebServices, camera: str) -> LiveSource:
    """The camera's live views; 404 (as for a camera not owned) when it has none."""
    view = services.live.get(camera)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return view


class AccessCheck:
    """Re-checks, at most every ``RECHECK`` seconds, that a session still sees a camera."""

    def __init__(self, services: WebServices, token: str, camera: str) -> None:
        self._services, self._token, self._camera = services, token, camera
        self._next = time.monotonic() + RECHECK

    async def still_allowed(self) -> bool:
        """False once the session ended or its household lost the camera."""
        if time.monotonic() < self._next:
            return True
        self._next = time.monotonic() + RECHECK
        household: Household | None = await run_in_threadpool(
            household_for_token, self._services, self._token
        )
        return household is not None and self._camera in household.cameras


async def _pump_fmp4(websocket: WebSocket, subscription: Subscription, check: AccessCheck) -> None:
    """Sends the subscription's chunks until it closes or access ends."""
    async with contextlib.aclosing(chunks(subscription)) as stream:
        async for chunk in stream:
            if not await check.still_allowed():
                await websocket.close(POLICY_VIOLATION)
                return
            if chunk.kind is ChunkKind.INIT:
                await websocket.send_text(json.dumps({"mime": chunk.mime}))
            await websocket.send_bytes(chunk.data)
    await websocket.close()  # the camera stopped: the page reconnects


async def _until_disconnect(websocket: WebSocket) -> None:
    """Reads (and ignores) client messages until the client goes."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


@router.websocket("/{camera}/mse")
async def live_mse(websocket: WebSocket, camera: VisibleCamera, services: Services) -> None:
    """fMP4 for Media Source Extensions (see the module doc for the protocol)."""
    view = live_view(services, camera)
    check = AccessCheck(services, session_token(websocket) or "", camera)
    await websocket.accept()
    subscription = view.fmp4.subscribe()
    try:
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await _until_disconnect(websocket)
                group.cancel_scope.cancel()

            group.start_soon(watch)
            await _pump_fmp4(websocket, subscription, check)
            group.cancel_scope.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send; nothing to tell it
    finally:
        subscription.close()


async def _mjpeg_parts(subscription: Subscription, check: AccessCheck) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chunks(subscription)) as stream:
        async for chunk in stream:
            if not await check.still_allowed():
                return
            yield chunk.data


@router.get(
    "/{camera}/mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {MJPEG: {}}}, **errors(401, 403, 404, 422)},
)
async def live_mjpeg(
    request: Request, camera: VisibleCamera, services: Services
) -> StreamingResponse:
    """The detect stream as Motion JPEG (``multipart/x-mixed-replace; boundary=frame``)."""
    view = live_view(services, camera)
    # subscribe() may encode the newest frame at once: off the event loop.
    subscription = await run_in_threadpool(view.mjpeg.subscribe)
    check = AccessCheck(services, session_token(request) or "", camera)
    return StreamingResponse(
        _mjpeg_parts(subscription, check),
        media_type=MJPEG,
        headers={"Cache-Control": "no-store, no-transform", "X-Accel-Buffering": "no"},
    )


@router.get("/{camera}/overlay", response_model=OverlayOut, responses=errors(401, 403, 404, 422))
def live_overlay(camera: VisibleCamera, services: Services) -> OverlayOut:
    """What the newest analysed frame found: tracked objects and motion boxes, relative to the
    frame (the live page draws them over the picture while its overlay is on; zones are the
    camera's geometry)."""
    view = live_view(services, camera)
    return OverlayOut.of(view.overlay.latest(), services.clock())
