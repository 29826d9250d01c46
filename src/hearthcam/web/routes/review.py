"""The annotator workbench API (/api/review): the queue, leases, the leased clip, annotations.

Annotators only (owners, members and admins get 403; TOTP is enforced for annotators at login).
A lease id that is not the caller's reads as one that does not exist. The clip is the lease's
watermarked copy of the redacted clip, streamed inline and never cached; **every response's
view-log entry is appended before its first byte is sent**, and if the append fails nothing
is sent (503). An ended lease (submitted, released, expired, revoked) answers 410. Admins read
the view log's flags at /api/review/flags.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from hearthcam.accounts import SessionInfo
from hearthcam.annotate.desk import LeaseEnded, LeaseHeld, QueueEmpty, QuotaReached, ReviewError
from hearthcam.annotate.desk import watermark_text as mark_text
from hearthcam.annotate.workbench import Keyframe, LabeledBox
from hearthcam.errors import StoreError
from hearthcam.privacy.review import report
from hearthcam.store.annotations import LeaseRecord
from hearthcam.vault.keyring import HouseholdLocked, NoMediaKey
from hearthcam.viewlog.log import Derivative, ViewEntry
from hearthcam.web.deps import NOT_FOUND, Admin, Annotator, Services, csrf_protect
from hearthcam.web.ranges import ranged_response
from hearthcam.web.review_schemas import (
    LEASE_ID_PATTERN,
    AnnotationIn,
    AnnotationOut,
    FlagOut,
    LeaseOut,
    PreLabelOut,
    QueueOut,
    ReportOut,
    TrackOut,
)
from hearthcam.web.routes.cameras import PRIVATE
from hearthcam.web.routes.common import errors
from hearthcam.web.routes.events import LOCKED, MP4
from hearthcam.web.routes.views import flags_of
from hearthcam.web.services import WebServices

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/review", tags=["review"], dependencies=[Depends(csrf_protect)])

LeaseIdPath = Annotated[str, Path(pattern=LEASE_ID_PATTERN, description="lease id (32 hex)")]
ENDED = "this lease has ended"
UNLOGGED = "the view could not be logged; nothing was sent"


def _own_lease(lease_id: LeaseIdPath, annotator: Annotator, services: Services) -> LeaseRecord:
    lease = services.desk.lease_of(annotator.user_id, lease_id)
    if lease is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return lease


OwnLease = Annotated[LeaseRecord, Depends(_own_lease)]


def _live_lease(lease: OwnLease, services: Services) -> LeaseRecord:
    if not services.desk.live(lease, services.clock()):
        raise HTTPException(status.HTTP_410_GONE, ENDED)
    return lease


LiveLease = Annotated[LeaseRecord, Depends(_live_lease)]


def lease_out(lease: LeaseRecord, session: SessionInfo, now: float) -> LeaseOut:
    """What the annotator is shown of a lease."""
    shown: dict[str, Any] = lease.shown
    return LeaseOut(
        id=lease.id,
        state=lease.state,
        clip_url=f"/api/review/leases/{lease.id}/clip",
        expires_in=max(0.0, lease.expires - now),
        watermark=mark_text(session.username, lease.id),
        time_of_day=shown.get("time_of_day"),
        duration=shown.get("duration"),
        frames=shown.get("frames"),
        fps=shown.get("fps"),
        width=shown.get("width"),
        height=shown.get("height"),
        keyframes=list(shown.get("keyframes", [])),
        tracks=[TrackOut(**t) for t in shown.get("tracks", [])],
        boxes=[PreLabelOut(**b) for b in shown.get("boxes", [])],
        suggested=shown.get("suggested"),
    )


@router.get("/queue", response_model=QueueOut, responses=errors(401, 403))
def get_queue(annotator: Annotator, services: Services) -> QueueOut:
    """How many clips wait for this annotator and how much of today's quota is left."""
    queue = services.desk.queue(annotator.user_id, services.clock())
    return QueueOut(
        available=queue.available,
        quota=queue.quota,
        taken_today=queue.taken_today,
        quota_left=queue.quota_left,
        lease_id=None if queue.active is None else queue.active.id,
    )


@router.post(
    "/leases",
    response_model=LeaseOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 503),
)
def take_lease(annotator: Annotator, services: Services) -> LeaseOut:
    """Leases the next clip (its watermarked copy is made now); 409 when the quota is reached,
    the queue is empty or a lease is held already."""
    now = services.clock()
    try:
        lease = services.desk.take(annotator.user_id, annotator.username, now)
    except (QuotaReached, QueueEmpty, LeaseHeld, LeaseEnded) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except ReviewError as error:
        log.warning("a lease could not be prepared: %s", error)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "try again later") from None
    return lease_out(lease, annotator, now)


@router.get("/leases/{lease_id}", response_model=LeaseOut, responses=errors(401, 403, 404, 422))
def get_lease(lease: OwnLease, annotator: Annotator, services: Services) -> LeaseOut:
    """One of the annotator's leases: pre-labels, time of day, duration and expiry."""
    now = services.clock()
    services.desk.live(lease, now)  # an expired one reads as expired, not active
    current = services.desk.lease_of(annotator.user_id, lease.id) or lease
    return lease_out(current, annotator, now)


def _view_entry(
    services: WebServices, lease: LeaseRecord, annotator: SessionInfo, span: tuple[int, int]
) -> ViewEntry:
    share = services.sharing.shares.get(lease.share_id)
    if share is None:
        raise HTTPException(status.HTTP_410_GONE, ENDED)
    return ViewEntry(
        viewer_id=annotator.user_id,
        viewer_role=annotator.role.value,
        household_id=share.household_id,
        clip_id=share.id,
        derivative=Derivative.REDACTED,
        time=services.clock(),
        lease_id=lease.id,
        byte_range=span,
    )


@router.get(
    "/leases/{lease_id}/clip",
    response_class=StreamingResponse,
    responses={
        200: {"content": {MP4: {}}},
        206: {"content": {MP4: {}}},
        **errors(401, 403, 404, 410, 416, 422, 423, 503),
    },
)
def lease_clip(
    lease: LiveLease, annotator: Annotator, services: Services, request: Request
) -> StreamingResponse:
    """The lease's watermarked clip, inline (HTTP ranges); logged before any byte is sent."""
    try:
        reader = services.media.open(services.desk.clip_path(lease))
    except HouseholdLocked as error:
        raise HTTPException(status.HTTP_423_LOCKED, LOCKED) from error
    except (NoMediaKey, FileNotFoundError) as error:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from error

    def log_view(first: int, last: int) -> None:
        entry = _view_entry(services, lease, annotator, (first, last))
        try:
            services.audit.append(entry)  # before any byte: a view that is not logged is not sent
        except StoreError as error:
            log.error("view log append failed, clip not sent: %s", error)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, UNLOGGED) from None

    headers = {**PRIVATE, "Content-Disposition": "inline"}
    return ranged_response(reader, request.headers.get("range"), MP4, headers, log_view)


@router.post(
    "/leases/{lease_id}/annotation",
    response_model=AnnotationOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 410, 422),
)
def annotate(body: AnnotationIn, lease: LiveLease, services: Services) -> AnnotationOut:
    """Records the verdict (and corrected keyframe boxes) and ends the lease."""
    keyframes = [
        Keyframe(k.frame, tuple(LabeledBox(b.xyxy, b.label, b.track) for b in k.boxes))
        for k in body.keyframes
    ]
    try:
        annotation_id = services.desk.submit(
            lease, body.verdict, body.reason, keyframes, services.clock()
        )
    except LeaseEnded:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from None
    return AnnotationOut(id=annotation_id, lease_id=lease.id)


@router.post(
    "/leases/{lease_id}/release",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(401, 403, 404, 410, 422),
)
def release(lease: LiveLease, services: Services) -> Response:
    """Gives the clip back unannotated (it returns to the queue for others)."""
    try:
        services.desk.release(lease, services.clock())
    except LeaseEnded:
        raise HTTPException(status.HTTP_410_GONE, ENDED) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/leases/{lease_id}/report",
    response_model=ReportOut,
    responses=errors(401, 403, 404, 410, 422),
)
def report_clip(lease: LiveLease, services: Services) -> ReportOut:
    """ "Should not be here": the clip is disposed of at once (every copy destroyed, the lease
    revoked, the owner told why) and nobody is offered it again."""
    return ReportOut(disposed=report(services.sharing, lease.share_id, services.clock()))


@router.get("/flags", response_model=list[FlagOut], responses=errors(401, 403))
def all_flags(admin: Admin, services: Services) -> list[FlagOut]:
    """Every unusual pattern in the view log (admins)."""
    return flags_of(services, None)
