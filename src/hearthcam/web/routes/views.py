"""The owner's "Who viewed my clips" API (/api/views): the household's view-log entries, each
with its inclusion proof against a freshly signed checkpoint, the log's public key, and the
unusual patterns that concern the household.

The page checks every proof and the checkpoint's signature itself (static/js/merkle.js), and
reads what it shows (when, what form, which lease) from the proven entry bytes, so a server
that rewrote an entry cannot show it with a ✓. Only owners: a member, an admin or an annotator
gets 403.
"""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import APIRouter, Depends

from hearthcam.errors import StoreError
from hearthcam.viewlog.flags import Anomaly, AnomalyRules, OverQuota, anomalies
from hearthcam.web.deps import Owner, Services, csrf_protect
from hearthcam.web.review_schemas import CheckpointOut, FlagOut, ViewOut, ViewsOut
from hearthcam.web.routes.common import errors
from hearthcam.web.services import WebServices

router = APIRouter(prefix="/api", tags=["views"], dependencies=[Depends(csrf_protect)])

# Flags look back this far: the quota is per UTC day, the repeated-views window a day.
FLAG_WINDOW_S = 3 * 86400


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
    events: dict[str, str] = {
        s.id: s.event_id for s in services.sharing.shares.of_household(owner.household_id)
    }
    entries = [
        ViewOut(
            index=p.logged.index,
            entry=base64.b64encode(p.logged.data).decode(),
            proof=[h.hex() for h in p.proof],
            viewer=names.get(p.logged.entry.viewer_id, ""),
            event_id=events.get(p.logged.entry.clip_id),
        )
        for p in reversed(audit.proven_entries(owner.household_id, checkpoint))
    ]
    return ViewsOut(
        public_key=base64.b64encode(key.public_raw()).decode(),
        checkpoint=CheckpointOut(
            size=checkpoint.size,
            root=checkpoint.root.hex(),
            time_ms=checkpoint.time_ms,
            signature=base64.b64encode(checkpoint.signature).decode(),
        ),
        entries=entries,
        flags=flags_of(services, owner.household_id),
    )
