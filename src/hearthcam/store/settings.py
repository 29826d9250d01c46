"""Settings the owner changes at run time, stored in the database: key -> JSON.

The config file holds what the installer decides; this table holds what an owner changes from
the app, per household: the home/away mode, what alerts in each mode (verdicts, zones, times)
and how many hours events of each verdict are kept (``HouseholdSettings``). Where a household
saved nothing, the config's values apply.

How the runtime uses them (``accounts.choices.HouseholdChoices`` wires this): the alert
decision takes the rule of the mode in force for the household owning the event's camera,
and the retention sweep each household's hours for its cameras' events. A value is read at
each use, so a change takes effect at the next event or sweep without a restart.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import ValidationError
from sqlalchemy import JSON, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.config import (
    AlertRule,
    CameraConfig,
    Config,
    Polygon,
    ZoneConfig,
    in_retention_bounds,
)
from hearthcam.store.db import Base, Store
from hearthcam.types import Verdict

Mode = Literal["home", "away"]
MODES: tuple[Mode, ...] = ("home", "away")


class _SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class HouseholdSettings:
    """One household's run-time settings."""

    mode: Mode
    retention: dict[Verdict, float]  # hours events of each verdict are kept
    # what alerts in each mode; the config's rules where the household saved none
    alerts: dict[Mode, AlertRule] = field(default_factory=dict)

    def rule(self) -> AlertRule | None:
        """The alert rule of the mode in force (None: the config's)."""
        return self.alerts.get(self.mode)


class SettingsStore:
    """Typed access to the settings table over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> Any | None:
        """The JSON value stored under ``key``, or None."""
        with self._store.read_session() as session:
            row = session.get(_SettingRow, key)
            return None if row is None else row.value

    def put(self, key: str, value: Any, now: float) -> None:
        """Stores a JSON value under ``key`` (replacing any)."""
        with self._store.write_session() as session:
            row = session.get(_SettingRow, key)
            if row is None:
                row = _SettingRow(key=key)
                session.add(row)
            row.value, row.updated = value, now

    def delete(self, key: str) -> None:
        """Removes the value stored under ``key`` (nothing if there is none)."""
        with self._store.write_session() as session:
            row = session.get(_SettingRow, key)
            if row is not None:
                session.delete(row)

    def household(self, household_id: int, config: Config) -> HouseholdSettings:
        """A household's settings; what it never saved comes from the config."""
        stored = self.get(_household_key(household_id))
        data = stored if isinstance(stored, dict) else {}
        mode = data.get("mode")
        hours = dict(config.retention.events)
        saved_hours = data.get("retention")
        if isinstance(saved_hours, dict):
            for verdict in Verdict:
                value = saved_hours.get(verdict.value)
                # A value saved before the bounds existed (5e-324 h) must not drive a sweep.
                if isinstance(value, int | float) and in_retention_bounds(value):
                    hours[verdict] = float(value)
        rules = {"home": config.alerts.home, "away": config.alerts.away}
        saved_rules = data.get("alerts")
        if isinstance(saved_rules, dict):
            for name in MODES:
                # Missing or from an older shape: the config's rule stands.
                with contextlib.suppress(ValidationError):
                    rules[name] = AlertRule.model_validate(saved_rules.get(name))
        return HouseholdSettings(
            mode=cast(Mode, mode) if mode in MODES else config.alerts.mode,
            retention=hours,
            alerts=cast(dict[Mode, AlertRule], rules),
        )

    def save_household(self, household_id: int, settings: HouseholdSettings, now: float) -> None:
        """Stores a household's settings."""
        value = {
            "mode": settings.mode,
            "retention": {v.value: settings.retention[v] for v in Verdict},
            "alerts": {m: r.model_dump(mode="json") for m, r in settings.alerts.items()},
        }
        self.put(_household_key(household_id), value, now)


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """Where motion is ignored (masks) and the named zones of one camera, relative 0..1."""

    mask: list[Polygon]
    zones: dict[str, ZoneConfig]

    @classmethod
    def of(cls, camera: CameraConfig) -> CameraGeometry:
        """The geometry a camera's config gives it."""
        return cls(list(camera.motion.mask), dict(camera.zones))

    def applied(self, camera: CameraConfig) -> CameraConfig:
        """The camera config with this geometry instead of its own."""
        motion = camera.motion.model_copy(update={"mask": list(self.mask)})
        return camera.model_copy(update={"motion": motion, "zones": dict(self.zones)})


def camera_geometry(store: SettingsStore, camera: str) -> CameraGeometry | None:
    """The masks and zones an owner drew for ``camera`` in the app (None: the config's)."""
    stored = store.get(_camera_key(camera))
    if not isinstance(stored, dict):
        return None
    try:
        mask = [Polygon.model_validate(points) for points in stored.get("mask", [])]
        zones = {
            str(name): ZoneConfig.model_validate(zone)
            for name, zone in dict(stored.get("zones", {})).items()
        }
    except (ValidationError, TypeError, ValueError):
        return None  # from an older shape: the config's geometry stands
    return CameraGeometry(mask, zones)


def save_camera_geometry(
    store: SettingsStore, camera: str, geometry: CameraGeometry, now: float
) -> None:
    """Stores the masks and zones drawn for ``camera``."""
    value = {
        "mask": [[list(p) for p in polygon.points] for polygon in geometry.mask],
        "zones": {
            name: {"coordinates": [list(p) for p in z.coordinates.points], "objects": z.objects}
            for name, z in geometry.zones.items()
        },
    }
    store.put(_camera_key(camera), value, now)


def _camera_key(camera: str) -> str:
    return f"camera/{camera}"


def _household_key(household_id: int) -> str:
    return f"household/{household_id}"
