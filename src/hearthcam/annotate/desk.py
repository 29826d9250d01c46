"""``ReviewDesk``: the workbench's rules (``annotate.workbench``) run over the stores and files.

Owns the per-lease watermarked copies (``shares/<share>/lease-<lease>.mp4``, inside the share's
folder so a withdrawal's folder delete takes them too) and every lease move. It is the
``WithdrawalListener`` of the review side: a withdrawn or reported share's active leases are
revoked, their copies destroyed and its annotations deleted. Expiry is applied lazily: every
call first ends the leases whose minutes ran out, so no timer thread is needed.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from hearthcam.annotate import active
from hearthcam.annotate.watermark import MarkedClip, PreLabel, mark_clip
from hearthcam.annotate.workbench import (
    SUGGESTED,
    FalseAlarmReason,
    Keyframe,
    LeaseEvent,
    LeaseState,
    ReviewVerdict,
    TimeBucket,
    check_verdict,
    is_live,
    quota_left,
    time_bucket,
    transition,
    utc_day_start,
)
from hearthcam.config import ReviewConfig
from hearthcam.errors import HearthcamError, StoreError
from hearthcam.pipeline.detect import Detector
from hearthcam.privacy.consent import for_hub, redacted_path, share_dir
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.annotations import (
    AnnotationRecord,
    AnnotationStore,
    LeaseRecord,
    LeaseTaken,
    QuotaFull,
)
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import MediaIO, write_bytes
from hearthcam.vision.redact import PreLabels

# A served model's class probabilities for an event (None: no model; the rules alone rank).
Scorer = Callable[[Event], Mapping[str, float] | None]
CLASSES = tuple(v.value for v in ReviewVerdict)

log = logging.getLogger(__name__)


class ReviewError(HearthcamError):
    """A workbench request that cannot be granted."""


class QuotaReached(ReviewError):
    """The annotator took their daily quota of leases."""


class QueueEmpty(ReviewError):
    """No clip is waiting for this annotator."""


class LeaseHeld(ReviewError):
    """The annotator already holds an active lease."""


class LeaseEnded(ReviewError):
    """The lease is not active any more (submitted, released, expired or revoked)."""


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """What an annotator may know of the queue: how many clips wait, and their quota."""

    available: int
    quota: int
    taken_today: int
    quota_left: int
    active: LeaseRecord | None


def from_original(marked: MarkedClip, found: PreLabels) -> MarkedClip:
    """``marked`` with the stored pre-labels of the original frames as its keyframes and boxes
    (relative boxes: they fit the copy whatever its scale; frames past its end are dropped)."""
    fps = marked.fps or 1.0
    frames = tuple(f for f in found.frames if 0 <= f < marked.frames)
    boxes = tuple(
        PreLabel(b.frame, round(b.frame / fps, 3), b.xyxy, b.label, b.score)
        for b in found.boxes
        if b.frame in frames
    )
    return dataclasses.replace(marked, keyframes=frames, prelabels=boxes)


def lease_path(data_dir: Path, share_id: str, lease_id: str) -> Path:
    """The watermarked copy a lease shows."""
    return share_dir(data_dir, share_id) / f"lease-{lease_id}.mp4"


def watermark_text(username: str, lease_id: str) -> str:
    """What is burned into every frame the annotator sees."""
    return f"{username} {lease_id[:8]}"


class ReviewDesk:
    """Leases, watermarked copies and annotations of published shared clips."""

    def __init__(
        self,
        annotations: AnnotationStore,
        shares: ShareStore,
        events: Store,
        data_dir: Path,
        media: MediaIO,
        config: ReviewConfig,
        detector: Callable[[], Detector | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        scorer: Scorer = lambda event: None,
    ) -> None:
        """``detector`` gives the pre-labelling detector (loaded on first use; None: tracks
        only); ``clock`` times the leases a withdrawal ends; ``scorer`` gives the served
        verdict model's probabilities, which order the queue (rules-only without one)."""
        self.annotations = annotations
        self.shares = shares
        self._events = events
        self._data_dir = data_dir
        self._media = media
        self.config = config
        self._detector = detector
        self._clock = clock
        self._scorer = scorer

    # Queue and leases ----------------------------------------------------------------------

    def expire_due(self, now: float) -> int:
        """Ends every active lease past its minutes; returns how many."""
        due = self.annotations.leases(state=LeaseState.ACTIVE.value, expires_before=now)
        return sum(self._end(lease, LeaseEvent.EXPIRE, now) for lease in due)

    def _offerable(self, annotator_id: int, ranked: bool = True) -> list[ShareRecord]:
        excluded = self.annotations.excluded_for(annotator_id)
        published = self.shares.with_status(ShareStatus.PUBLISHED.value, limit=100_000)
        # A clip shared with a review hub is for the hub's annotators, never this home's.
        offerable = [
            s
            for s in published
            if s.id not in excluded
            and not for_hub(s.receipt)
            and redacted_path(self._data_dir, s.id).is_file()
        ]
        return self._by_worth(offerable) if ranked else offerable

    def _by_worth(self, shares: list[ShareRecord]) -> list[ShareRecord]:
        """Most worth a human's time first (``annotate.active``: uncertain, disputed, night, rare
        classes), the oldest first among equals."""
        if len(shares) < 2:
            return shares
        events = {s.id: self._events.get_event(s.event_id) for s in shares}
        candidates = [self._candidate(s, events[s.id]) for s in shares]
        ranked = active.rank(candidates, self._labelled(), CLASSES)
        place = {r.key: n for n, r in enumerate(ranked)}
        return sorted(shares, key=lambda s: place[s.id])

    def _candidate(self, share: ShareRecord, event: Event | None) -> active.Candidate:
        if event is None:  # its event is gone: nothing to judge it by but its age
            return active.Candidate(share.id, Verdict.MOTION, 0.0, age=share.created)
        return active.Candidate(
            share.id, event.verdict, event.score, event.tracks,
            night=time_bucket(event.wall_start) is TimeBucket.NIGHT,
            proba=self._scorer(event), age=share.created,
        )  # fmt: skip

    def _labelled(self) -> active.Labelled:
        """What annotators already labelled: verdict counts, and how many were at night."""
        counts: dict[str, int] = {}
        night = 0
        for record in self.annotations.annotations():
            counts[record.verdict] = counts.get(record.verdict, 0) + 1
            share = self.shares.get(record.share_id)
            event = self._events.get_event(share.event_id) if share is not None else None
            night += event is not None and time_bucket(event.wall_start) is TimeBucket.NIGHT
        return active.Labelled(counts, night)

    def queue(self, annotator_id: int, now: float) -> QueueStatus:
        """The annotator's view of the queue."""
        self.expire_due(now)
        taken = self.annotations.taken_since(annotator_id, utc_day_start(now))
        active = self.annotations.leases(state=LeaseState.ACTIVE.value, annotator_id=annotator_id)
        quota = self.config.daily_quota
        waiting = len(self._offerable(annotator_id, ranked=False))  # a count needs no ranking
        return QueueStatus(
            waiting, quota, taken, quota_left(taken, quota), active[0] if active else None
        )

    def take(self, annotator_id: int, username: str, now: float) -> LeaseRecord:
        """Leases the clip most worth this annotator's time (``_by_worth``) and makes its
        watermarked copy.

        Raises LeaseHeld, QuotaReached or QueueEmpty."""
        status = self.queue(annotator_id, now)
        if status.active is not None:
            raise LeaseHeld("finish or release the clip you hold first")
        if status.quota_left == 0:
            raise QuotaReached(f"today's quota of {status.quota} clips is reached")
        expires = now + self.config.lease_minutes * 60
        for share in self._offerable(annotator_id):
            lease = LeaseRecord(
                secrets.token_hex(16), share.id, annotator_id, LeaseState.ACTIVE.value, now,
                expires, None, {},
            )  # fmt: skip
            try:
                # The quota is counted again under the write lock: another tab or node of this
                # annotator may have taken a clip since ``queue`` counted.
                day = (utc_day_start(now), self.config.daily_quota)
                self.annotations.add_lease(lease, quota=day)
            except QuotaFull as error:
                raise QuotaReached(f"today's quota of {status.quota} clips is reached") from error
            except LeaseTaken:
                continue  # another annotator took it a moment ago: the next one
            return self._prepare(lease, share, username, now)
        raise QueueEmpty("no clip is waiting for you")

    def _prepare(
        self, lease: LeaseRecord, share: ShareRecord, username: str, now: float
    ) -> LeaseRecord:
        """Makes the lease's watermarked copy and pre-labels; revokes the lease if that fails."""
        target = lease_path(self._data_dir, share.id, lease.id)
        started = time.monotonic()
        try:
            with self._media.open(redacted_path(self._data_dir, share.id)) as source:
                text = watermark_text(username, lease.id)
                # The boxes found on the original frames before redaction, stored with the
                # published copy; only a share published before they were stored is detected
                # on again here (on blurred frames, which hide the people).
                stored = share.prelabels
                detector = self._detector() if stored is None else None
                keyframes = self.config.keyframes
                marked = mark_clip(cast(BinaryIO, source), text, detector, keyframes)
                if stored is not None:
                    marked = from_original(marked, PreLabels.from_json(stored))
            write_bytes(self._media, target, share.camera, marked.data)
        except (OSError, HearthcamError) as error:
            self._end(lease, LeaseEvent.REVOKE, now)
            raise ReviewError(f"the clip could not be prepared: {error}") from error
        seconds = time.monotonic() - started
        log.info("lease %s: watermarked copy made in %.2f s", lease.id, seconds)
        shown = self._shown(share, marked, seconds)
        self.annotations.set_shown(lease.id, shown)
        current = self.annotations.lease(lease.id)
        if current is None or current.state != LeaseState.ACTIVE.value:
            # Withdrawn while the copy was made: the copy must not outlive the lease.
            self._media.delete([target])
            raise LeaseEnded("the clip was withdrawn meanwhile")
        return current

    def _shown(self, share: ShareRecord, marked: MarkedClip, seconds: float) -> dict[str, Any]:
        """What the lease shows besides the video: never household, camera or date."""
        event = self._events.get_event(share.event_id)
        wall = event.wall_start if event is not None else share.created
        tracks = [] if event is None else [
            {"label": t.label, "best_score": round(t.best_score, 3), "hits": t.hits}
            for t in event.tracks
        ]  # fmt: skip
        suggested = None if event is None else SUGGESTED.get(event.verdict.value)
        return {
            "time_of_day": time_bucket(wall).value,
            "duration": round(marked.duration, 3),
            "frames": marked.frames,
            "fps": marked.fps,
            "width": marked.width,
            "height": marked.height,
            "keyframes": list(marked.keyframes),
            "boxes": [asdict(p) for p in marked.prelabels],
            "tracks": tracks,
            "suggested": None if suggested is None else suggested.value,
            "mark_seconds": round(seconds, 3),
        }

    def lease_of(self, annotator_id: int, lease_id: str) -> LeaseRecord | None:
        """The annotator's own lease (None for anyone else's: it does not exist for them)."""
        lease = self.annotations.lease(lease_id)
        return lease if lease is not None and lease.annotator_id == annotator_id else None

    def live(self, lease: LeaseRecord, now: float) -> bool:
        """Whether the lease may show its clip now (expiring it if its minutes ran out)."""
        if is_live(LeaseState(lease.state), lease.expires, now):
            return True
        if lease.state == LeaseState.ACTIVE.value:
            self._end(lease, LeaseEvent.EXPIRE, now)
        return False

    def clip_path(self, lease: LeaseRecord) -> Path:
        """Where the lease's watermarked copy is."""
        return lease_path(self._data_dir, lease.share_id, lease.id)

    def submit(
        self,
        lease: LeaseRecord,
        verdict: ReviewVerdict,
        reason: FalseAlarmReason | None,
        keyframes: Sequence[Keyframe],
        now: float,
    ) -> int:
        """Records the annotation and ends the lease; LeaseEnded if it is not live."""
        check_verdict(verdict, reason)
        if not self.live(lease, now):
            raise LeaseEnded("this lease has ended")
        if not self._end(lease, LeaseEvent.SUBMIT, now):
            raise LeaseEnded("this lease has ended")
        record = AnnotationRecord(
            0, lease.share_id, lease.id, lease.annotator_id, verdict.value,
            None if reason is None else reason.value, [asdict(k) for k in keyframes], now,
        )  # fmt: skip
        return self.annotations.add_annotation(record)

    def release(self, lease: LeaseRecord, now: float) -> None:
        """Gives the clip back unannotated; LeaseEnded if it is not live."""
        if not self.live(lease, now) or not self._end(lease, LeaseEvent.RELEASE, now):
            raise LeaseEnded("this lease has ended")

    def _end(self, lease: LeaseRecord, event: LeaseEvent, now: float) -> bool:
        """Moves an active lease on and destroys its copy; False if it had ended already."""
        after = transition(LeaseState.ACTIVE, event)
        moved = self.annotations.set_state(lease.id, LeaseState.ACTIVE.value, after.value, now)
        try:
            self._media.delete([self.clip_path(lease)])
        except (OSError, StoreError):  # the next withdrawal's folder delete takes it
            log.exception("lease %s: its copy could not be deleted", lease.id)
        return moved

    # Withdrawal ------------------------------------------------------------------------------

    def on_withdrawn(self, share_id: str) -> list[str]:
        """Revokes the share's active leases (their copies go) and deletes its annotations."""
        now = self._clock()
        active = self.annotations.leases(state=LeaseState.ACTIVE.value, share_id=share_id)
        revoked = sum(self._end(lease, LeaseEvent.REVOKE, now) for lease in active)
        deleted = self.annotations.delete_annotations(share_id)
        self.annotations.forget_share(share_id)  # revoked and earlier leases keep no link to it
        actions = []
        if revoked:
            actions.append(f"{revoked} annotator lease{'s' if revoked != 1 else ''} revoked")
        if deleted:
            actions.append(f"{deleted} annotation{'s' if deleted != 1 else ''} deleted")
        return actions
