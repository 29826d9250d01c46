"""Password mode as the web app offers it: status, enable / disable, unlock at sign-in, lock.

In password mode a household's key is wrapped under the server secret *and* the owner's
password (``store.keys``), so the box alone cannot open the household's recordings after a
restart. Recording never stops: writing needs only the household's public key. Reading waits
for the owner: the password they type at sign-in opens the key for this process (until the
server stops or they press "Lock now"), and the runtime then cuts the clips that waited
(``on_unlocked``). Other members' passwords do not open it; while it is locked they see
"locked" where clips would be. There is no recovery: a forgotten password means the
household's recordings can never be opened (they expire with retention as usual).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from hearthcam.vault.keyring import KeyMode, Keyring, KeyringError, WrongPassword
from hearthcam.vault.media import MediaIO, SealedMedia

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """How a household's recordings are protected now."""

    available: bool  # media are encrypted at rest (password mode possible)
    password_mode: bool
    unlocked: bool


class HouseholdKeys:
    """The keyring of the app's sealed media (none for plain media) and the unlock hook."""

    def __init__(self, media: MediaIO, on_unlocked: Callable[[int], None]) -> None:
        self.keyring: Keyring | None = (
            media.vault.keyring if isinstance(media, SealedMedia) else None
        )
        self._on_unlocked = on_unlocked

    def status(self, household_id: int) -> KeyStatus:
        if self.keyring is None:
            return KeyStatus(False, False, True)
        password = self.keyring.mode(household_id) is KeyMode.PASSWORD
        # Without a key yet (nothing recorded) or in server mode, nothing is locked.
        return KeyStatus(True, password, not password or self.keyring.is_unlocked(household_id))

    def _locked_password_mode(self, household_id: int) -> bool:
        ring = self.keyring
        return (
            ring is not None
            and ring.mode(household_id) is KeyMode.PASSWORD
            and not ring.is_unlocked(household_id)
        )

    def unlock_at_login(self, household_id: int, password: str) -> bool:
        """Opens a locked household with a signed-in user's password, if it is the one the key
        is under (another member's simply does not open it); True when it was opened now."""
        if self.keyring is None or not self._locked_password_mode(household_id):
            return False
        try:
            self.keyring.unlock(household_id, password)
        except WrongPassword:
            return False
        log.info("household %d unlocked at sign-in", household_id)
        self._on_unlocked(household_id)
        return True

    def enable(self, household_id: int, password: str) -> None:
        """Ties the household key to ``password`` (checked by the caller as the owner's)."""
        self._require().ensure_household(household_id)
        self._require().enable_password(household_id, password)

    def disable(self, household_id: int, password: str) -> None:
        """Back to the server secret alone (WrongPassword if ``password`` does not open it)."""
        self._require().disable_password(household_id, password)
        self._on_unlocked(household_id)  # readable again by the server: cut what waited

    def lock(self, household_id: int) -> None:
        """Forgets the opened key until the owner signs in again (KeyringError in server mode)."""
        ring = self._require()
        if ring.mode(household_id) is not KeyMode.PASSWORD:
            raise KeyringError("the household is not in password mode")
        ring.lock(household_id)

    def password_changed(self, household_id: int, old: str, new: str) -> bool:
        """Rewraps the key under the new password when the old one was the key's; True if so."""
        ring = self.keyring
        if ring is None or ring.mode(household_id) is not KeyMode.PASSWORD:
            return False
        try:
            ring.change_password(household_id, old, new)
        except WrongPassword:
            return False  # another owner's password: the key is not under it
        return True

    def _require(self) -> Keyring:
        if self.keyring is None:
            raise KeyringError("media are not encrypted at rest here: there is no key to protect")
        return self.keyring
