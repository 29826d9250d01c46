"""Sharing an event's clip as feedback (owner), "My shared clips", and withdrawal in one click.

The receipt is fetched first and its digest sent back with the consent (``privacy.consent``);
the share is then checked by the machine before anyone sees a frame (``privacy.review``; the
runtime is woken through ``WebServices.on_shared``). Only owners share and withdraw, and only
their household's clips; another household's share id reads as one that does not exist.
An owner-only share's checks can be re-run (after a model update); a disposed one cannot.

A home linked to a review hub (``GET /api/hub``) may share a clip *to the hub* (``to: hub``):
its receipt names the hub, and each share shows where the hub's copy stands (``hub``); what the
hub deleted for withdrawn shares, with its signed receipts, is under ``GET /api/hub/deletions``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import ValidationError

from hearthcam.privacy.consent import SharingError
from hearthcam.privacy.review import RerunRefused, rerun
from hearthcam.store.hub_deliveries import Delivery, DeliveryState, HubDeliveryStore
from hearthcam.store.shares import ShareMove, ShareRecord, receipt_digest
from hearthcam.web.deps import NOT_FOUND, Owner, Services, VisibleEvent, csrf_protect
from hearthcam.web.routes.cameras import display_name
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import (
    HubCopyOut,
    HubLogOut,
    HubOut,
    ReceiptOut,
    ShareIn,
    ShareMoveOut,
    ShareOut,
    ShareTo,
    WithdrawalOut,
)

router = APIRouter(prefix="/api", tags=["sharing"], dependencies=[Depends(csrf_protect)])

ShareIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="share id (32 hex)")]
ClipPart = Annotated[
    int, Query(ge=1, le=1000, description="which of a long event's consecutive clips, from 1")
]


def _utc(wall: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(wall, dt.UTC)


def _move_out(move: ShareMove, services: Services) -> ShareMoveOut:
    user = None if move.by is None else services.accounts.user(move.by)
    by = None if move.by is None else (user.username if user else f"user {move.by}")
    return ShareMoveOut(
        at=_utc(move.at), event=move.event, before=move.before, after=move.after, by=by,
        note=move.note,
    )  # fmt: skip


def _copy_out(delivery: Delivery) -> HubCopyOut:
    return HubCopyOut(
        share_id=delivery.share_id, state=delivery.state.value,
        sent=None if delivery.sent is None else _utc(delivery.sent),
        updated=_utc(delivery.updated), size=delivery.size, error=delivery.error,
        receipt=delivery.deletion,
    )  # fmt: skip


def share_out(record: ShareRecord, services: Services) -> ShareOut:
    """The owner's view of a share (its receipt as stored, its history, and where the review
    hub's copy stands for a share to the hub)."""
    clip = record.receipt.get("clip", {})
    delivery = HubDeliveryStore(services.store).get(record.id)
    return ShareOut(
        id=record.id,
        event_id=record.event_id,
        camera=str(clip.get("camera") or record.camera),
        clip_start=clip.get("start"),
        status=record.status,  # one of ShareStatus, by construction
        reason=record.reason,
        shared=_utc(record.created),
        kept_until=_utc(record.expires),
        receipt=record.receipt,
        receipt_sha256=record.receipt_sha256,
        facts=record.facts,
        history=[_move_out(m, services) for m in record.history],
        hub=None if delivery is None else _copy_out(delivery),
    )


def _own_share(share_id: str, owner: Owner, services: Services) -> ShareRecord:
    record = services.sharing.shares.get(share_id)
    if record is None or record.household_id != owner.household_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return record


@router.get(
    "/events/{event_id}/share/receipt",
    response_model=ReceiptOut,
    responses=errors(401, 403, 404, 422),
)
def get_receipt(
    event: VisibleEvent,
    owner: Owner,
    services: Services,
    part: ClipPart = 1,
    to: Annotated[ShareTo, Query(description="home: this installation; hub: the review hub")] = (
        "home"
    ),
) -> ReceiptOut:
    """What sharing the event's clip ``part`` would mean, shown before the owner agrees."""
    try:
        receipt = services.sharing.receipt(
            event, display_name(services, event.camera), services.clock(), part, to == "hub"
        )
    except SharingError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    return ReceiptOut(receipt=receipt, sha256=receipt_digest(receipt))


@router.post(
    "/events/{event_id}/share",
    response_model=ShareOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 409, 422),
)
def share_event(body: ShareIn, event: VisibleEvent, owner: Owner, services: Services) -> ShareOut:
    """Shares the clip under the receipt shown (its digest); nobody sees it before the checks."""
    try:
        record = services.sharing.share(
            event,
            owner.household_id,
            owner.session.user_id,
            display_name(services, event.camera),
            body.receipt_sha256,
            services.clock(),
            body.part,
            body.to == "hub",
        )
    except SharingError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    services.on_shared()
    return share_out(record, services)


@router.get("/shares", response_model=list[ShareOut], responses=errors(401, 403))
def list_shares(owner: Owner, services: Services) -> list[ShareOut]:
    """The household's shared clips, newest first, with their receipts and where each stands."""
    return [
        share_out(r, services) for r in services.sharing.shares.of_household(owner.household_id)
    ]


@router.get("/shares/{share_id}", response_model=ShareOut, responses=errors(401, 403, 404, 422))
def get_share(share_id: ShareIdPath, owner: Owner, services: Services) -> ShareOut:
    """One shared clip of the household."""
    return share_out(_own_share(share_id, owner, services), services)


@router.post(
    "/shares/{share_id}/rerun", response_model=ShareOut, responses=errors(401, 403, 404, 409, 422)
)
def rerun_share(share_id: ShareIdPath, owner: Owner, services: Services) -> ShareOut:
    """Re-runs the machine checks of a share that failed (owner only), e.g. after a model
    update: it waits for the checks again under the same receipt. 409 for any other status (a
    disposed share's copy is destroyed: share the clip again)."""
    _own_share(share_id, owner, services)
    try:
        record = rerun(services.sharing, share_id, owner.session.user_id, services.clock())
    except RerunRefused as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    services.on_shared()
    return share_out(record, services)


@router.delete(
    "/shares/{share_id}", response_model=WithdrawalOut, responses=errors(401, 403, 404, 422)
)
def withdraw_share(share_id: ShareIdPath, owner: Owner, services: Services) -> WithdrawalOut:
    """Withdraws the share: its copies, annotations and dataset entries are deleted, models
    trained with it are told; answers what was done."""
    _own_share(share_id, owner, services)
    done = services.sharing.withdraw(share_id)
    if done is None:  # withdrawn by a concurrent request
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return WithdrawalOut(id=done.share_id, files_deleted=done.files, actions=done.actions)


@router.get("/hub", response_model=HubOut, responses=errors(401, 403))
def get_hub(owner: Owner, services: Services) -> HubOut:
    """The review hub this home can share clips with, and its operator's terms."""
    hub, log = services.sharing.hub(), hub_log_out(services.hub_log_check())
    if hub is None:
        return HubOut(linked=False, log=log)
    return HubOut(
        linked=True, address=hub.url, operator=hub.operator, annotators_in=hub.annotators_in,
        keep_days=hub.keep_days, fingerprint=hub.fingerprint, log=log,
    )  # fmt: skip


def hub_log_out(record: dict[str, Any] | None) -> HubLogOut | None:
    """The last round of checking the hub's view log (``services.hub_log_check()``)."""
    if record is None:
        return None
    try:
        return HubLogOut.model_validate({**record, "checked_at": _utc(float(record["checked_at"]))})
    except (KeyError, TypeError, ValueError, ValidationError):
        return None  # a damaged record reads as no round


@router.get("/hub/deletions", response_model=list[HubCopyOut], responses=errors(401, 403))
def hub_deletions(owner: Owner, services: Services) -> list[HubCopyOut]:
    """The hub's copies of the household's withdrawn shares, newest first: each deleted there
    (with the hub's signed receipt), gone, or still to be deleted (asked again until the hub
    answers)."""
    live = {s.id for s in services.sharing.shares.of_household(owner.household_id)}
    return [
        _copy_out(d)
        for d in HubDeliveryStore(services.store).of_household(owner.household_id)
        # A clip the hub refused to take left no copy; one its checks refused has a receipt.
        if d.share_id not in live and (d.state is not DeliveryState.REFUSED or d.deletion)
    ]
