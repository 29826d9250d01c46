"""The household's cameras, the latest picture and the health of each, and their masks and
zones."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Depends, HTTPException, Response, status

from hearthcam.config import CameraConfig, Polygon, ZoneConfig
from hearthcam.live import LiveSource
from hearthcam.pipeline.health import CameraHealth
from hearthcam.store.settings import CameraGeometry, save_camera_geometry
from hearthcam.web.deps import NOT_FOUND, Member, Owner, Services, VisibleCamera, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import CameraHealthOut, CameraOut, GeometryIO, PolygonIO, ZoneIO
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api/cameras", tags=["cameras"], dependencies=[Depends(csrf_protect)])

JPEG = "image/jpeg"
PRIVATE = {"Cache-Control": "no-store"}


def display_name(
    services: WebServices, camera: str, cameras: Mapping[str, CameraConfig] | None = None
) -> str:
    """The camera's configured display name (its key when none is set or it left the config).

    ``cameras`` is ``services.cameras()`` when the caller already has it (one lookup per
    request, not one per event of a timeline)."""
    config = (services.cameras() if cameras is None else cameras).get(camera)
    return (config.name if config is not None else None) or camera


def latest_jpeg(view: LiveSource) -> bytes | None:
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
    known = services.cameras()
    names = sorted(c for c in member.cameras if c in known)
    return [
        CameraOut(
            name=name,
            display_name=known[name].name or name,
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


def geometry_out(geometry: CameraGeometry) -> GeometryIO:
    """The API form of a camera's masks and zones."""
    return GeometryIO(
        mask=[PolygonIO(points=[list(p) for p in m.points]) for m in geometry.mask],
        zones=[
            ZoneIO(name=name, points=[list(p) for p in z.coordinates.points], objects=z.objects)
            for name, z in geometry.zones.items()
        ],
    )


@router.get(
    "/{camera}/health", response_model=CameraHealthOut, responses=errors(401, 403, 404, 422)
)
def camera_health(camera: VisibleCamera, services: Services) -> CameraHealthOut:
    """How the camera is doing: its connection, frames in, analysed and dropped, analysis
    errors, the last frame, reconnects and the last error with its repeats."""
    health = services.health(camera) or CameraHealth.off(camera)
    return CameraHealthOut.of(health, services.clock())


@router.get("/{camera}/geometry", response_model=GeometryIO, responses=errors(401, 403, 404, 422))
def get_geometry(camera: VisibleCamera, services: Services) -> GeometryIO:
    """The camera's motion masks and zones (relative 0..1 of the frame)."""
    return geometry_out(services.registry.geometry(camera))


@router.put("/{camera}/geometry", response_model=GeometryIO, responses=errors(401, 403, 404, 422))
def put_geometry(
    body: GeometryIO, camera: VisibleCamera, owner: Owner, services: Services
) -> GeometryIO:
    """Replaces the camera's masks and zones (owner); the pipeline takes them at its next frame."""
    names = [z.name for z in body.zones]
    if len(set(names)) != len(names):
        raise HTTPException(422, "zones: every zone needs its own name")
    geometry = CameraGeometry(
        mask=[Polygon(points=[(x, y) for x, y in m.points]) for m in body.mask],
        zones={
            z.name: ZoneConfig(
                coordinates=Polygon(points=[(x, y) for x, y in z.points]), objects=z.objects
            )
            for z in body.zones
        },
    )
    save_camera_geometry(services.settings, camera, geometry, services.clock())
    services.registry.draw(camera, geometry)
    return geometry_out(geometry)
