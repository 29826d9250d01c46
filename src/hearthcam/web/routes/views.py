"""The owner's "Who viewed my clips" API (/api/views): the household's view-log entries, each
with its inclusion proof against a freshly signed checkpoint, the log's public key, and the
unusual patterns that concern the household; /api/views/consistency proves a checkpoint the
page kept from an earlier visit is a prefix of today's.

The page checks every proof and the checkpoint's signature itself (static/js/merkle.js), and
reads what it shows (when, what form, which lease) from the proven entry bytes, so a server
that rewrote an entry cannot show it with a ✓; it keeps every checkpoint it verified and
raises an alarm when the log shrank or no longer extends them. The clip's camera and start
come from the share's consent receipt: a label, not part of the proof. Only owners: a member,
an admin or an annotator gets 403.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status

from hearthcam.errors import StoreError
from hearthcam.store.shares import ShareRecord
from hearthcam.viewlog.flags import Anomaly, AnomalyRules, OverQuota, anomalies
from hearthcam.web.deps import Owner, Services, csrf_protect
from hearthcam.web.review_schemas import CheckpointOut, ConsistencyOut, FlagOut, ViewOut, ViewsOut
from hearthcam.web.routes.common import errors
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api", tags=["views"], dependencies=[Depends(csrf_protect)])

# Flags look back this far: the quota is per UTC day, the repeated-views window a day.
FLAG_WINDOW_S = 3 * 86400
MAX_SIZE = 2**53 - 1  # the largest size the page (JavaScript numbers) can name exactly


def _usernames(services: WebServices) -> dict[int, str]:
    return {u.id: u.username for u in services.accounts.list_users()}


def _flag(flag: Anomaly, names: dict[int, str], household_id: int | None) -> FlagOut | None:
    """How one flag reads to an admin (None) or to one household's owner (None if not theirs)."""
    who = names.get(flag.viewer_id, f"user {flag.viewer_id}")
    if isinstance(flag, OverQuota):
        if household_id is not None and household_id not in flag.household_ids:
            return None
        text = f"{who} viewed {flag.views} clips on {flag.day} (flagged above {flag.limit:g})"
        kind: Literal["over_quota", "repeated_household"] = "over_quota"
    else:
        if household_id is not None and flag.household_id != household_id:
            return None
        hours = (flag.last - flag.first) / 3600
        whose = (
            "this household's" if household_id is not None else f"household {flag.household_id}'s"
        )
        text = f"{who} viewed {whose} clips {flag.views} times in {hours:.1f} h"
        kind = "repeated_household"
    return FlagOut(kind=kind, text=text, viewer_id=flag.viewer_id, viewer=who, views=flag.views)


def flags_of(services: WebServices, household_id: int | None) -> list[FlagOut]:
    """The view log's flags of the last days: all of them (None) or a household's."""
    review = services.config.review
    rules = AnomalyRules(
        daily_quota=review.daily_quota,
        quota_factor=review.quota_factor,
        household_views=review.household_views,
    )
    since = services.clock() - FLAG_WINDOW_S
    found = anomalies((e.entry for e in services.audit.entries(since=since)), rules)
    names = _usernames(services)
    flags = (_flag(flag, names, household_id) for flag in found)
    return [f for f in flags if f is not None]


@router.get("/views", response_model=ViewsOut, responses=errors(401, 403, 503))
def who_viewed(owner: Owner, services: Services) -> ViewsOut:
    """Every view of the household's clips by anyone but the owner, proven in the log."""
    audit = services.audit
    checkpoint = audit.checkpoint(services.clock())  # signs the log as it stands now
    key = audit.key
    if key is None:  # checkpoint() refused already; kept for the type checker
        raise StoreError("the view log was opened without its signing key")
    names = _usernames(services)
    shares = {s.id: s for s in services.sharing.shares.of_household(owner.household_id)}
    entries = []
    for p in reversed(audit.proven_entries(owner.household_id, checkpoint)):
        share = shares.get(p.logged.entry.clip_id)
        camera, start = _clip_label(share)
        entries.append(
            ViewOut(
                index=p.logged.index,
                entry=base64.b64encode(p.logged.data).decode(),
                proof=[h.hex() for h in p.proof],
                viewer=names.get(p.logged.entry.viewer_id, ""),
                event_id=None if share is None else share.event_id,
                camera=camera,
                clip_start=start,
            )
        )
    return ViewsOut(
        public_key=base64.b64encode(key.public_raw()).decode(),
        household_id=owner.household_id,
        checkpoint=CheckpointOut(
            size=checkpoint.size,
            root=checkpoint.root.hex(),
            time_ms=checkpoint.time_ms,
            signature=base64.b64encode(checkpoint.signature).decode(),
        ),
        entries=entries,
        flags=flags_of(services, owner.household_id),
    )


def _clip_label(share: ShareRecord | None) -> tuple[str | None, str | None]:
    """The shared clip's camera name and start, as its consent receipt recorded them."""
    clip = {} if share is None else share.receipt.get("clip")
    if not isinstance(clip, dict):
        return None, None
    camera, start = clip.get("camera"), clip.get("start")
    return (
        camera if isinstance(camera, str) else None,
        start if isinstance(start, str) else None,
    )


@router.get(
    "/views/consistency", response_model=ConsistencyOut, responses=errors(401, 403, 409, 503)
)
def consistency(
    owner: Owner,
    services: Services,
    first: Annotated[
        int, Query(ge=0, le=MAX_SIZE, description="the size of a checkpoint the page kept")
    ],
    second: Annotated[
        int, Query(ge=0, le=MAX_SIZE, description="the size of the log's newest checkpoint")
    ],
) -> ConsistencyOut:
    """The proof that the log of ``first`` entries is a prefix of the log of ``second``; 409
    when the log holds fewer than ``second`` entries or ``first`` is above ``second``."""
    del owner  # owners only: the proof names no entry, but the log's size is theirs to see
    try:
        proof = services.audit.consistency_proof(first, second)
    except ValueError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return ConsistencyOut(first=first, second=second, proof=[h.hex() for h in proof])
