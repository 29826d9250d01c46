"""What owners chose in the app (alert rules and mode, hours kept), looked up per camera."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hearthcam.config import AlertRule, CameraConfig, Config
from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store
from hearthcam.store.push import PushStore, PushSubscription
from hearthcam.store.settings import SettingsStore
from hearthcam.types import Verdict

log = logging.getLogger(__name__)


class HouseholdChoices:
    """What owners changed in the app (alert rules and mode, hours kept), looked up per camera
    at each use.

    The app stores them per household (``store.settings``); the pipeline and the sweeper know
    only cameras. A camera no household owns follows the config.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        cameras: Mapping[str, CameraConfig] | None = None,
    ) -> None:
        # The account tables only (``Accounts`` would set up password hashing it never uses).
        self._accounts = AccountStore(store)
        self._settings = SettingsStore(store)
        self._push = PushStore(store)
        self._config = config
        # The cameras running now (the config's and the app's); the config's when not given.
        self._cameras = config.cameras if cameras is None else cameras

    def _household(self, camera: str) -> int | None:
        with self._accounts.read() as tx:
            return tx.camera_household(camera)

    def push_targets(self, camera: str) -> list[PushSubscription]:
        """The browsers subscribed to push by members the camera's household has now (a user
        removed from it, and their browsers, get nothing more)."""
        with self._accounts.read() as tx:
            household = tx.camera_household(camera)
            if household is None:
                return []
            members = {u.id for u in tx.users(household)}
        return [s for s in self._push.of_household(household) if s.user_id in members]

    def household_push_targets(self, household: int) -> list[PushSubscription]:
        """The browsers subscribed to push by the household's members now."""
        with self._accounts.read() as tx:
            members = {u.id for u in tx.users(household)}
        return [s for s in self._push.of_household(household) if s.user_id in members]

    def rule_of(self, camera: str) -> AlertRule | None:
        """The alert rule of the mode the camera's household is in (None: the config's)."""
        household = self._household(camera)
        if household is None:
            return None
        return self._settings.household(household, self._config).rule()

    def camera_hours(self) -> dict[str, dict[Verdict, float]]:
        """The hours kept per verdict now, for each camera whose household changed them.

        Hours, not a ``RetentionPolicy``: accounts sit below recordings (the import contracts);
        the sweeper builds its policy from the config and these."""
        default = dict(self._config.retention.events)
        own: dict[str, dict[Verdict, float]] = {}
        for camera in list(self._cameras):
            household = self._household(camera)
            if household is None:
                continue
            hours = self._settings.household(household, self._config).retention
            if hours != default:
                own[camera] = hours
        return own
