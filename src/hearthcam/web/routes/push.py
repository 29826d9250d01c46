"""Web Push subscriptions of the installed web app (owners and members, each their own browsers).

``GET /api/push/key`` gives the VAPID public key (the ``applicationServerKey``); the page then
subscribes through the browser's push service and stores the subscription here. Alerts go to
every subscribed browser of the household owning the camera (``alerts.webpush``). A subscription
is deleted by its own user, when the push service calls it gone, or with the user's membership.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from hearthcam.alerts.endpoints import Resolver, points_inside, resolve
from hearthcam.store.push import PushSubscription
from hearthcam.web.deps import Member, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import PushKeyOut, PushSubscriptionIn

UNPROCESSABLE = 422  # Starlette renamed the constant; the number is what clients see
router = APIRouter(prefix="/api/push", tags=["push"], dependencies=[Depends(csrf_protect)])


def _b64url(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return b""


def check_endpoint(endpoint: str, allow_local: bool, resolver: Resolver = resolve) -> None:
    """Refuses (422) an endpoint that is not a push service's https URL.

    The server POSTs to whatever a member registers, so a LAN or loopback target (the router's
    admin page, another service on this box), by name, literal or what the name resolves to, is
    refused; ``allow_local`` (the config's ``allow_http_endpoints``, for tests and self-hosted
    push services) lifts both rules.
    """
    parts = urlsplit(endpoint)
    schemes = ("https", "http") if allow_local else ("https",)
    host = parts.hostname or ""
    bad = parts.scheme not in schemes or not host or parts.username or parts.password
    if bad or (not allow_local and points_inside(host, resolver)):
        raise HTTPException(UNPROCESSABLE, "endpoint: expected the push service's https URL")


def check_keys(p256dh: str, auth: str) -> None:
    """Refuses (422) keys that are not an uncompressed P-256 point and a 16-byte secret."""
    point, secret = _b64url(p256dh), _b64url(auth)
    try:
        on_curve = len(point) == 65 and point[0] == 4
        if on_curve:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        on_curve = False
    if not on_curve or len(secret) != 16:
        raise HTTPException(
            UNPROCESSABLE,
            "keys: expected p256dh (65-byte P-256 point) and auth (16 bytes), base64url",
        )


def _enabled(services: Services) -> str:
    if services.push_key is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "web push is turned off on this server")
    return services.push_key


@router.get("/key", response_model=PushKeyOut, responses=errors(401, 403, 404))
def push_key(member: Member, services: Services) -> PushKeyOut:
    """The VAPID public key browsers subscribe with."""
    return PushKeyOut(public_key=_enabled(services))


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_class=Response,
    responses=errors(401, 403, 404, 422),
)
def subscribe(body: PushSubscriptionIn, member: Member, services: Services) -> Response:
    """Stores this browser's subscription for the logged-in user (replacing an older one)."""
    _enabled(services)
    allow_local = services.config.alerts.web_push.allow_http_endpoints
    check_endpoint(body.endpoint, allow_local, services.resolve_host)
    check_keys(body.keys.p256dh, body.keys.auth)
    subscription = PushSubscription(
        member.session.user_id, member.household_id, body.endpoint, body.keys.p256dh, body.keys.auth
    )
    services.push.add(subscription, services.clock())
    return Response(status_code=status.HTTP_201_CREATED)


@router.delete(
    "/subscriptions",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 422),
)
def unsubscribe(
    endpoint: Annotated[str, Query(min_length=1, max_length=2048)],
    member: Member,
    services: Services,
) -> Response:
    """Deletes one of the user's own subscriptions; 404 if they have none at that endpoint."""
    if not services.push.remove(endpoint, member.session.user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such subscription")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
