"""The household's cameras and the latest picture of each."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hearthcam.live import LiveView
from hearthcam.web.deps import NOT_FOUND, Member, Services, VisibleCamera, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import CameraOut
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(csrf_protect)])

JPEG = "image/jpeg"
PRIVATE = {"Cache-Control": "no-store"}


def display_name(services: WebServices, camera: str) -> str:
    """The camera's configured display name (its key when none is set or it left the config)."""
    config = services.config.cameras.get(camera)
    return (config.name if config is not None else None) or camera


def latest_jpeg(view: LiveView) -> bytes | None:
    """The newest detect frame as JPEG, if the camera delivered one in the last seconds."""
    # A subscription is handed the newest fresh frame at once; the broadcaster keeps no encoded
    # copy while nobody watches, so this is also what makes the JPEG.
    subscription = view.mjpeg.subscribe()
    try:
        parts = subscription.drain()
    finally:
        subscription.close()
    if not parts:
        return None
    _head, separator, rest = parts[-1].data.partition(b"\r\n\r\n")
    return rest.removesuffix(b"\r\n") if separator else None


@router.get("", response_model=list[CameraOut], responses=errors(401, 403))
def list_cameras(member: Member, services: Services) -> list[CameraOut]:
    """The configured cameras the caller's household owns."""
    names = sorted(c for c in member.cameras if c in services.config.cameras)
    return [
        CameraOut(
            name=name,
            display_name=display_name(services, name),
            mse_url=f"/api/live/{name}/mse",
            mjpeg_url=f"/api/live/{name}/mjpeg",
            snapshot_url=f"/api/cameras/{name}/snapshot",
        )
        for name in names
    ]


@router.get(
    "/{camera}/snapshot",
    response_class=Response,
    responses={200: {"content": {JPEG: {}}}, **errors(401, 403, 404, 422)},
)
def camera_snapshot(camera: VisibleCamera, services: Services) -> Response:
    """The camera's latest detect frame (404 while it has none)."""
    view = services.live.get(camera)
    jpeg = None if view is None else latest_jpeg(view)
    if jpeg is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return Response(jpeg, media_type=JPEG, headers=PRIVATE)
