"""The household's run-time settings (owner): home/away mode, the alert rule of each mode and
retention hours per verdict; and the box's storage condition (free space, the floor, what
retention did last, whether the disk is full).

Stored per household in the database (``store.settings``); the runtime reads them from there.
"""

from __future__ import annotations

import shutil

from fastapi import APIRouter, Depends

from hearthcam.config import AlertRule, ScheduleRule
from hearthcam.store.settings import HouseholdSettings
from hearthcam.types import Verdict
from hearthcam.web.deps import Owner, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import AlertRuleIO, AlertRulesIO, RetentionHours, SettingsIO
from hearthcam.web.storage_schemas import StorageOut

router = APIRouter(prefix="/api/settings", tags=["settings"], dependencies=[Depends(csrf_protect)])


def settings_out(settings: HouseholdSettings) -> SettingsIO:
    """The API form of a household's settings."""
    hours = settings.retention
    rules = {m: AlertRuleIO.model_validate(r.model_dump()) for m, r in settings.alerts.items()}
    return SettingsIO(
        mode=settings.mode,
        retention=RetentionHours(
            threat=hours[Verdict.THREAT],
            pet=hours[Verdict.PET],
            vehicle=hours[Verdict.VEHICLE],
            motion=hours[Verdict.MOTION],
        ),
        alerts=AlertRulesIO(home=rules["home"], away=rules["away"]),
    )


def _rule(rule: AlertRuleIO) -> AlertRule:
    # Duplicates are dropped; the order the owner gave is kept.
    return AlertRule(
        verdicts=list(dict.fromkeys(rule.verdicts)),
        zones=list(dict.fromkeys(rule.zones)),
        cameras=list(dict.fromkeys(rule.cameras)),
        schedule=[ScheduleRule(**s.model_dump()) for s in rule.schedule],
    )


@router.get("", response_model=SettingsIO, responses=errors(401, 403))
def get_settings(owner: Owner, services: Services) -> SettingsIO:
    """The household's settings (the config's values where none were saved)."""
    return settings_out(services.settings.household(owner.household_id, services.config))


@router.put("", response_model=SettingsIO, responses=errors(401, 403, 422))
def put_settings(body: SettingsIO, owner: Owner, services: Services) -> SettingsIO:
    """Saves the household's settings and returns what is stored."""
    retention = body.retention
    stored = services.settings.household(owner.household_id, services.config)
    alerts = stored.alerts
    if body.alerts is not None:
        alerts = {"home": _rule(body.alerts.home), "away": _rule(body.alerts.away)}
    settings = HouseholdSettings(
        mode=body.mode,
        retention={
            Verdict.THREAT: retention.threat,
            Verdict.PET: retention.pet,
            Verdict.VEHICLE: retention.vehicle,
            Verdict.MOTION: retention.motion,
            # Not on the settings page yet: kept as stored (the config's, else the threats').
            Verdict.FAMILIAR: stored.retention.get(Verdict.FAMILIAR, retention.threat),
        },
        alerts=alerts,
    )
    services.settings.save_household(owner.household_id, settings, services.clock())
    return settings_out(services.settings.household(owner.household_id, services.config))


@router.get("/storage", response_model=StorageOut, responses=errors(401, 403))
def get_storage(_owner: Owner, services: Services) -> StorageOut:
    """Free space now, the floor, what retention did last and whether the disk is full."""
    usage = shutil.disk_usage(services.data_dir)
    status = services.disk.status()
    return StorageOut.of(status, usage.free, usage.total, services.clock())
