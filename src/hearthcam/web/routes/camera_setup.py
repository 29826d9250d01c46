"""Adding, editing and removing cameras from the app (owner), each stream tested first.

A camera added here gets a key made by the server (``store.cameras``) and belongs to the
owner's household at once (so its alert rule and retention are the household's, as for a config
camera); the camera registry is told, and the runtime listening to it starts it without a restart.
A stream is tested by opening it and decoding a frame, in the server's bounded connect time;
nothing is saved unless every enabled stream gives a frame. Stream passwords never reach the
browser (``web.camera_urls``).

A new URL is tested only at addresses the server allows (``web.camera_hosts``, through
``web.stream_test``), each user may run ``stream_budget`` tests a minute (adding and editing
spend it too), and any failure to get a frame answers one fixed text: the form is not a port
scanner. A config camera's own URL is the admin's choice and is tested as it is.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import ValidationError

from hearthcam.config import CameraConfig
from hearthcam.errors import SourceError
from hearthcam.pipeline.source import redact_url
from hearthcam.store.cameras import CameraEntry, new_camera_key
from hearthcam.web.camera_hosts import StreamRefused
from hearthcam.web.camera_urls import hidden, url_problem, with_stored_password
from hearthcam.web.deps import Household, Owner, Services, VisibleCamera, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import (
    CameraOut,
    CameraSourceIn,
    CameraSourceOut,
    StreamTestIn,
    StreamTestOut,
)
from hearthcam.web.services import WebServices
from hearthcam.web.stream_test import GENERIC_FAILURE

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(csrf_protect)])


def _urls(camera: CameraConfig) -> tuple[str | None, str]:
    record = next((i.path for i in camera.inputs if "record" in i.roles), None)
    detect = next(i.path for i in camera.inputs if "detect" in i.roles)
    return (None if record == detect else record), detect


def _source_out(services: WebServices, key: str, camera: CameraConfig) -> CameraSourceOut:
    record, detect = _urls(camera)
    return CameraSourceOut(
        camera=key,
        name=camera.name or key,
        detect_url=hidden(detect),
        record_url=None if record is None else hidden(record),
        enabled=camera.enabled,
        from_config=services.registry.from_config(key),
    )


def _test(services: WebServices, owner: Household, url: str, *, guarded: bool) -> StreamTestOut:
    """Opens the stream (its URL already valid) and reports what came out; 429 when the user's
    tests are spent. ``guarded=False``: a config camera's own URL (see the module docstring)."""
    wait = services.stream_tests.spend(owner.session.user_id, services.clock())
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many stream tests; try again in a minute",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    try:
        info = services.probe(url, guarded=guarded)
    except StreamRefused as error:
        return StreamTestOut(ok=False, error=str(error))
    except SourceError as error:
        log.info("stream test of %s failed: %s", redact_url(url), error)
        return StreamTestOut(ok=False, error=GENERIC_FAILURE)
    return StreamTestOut(
        ok=True, codec=info.codec, width=info.width, height=info.height, fps=info.fps
    )


def _host_problem(services: WebServices, url: str) -> str | None:
    """Why the URL's host may not be an app camera's (``web.camera_hosts``); None if it may."""
    host = urlsplit(url).hostname
    if host is None:
        return None  # /dev/videoN
    try:
        services.camera_hosts.vetted(host)
    except StreamRefused as error:
        return str(error)
    return None


def _checked_entry(
    services: WebServices,
    owner: Household,
    body: CameraSourceIn,
    current: CameraConfig | None,
    *,
    from_config: bool = False,
) -> CameraEntry:
    """The entry to store, with hidden passwords restored; 422 naming the field whose stream
    does not work (an enabled camera's streams are all tested) or may not be used."""
    old_record, old_detect = _urls(current) if current is not None else (None, None)
    detect = with_stored_password(body.detect_url, old_detect)
    record = None if body.record_url in (None, "") else body.record_url
    if record is not None:
        record = with_stored_password(record, old_record)
    for field, url in (("detect_url", detect), ("record_url", record)):
        if url is None:
            continue
        # A URL the camera already has stays allowed (the config may name a file or device).
        kept = url in (old_record, old_detect)
        problem = None if kept else url_problem(url)
        if problem is None and not (kept and from_config):
            problem = _host_problem(services, url)  # a switched-off camera too: no connection
        if problem is None and body.enabled:
            problem = _test(services, owner, url, guarded=not (kept and from_config)).error
        if problem is not None:
            raise HTTPException(422, f"{field}: {problem}")
    return CameraEntry(body.name, record, detect, body.enabled)


def _saved(
    services: WebServices, key: str, entry: CameraEntry, household: int | None = None
) -> CameraConfig:
    """Stores the entry and tells the registry (the runtime starts the camera); a new camera
    joins ``household`` first, so its first frames are already sealed to it and its events
    follow that household's alert rule and retention."""
    try:
        services.registry.with_entry(key, entry)  # a valid camera before anything is stored
    except ValidationError as error:
        raise HTTPException(422, f"not a valid camera: {error.errors()[0]['msg']}") from error
    if household is not None:
        services.accounts.assign_camera(key, household)
    services.camera_entries.save(key, entry, services.clock())
    return services.registry.put(key, entry)


@router.post("/test", response_model=StreamTestOut, responses=errors(401, 403, 422, 429))
def test_stream(body: StreamTestIn, owner: Owner, services: Services) -> StreamTestOut:
    """Opens a stream and decodes one frame (nothing is saved)."""
    stored = None
    if body.camera is not None and body.camera in owner.cameras:
        camera = services.cameras().get(body.camera)
        if camera is not None:
            stored = next((i.path for i in camera.inputs if hidden(i.path) == body.url), None)
    url = with_stored_password(body.url, stored)
    problem = None if url == stored else url_problem(url)
    if problem is not None:
        return StreamTestOut(ok=False, error=problem)
    kept = url == stored and body.camera is not None and services.registry.from_config(body.camera)
    return _test(services, owner, url, guarded=not kept)


@router.post(
    "",
    response_model=CameraOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 422, 429),
)
def add_camera(body: CameraSourceIn, owner: Owner, services: Services) -> CameraOut:
    """Adds a camera to the household once its streams work; it starts recording at once."""
    entry = _checked_entry(services, owner, body, None)
    key = new_camera_key()
    _saved(services, key, entry, owner.household_id)
    return CameraOut(
        name=key,
        display_name=entry.name,
        mse_url=f"/api/live/{key}/mse",
        mjpeg_url=f"/api/live/{key}/mjpeg",
        snapshot_url=f"/api/cameras/{key}/snapshot",
    )


@router.get(
    "/{camera}/source", response_model=CameraSourceOut, responses=errors(401, 403, 404, 422)
)
def get_source(camera: VisibleCamera, owner: Owner, services: Services) -> CameraSourceOut:
    """The camera's name and streams for the edit form (owner; passwords hidden)."""
    config = services.cameras().get(camera)
    if config is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    return _source_out(services, camera, config)


@router.put(
    "/{camera}/source",
    response_model=CameraSourceOut,
    responses=errors(401, 403, 404, 422, 429),
)
def put_source(
    body: CameraSourceIn, camera: VisibleCamera, owner: Owner, services: Services
) -> CameraSourceOut:
    """Changes the camera's name, streams or on/off switch once its streams work; the camera
    restarts with them (its open event ends)."""
    current = services.cameras().get(camera)
    if current is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    entry = _checked_entry(
        services, owner, body, current, from_config=services.registry.from_config(camera)
    )
    return _source_out(services, camera, _saved(services, camera, entry))


@router.delete(
    "/{camera}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 409, 422),
)
def remove_camera(camera: VisibleCamera, owner: Owner, services: Services) -> Response:
    """Removes a camera added in the app: it stops; its events stay until deleted or expired.
    A camera from the config file can only be switched off here."""
    if services.registry.from_config(camera):
        raise HTTPException(status.HTTP_409_CONFLICT, "set in the config file: switch it off")
    services.camera_entries.remove(camera, services.clock())
    services.registry.remove(camera)
    services.accounts.unassign_camera(camera)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
