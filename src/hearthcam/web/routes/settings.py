"""The household's run-time settings: home/away mode and retention hours per verdict (owner).

Stored per household in the database (``store.settings``); the runtime reads them from there.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hearthcam.store.settings import HouseholdSettings
from hearthcam.types import Verdict
from hearthcam.web.deps import Owner, Services, csrf_protect
from hearthcam.web.routes.common import errors
from hearthcam.web.schemas import RetentionHours, SettingsIO

router = APIRouter(prefix="/api/settings", tags=["settings"], dependencies=[Depends(csrf_protect)])


def settings_out(settings: HouseholdSettings) -> SettingsIO:
    """The API form of a household's settings."""
    hours = settings.retention
    return SettingsIO(
        mode=settings.mode,
        retention=RetentionHours(
            threat=hours[Verdict.THREAT],
            pet=hours[Verdict.PET],
            vehicle=hours[Verdict.VEHICLE],
            motion=hours[Verdict.MOTION],
        ),
    )


@router.get("", response_model=SettingsIO, responses=errors(401, 403))
def get_settings(owner: Owner, services: Services) -> SettingsIO:
    """The household's settings (the config's values where none were saved)."""
    return settings_out(services.settings.household(owner.household_id, services.config))


@router.put("", response_model=SettingsIO, responses=errors(401, 403, 422))
def put_settings(body: SettingsIO, owner: Owner, services: Services) -> SettingsIO:
    """Saves the household's settings and returns what is stored."""
    retention = body.retention
    settings = HouseholdSettings(
        mode=body.mode,
        retention={
            Verdict.THREAT: retention.threat,
            Verdict.PET: retention.pet,
            Verdict.VEHICLE: retention.vehicle,
            Verdict.MOTION: retention.motion,
        },
    )
    services.settings.save_household(owner.household_id, settings, services.clock())
    return settings_out(services.settings.household(owner.household_id, services.config))
