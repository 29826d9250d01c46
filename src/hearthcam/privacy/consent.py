"""Sharing one clip as feedback with the owner's informed consent, and withdrawing it.

``Sharing.receipt`` says, before anything happens, what sharing means: the purpose, who may see
the clip (annotators, after redaction), what they will see, how long it is kept and that it can
be withdrawn. The owner's browser sends back the receipt's digest with the consent, so what is
stored is exactly what was shown. ``share`` then makes a private copy of the clip (nobody but
the owner can see it until the machine checks in ``review`` published a redacted copy).

``withdraw`` is one call and cascades: every party that holds something of the share
(annotations, leases, datasets, models: ``WithdrawalListener``) is told first, then the share's
files and row go. ``expire`` does the same for shares past their consented keeping time.
Nothing of a withdrawn share remains but the view log's entries, which say who saw it.

A home linked to a review hub (``HubDestination``, read from the link each time it is needed)
may share a clip *to the hub* instead: its receipt names the hub (address, operator, where its
annotators work, how long it keeps clips, its key's fingerprint), the local workbench never
offers it, and only its redacted copy, once published here, is sent there (``hub.delivery``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hearthcam.errors import HearthcamError, StoreError
from hearthcam.layout import PART_SUFFIX
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.shares import ShareRecord, ShareStore, receipt_digest
from hearthcam.types import Event
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)

RECEIPT_VERSION = 1
DEFAULT_KEEP_DAYS = 30
SHARES_DIR = "shares"
DISPOSED_COUNTER = "disposed"
# Statuses in which a share holds media (the private copy, maybe a redacted one).
LIVE = frozenset({ShareStatus.CONSENTED, ShareStatus.CHECKING, ShareStatus.PUBLISHED})


class SharingError(HearthcamError):
    """A share that cannot be made (no clip, already shared, a changed receipt)."""


class WithdrawalListener(Protocol):
    """Holds something made from shared clips (annotations, leases, datasets, models)."""

    def on_withdrawn(self, share_id: str) -> list[str]:
        """Deletes or retires what it holds of the share; returns what it did, in words."""
        ...


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """What a withdrawal removed."""

    share_id: str
    files: int
    actions: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HubDestination:
    """The review hub this home is linked to, as a consent receipt names it: the operator's
    terms as the hub stated them at linking, and the fingerprint of its pinned key."""

    url: str
    operator: str
    annotators_in: str
    keep_days: int
    fingerprint: str


def for_hub(receipt: dict[str, Any]) -> bool:
    """Whether a share's receipt sends its clip to a review hub (not to this home's annotators)."""
    return isinstance(receipt.get("hub"), dict)


def share_dir(data_dir: Path, share_id: str) -> Path:
    """Where a share's files live: its private copy and its redacted copy."""
    return data_dir / SHARES_DIR / share_id


def copy_path(data_dir: Path, share_id: str) -> Path:
    """The private copy of the shared clip (never served to anyone but its owner)."""
    return share_dir(data_dir, share_id) / "clip.mp4"


def redacted_path(data_dir: Path, share_id: str) -> Path:
    """The redacted copy annotators may be offered once it passed the checks."""
    return share_dir(data_dir, share_id) / "redacted.mp4"


def _iso(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="seconds")


def clip_of(receipt: dict[str, Any]) -> int:
    """Which of its event's clips a receipt is for (1: the first, and every older receipt)."""
    return int(receipt.get("clip", {}).get("part", 1))


def build_receipt(
    event: Event,
    camera_name: str,
    keep_days: int,
    now: float,
    part: int = 1,
    hub: HubDestination | None = None,
) -> dict[str, Any]:
    """The consent receipt for sharing ``event``'s clip, as shown to and stored for the owner.

    A long event's footage is in consecutive clips; the receipt of one of them (``part``, from
    1) names which ("part": 2, "parts": 3), so the owner agrees to exactly the clip they watched.
    An event with one clip has the receipt it always had. With ``hub`` the clip goes to that
    review hub's annotators (the hub named, its keeping time instead of ``keep_days``)."""
    if hub is not None:
        return _hub_receipt(event, camera_name, now, part, hub)
    return {
        "version": RECEIPT_VERSION,
        "clip": _clip_fields(event, camera_name, part),
        "purpose": (
            "Teaching hearthcam's model to tell a real threat from a person who belongs, a pet, "
            "a vehicle or a false alarm (light, shadow, rain, insects)."
        ),
        "who_may_see": (
            "Annotators of this installation, each signed in with two-factor, on short leases, "
            "one at a time. Never the original clip, and nobody before the checks passed."
        ),
        "what_they_see": (
            "This clip with every face and every person's whole body blurred, and the boxes "
            "hearthcam drew. Not your household, the camera's name or the date: only the time "
            "of day (night, morning, afternoon or evening). Their view carries their own "
            "watermark, and they cannot download it."
        ),
        "checks": (
            "Before anyone sees a frame, the clip is scanned for intimate content. If any is "
            "suspected, the copy is destroyed and nobody is ever offered it; you are told. If "
            "any check fails, the clip stays with you only."
        ),
        "kept_days": keep_days,
        # A date, not a time: the receipt the owner read stays the same while they read it.
        "kept_until": dt.datetime.fromtimestamp(now + keep_days * 86400, dt.UTC).date().isoformat(),
        "withdraw": (
            "You can withdraw at any time under My shared clips, in one click: the copy, its "
            "redacted versions and its annotations are deleted, it is left out of every later "
            "dataset, and models trained with it are retired. A training dataset this box's "
            "administrator already exported to another folder is outside hearthcam's reach."
        ),
        "views": "Every view by anyone but you is written to a log you can read and verify.",
    }


def _clip_fields(event: Event, camera_name: str, part: int) -> dict[str, Any]:
    clip: dict[str, Any] = {
        "camera": camera_name, "start": _iso(event.wall_start), "event": event.id,
    }  # fmt: skip
    if len(event.clips) > 1:
        clip |= {"part": part, "parts": len(event.clips)}
    return clip


def _hub_receipt(
    event: Event, camera_name: str, now: float, part: int, hub: HubDestination
) -> dict[str, Any]:
    """The receipt for sharing a clip with a review hub: what leaves this home, for whom."""
    receipt = build_receipt(event, camera_name, hub.keep_days, now, part)
    receipt["hub"] = {
        "address": hub.url,
        "operator": hub.operator,
        "annotators_in": hub.annotators_in,
        "fingerprint": hub.fingerprint,
    }
    receipt["who_may_see"] = (
        f"Annotators of the review hub at {hub.url}, run by {hub.operator}, working in "
        f"{hub.annotators_in}: they annotate clips from many homes. Never the original clip, "
        "and nobody before the checks passed here."
    )
    receipt["what_they_see"] = (
        "This clip with every face and every person's whole body blurred; their view carries "
        "their own watermark, lasts minutes, and they cannot download it. The hub is sent the "
        "blurred clip under a random id, the numbers hearthcam's model reads from the event "
        "(how many people, animals or vehicles it followed, their size, movement and time in "
        "view, the event's length and its hour of day: the hub's model learns from them, "
        "annotators do not see them), this receipt's digest and the time it must be deleted "
        "by, and nothing else: not your home's name, your household, the camera's name or the "
        "date."
    )
    receipt["checks"] = (
        str(receipt["checks"]) + " Only the redacted copy that passed them leaves this home, "
        "signed by this home and sent to the hub whose key you linked to; the original never "
        "leaves. The hub scans it and looks for faces again before anyone there may see it, "
        "and deletes it if either finds anything."
    )
    receipt["withdraw"] = (
        "You can withdraw at any time under My shared clips, in one click: the copies here are "
        "deleted at once, and the hub is told to delete its copy; its signed deletion receipt "
        "is kept with your shares (if the hub cannot be reached, this home keeps asking until "
        "it answers). Unlinking from the hub deletes every clip you shared there."
    )
    return receipt


class Sharing:
    """Consent, private copies and withdrawal over the shares table and the data directory."""

    def __init__(
        self,
        shares: ShareStore,
        data_dir: Path,
        keep_days: int = DEFAULT_KEEP_DAYS,
        listeners: Sequence[WithdrawalListener] = (),
        media: MediaIO | None = None,
        hub: Callable[[], HubDestination | None] = lambda: None,
    ) -> None:
        """``media`` reads the owner's clips and writes the share's copies (sealed where the
        data directory is; plain files by default). ``hub`` names the review hub this home is
        linked to now (None: not linked), asked each time a receipt is made."""
        self.shares = shares
        self.data_dir = data_dir
        self.keep_days = keep_days
        self.listeners = list(listeners)
        self.media: MediaIO = media if media is not None else PlainMedia()
        self.hub = hub

    def receipt(
        self, event: Event, camera_name: str, now: float, part: int = 1, to_hub: bool = False
    ) -> dict[str, Any]:
        """The receipt the owner is shown before they agree (for the event's clip ``part``;
        ``to_hub``: for the review hub this home is linked to).

        Raises SharingError when the event has no such clip, or there is no hub."""
        if not 1 <= part <= max(1, len(event.clips)):
            raise SharingError(f"this event has no clip {part}: it has {len(event.clips)}")
        hub = self.hub() if to_hub else None
        if to_hub and hub is None:
            raise SharingError("this home is not linked to a review hub")
        return build_receipt(event, camera_name, self.keep_days, now, part, hub)

    def share(
        self,
        event: Event,
        household_id: int,
        owner_id: int,
        camera_name: str,
        agreed_sha256: str,
        now: float,
        part: int = 1,
        to_hub: bool = False,
    ) -> ShareRecord:
        """Makes a private copy of the event's clip (its ``part``-th, from 1) under the receipt
        the owner agreed to.

        ``agreed_sha256`` is the digest of the receipt the owner was shown; it must match the
        receipt now (the wording, keeping time or clip did not change in between). Each clip
        of an event is shared on its own: one live share per clip (with this home's annotators
        or with the hub, ``to_hub``: not both)."""
        receipt = self.receipt(event, camera_name, now, part, to_hub)
        if agreed_sha256 != receipt_digest(receipt):
            raise SharingError("the receipt changed since it was shown: read it again")
        clips = event.clips
        source = clips[part - 1] if clips else None
        if source is None or not source.is_file():
            raise SharingError("this event has no clip to share")
        live = (s for s in self.shares.of_event(event.id) if ShareStatus(s.status) in LIVE)
        if any(clip_of(s.receipt) == part for s in live):
            raise SharingError("this clip is already shared")
        share_id = secrets.token_hex(16)
        target = copy_path(self.data_dir, share_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Decrypted and sealed again chunk by chunk: no plaintext copy ever touches the disk.
            media = self.media
            with media.open(source) as plain, media.create(target, event.camera) as copy:
                shutil.copyfileobj(plain, copy, 256 * 1024)
        except (OSError, StoreError) as error:
            self.delete_media(share_id)
            raise SharingError(f"the clip could not be copied: {error}") from error
        record = ShareRecord(
            share_id, event.id, household_id, owner_id, event.camera,
            ShareStatus.CONSENTED.value, "", now, now + int(receipt["kept_days"]) * 86400, now,
            receipt, receipt_digest(receipt), {},
        )  # fmt: skip
        self.shares.add(record)
        log.info("event %s shared as %s", event.id, share_id)
        return record

    def withdraw(self, share_id: str) -> Withdrawal | None:
        """Ends a share: listeners first, then files, then the row; None if there was none.

        A listener that fails stops the withdrawal before the row goes, so it can be retried
        and nothing claims "withdrawn" while a copy remains."""
        record = self.shares.get(share_id)
        if record is None:
            return None
        actions: list[str] = []
        for listener in self.listeners:
            actions += listener.on_withdrawn(share_id)
        files = self.delete_media(share_id)
        self.shares.remove(share_id)
        log.info("share %s withdrawn: %d files, %s", share_id, files, actions or "nothing else")
        return Withdrawal(share_id, files, actions)

    def withdraw_event(self, event_id: str) -> list[Withdrawal]:
        """Withdraws every share of an event (its owner deleted it)."""
        done = [self.withdraw(s.id) for s in self.shares.of_event(event_id)]
        return [w for w in done if w is not None]

    def expire(self, now: float) -> list[Withdrawal]:
        """Ends every share past its consented keeping time, as a withdrawal does."""
        done = [self.withdraw(s.id) for s in self.shares.expired(now)]
        return [w for w in done if w is not None]

    def delete_redacted(self, share_id: str) -> None:
        """Deletes a share's redacted copy (and a partial one), keeping the private copy."""
        self.media.delete([redacted_path(self.data_dir, share_id)])

    def delete_media(self, share_id: str) -> int:
        """Destroys a share's files (copy, redacted copy, anything made for a lease: sealed
        ones by their keys first); returns how many files there were."""
        folder = share_dir(self.data_dir, share_id)
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        finished = [p for p in files if p.suffix != PART_SUFFIX]
        self.media.delete([copy_path(self.data_dir, share_id), *finished])
        shutil.rmtree(folder, ignore_errors=True)
        return len(files)
