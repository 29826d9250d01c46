"""The workbench at the hub: annotators of many homes' clips, with the home workbench's rules.

The rules are ``annotate.workbench``'s (the lease lifecycle, per-UTC-day quotas, verdicts); this
module runs them over the hub's tables (``hub_leases``, ``hub_annotations``) and its clips:

- **Only a clip the hub's own checks passed** (``hub.checks``: a ``passed`` row) is offered, to
  one annotator at a time, and only until it has ``per_clip`` annotations; an annotator never
  gets a clip they annotated already.
- **What an annotator sees**: the lease's watermarked copy (``annotate.watermark``: their name
  and lease id burned into every frame), made in memory from the sealed clip and kept in memory
  only while the lease is active (never written to disk; remade from the sealed clip if the hub
  restarted), its length and the detector's boxes on a few keyframes. Never the home, its name,
  a camera or a date: the hub knows none of them but the home's id, and that is not shown.
- **Every delivery of the copy is logged first** in the hub's view log under the clip's home,
  with the annotator's id and the lease (``view``): that home's hourly round
  (``hub.monitor``) proves it to the owner.
- **Withdrawal reaches here** through ``forget_clip``, which ``HubClips`` calls for every
  deleted clip (withdrawn, unlinked, expired, refused): its active leases are revoked, their
  copies dropped and its annotations deleted.
- **"Should not be here"** (``report``): the clip is deleted at once as refused, with the
  signed deletion receipt its home reads on its next pass, and nobody is offered it again.

Expiry is lazy, as at home: every call first ends the leases whose minutes ran out.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from hearthcam.annotate.desk import watermark_text
from hearthcam.annotate.watermark import MarkedClip, mark_clip
from hearthcam.annotate.workbench import (
    FalseAlarmReason,
    Keyframe,
    LabeledBox,
    LeaseEvent,
    LeaseState,
    ReviewVerdict,
    check_verdict,
    is_live,
    quota_left,
    transition,
    utc_day_start,
)
from hearthcam.errors import HearthcamError
from hearthcam.hub.checks import PASSED, HubChecks
from hearthcam.hub.clips import HubClips
from hearthcam.hub.identity import HubError
from hearthcam.hub.registry import (
    hub_annotations,
    hub_clip_checks,
    hub_clips,
    hub_leases,
    open_hub_engine,
    reading,
    writing,
)
from hearthcam.pipeline.detect import Detector
from hearthcam.viewlog.log import AuditLog, Derivative, ViewEntry

__all__ = ["HubAnnotation", "HubDesk", "HubLease", "HubQueue", "read_annotations"]

log = logging.getLogger(__name__)

LEASE_MINUTES: Final = 10.0
DAILY_QUOTA: Final = 200
PER_CLIP: Final = 1
KEYFRAMES: Final = 4
REPORTED: Final = "an annotator at the hub reported that it should not be shared"


class DeskError(HubError):
    """A workbench request at the hub that cannot be granted (its text is the answer)."""


class QuotaReached(DeskError):
    """The annotator took their daily quota of leases."""


class QueueEmpty(DeskError):
    """No clip is waiting for this annotator."""


class LeaseHeld(DeskError):
    """The annotator already holds an active lease."""


class LeaseEnded(DeskError):
    """The lease is not active any more."""


class CopyFailed(DeskError):
    """The lease's watermarked copy could not be made (the lease is revoked)."""


@dataclass(frozen=True, slots=True)
class HubLease:
    """One lease, as its annotator may know it (the home id is for the log, never shown)."""

    id: str
    annotator_id: int
    home_id: int
    clip_id: str
    state: LeaseState
    taken_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class HubQueue:
    """An annotator's queue: how many clips wait for them and their quota."""

    available: int
    quota: int
    taken_today: int
    quota_left: int
    active: HubLease | None


@dataclass(frozen=True, slots=True)
class HubAnnotation:
    """One recorded annotation: the pooled dataset's row (by home id and clip id)."""

    id: int
    home_id: int
    clip_id: str
    annotator_id: int
    verdict: ReviewVerdict
    reason: FalseAlarmReason | None
    keyframes: tuple[Keyframe, ...]
    created_at: float


@dataclass(frozen=True, slots=True)
class DeskFigures:
    """What the operator's admin page shows (counts only: no clip, no home name)."""

    homes: int
    clips_held: int
    clips_unchecked: int
    clips_passed: int
    clips_refused: int
    waiting: int
    active_leases: int
    annotations: int
    leases_today: dict[int, int]  # annotator id -> leases taken today
    annotations_by_annotator: dict[int, int]


def read_annotations(engine: Engine) -> list[HubAnnotation]:
    """Every annotation recorded at the hub whose database ``engine`` opens, oldest first."""
    with reading(engine) as connection:
        rows = connection.execute(select(hub_annotations).order_by(hub_annotations.c.id))
        return [
            HubAnnotation(
                id=int(r.id),
                home_id=int(r.home_id),
                clip_id=r.clip_id,
                annotator_id=int(r.annotator_id),
                verdict=ReviewVerdict(r.verdict),
                reason=None if r.reason is None else FalseAlarmReason(r.reason),
                keyframes=_keyframes(r.keyframes),
                created_at=float(r.created_at),
            )
            for r in rows
        ]


def _lease(row: Any) -> HubLease:
    return HubLease(
        id=row.id,
        annotator_id=int(row.annotator_id),
        home_id=int(row.home_id),
        clip_id=row.clip_id,
        state=LeaseState(row.state),
        taken_at=float(row.taken_at),
        expires_at=float(row.expires_at),
    )


def _keyframes_json(keyframes: Sequence[Keyframe]) -> str:
    return json.dumps([asdict(k) for k in keyframes], separators=(",", ":"))


def _keyframes(text: str) -> tuple[Keyframe, ...]:
    return tuple(
        Keyframe(
            int(k["frame"]),
            tuple(
                LabeledBox((b["xyxy"][0], b["xyxy"][1], b["xyxy"][2], b["xyxy"][3]), b["label"],
                           int(b["track"]))
                for b in k["boxes"]
            ),
        )
        for k in json.loads(text)
    )  # fmt: skip


class HubDesk:
    """Leases, watermarked copies and annotations of the clips the hub's checks passed."""

    def __init__(
        self,
        engine: Engine,
        clips: HubClips,
        checks: HubChecks,
        audit: AuditLog,
        *,
        detector: Callable[[], Detector | None] = lambda: None,
        lease_minutes: float = LEASE_MINUTES,
        daily_quota: int = DAILY_QUOTA,
        per_clip: int = PER_CLIP,
        copy_workers: int = 1,
    ) -> None:
        """``detector`` gives the pre-labelling detector (loaded on first use; None: no boxes).
        ``audit`` is the hub's view log, under which each home's round proves the views.
        ``copy_workers``: how many watermarked copies are made at once (each takes a core)."""
        if lease_minutes <= 0 or daily_quota < 1 or per_clip < 1 or copy_workers < 1:
            raise HubError(
                "lease minutes, daily quota, annotations per clip and copy workers must be positive"
            )
        self._engine = engine
        self._clips = clips
        self._checks = checks
        self.audit = audit
        self._detector_factory = detector
        self._detector: Detector | None = None
        self._detector_loaded = False
        self.lease_seconds = lease_minutes * 60.0
        self.daily_quota = daily_quota
        self.per_clip = per_clip
        # The active leases' watermarked copies, in memory only (lease id -> copy).
        self._copies: dict[str, MarkedClip] = {}
        self._copies_lock = threading.Lock()
        # At most this many copies made at once: the rest of the hub keeps a core to answer on.
        self._marking = threading.BoundedSemaphore(copy_workers)
        self._detector_lock = threading.Lock()

    @classmethod
    def from_url(
        cls, url: str, clips: HubClips, checks: HubChecks, audit: AuditLog, **options: Any
    ) -> HubDesk:
        """Over the hub's database at ``url`` (migrated to this version's tables)."""
        return cls(open_hub_engine(url, "the hub's workbench"), clips, checks, audit, **options)

    def close(self) -> None:
        self._engine.dispose()
        with self._copies_lock:
            self._copies.clear()

    # Reading ----------------------------------------------------------------------------------

    def _offerable(self, annotator_id: int) -> Any:
        """The query of (home id, clip id) an annotator may be offered, oldest first."""
        annotated = (
            select(func.count())
            .select_from(hub_annotations)
            .where(
                hub_annotations.c.home_id == hub_clips.c.home_id,
                hub_annotations.c.clip_id == hub_clips.c.clip_id,
            )
            .scalar_subquery()
        )
        by_me = select(hub_annotations.c.id).where(
            hub_annotations.c.home_id == hub_clips.c.home_id,
            hub_annotations.c.clip_id == hub_clips.c.clip_id,
            hub_annotations.c.annotator_id == annotator_id,
        )
        leased = select(hub_leases.c.id).where(
            hub_leases.c.home_id == hub_clips.c.home_id,
            hub_leases.c.clip_id == hub_clips.c.clip_id,
            hub_leases.c.state == LeaseState.ACTIVE.value,
        )
        return (
            select(hub_clips.c.home_id, hub_clips.c.clip_id)
            .join(
                hub_clip_checks,
                and_(
                    hub_clip_checks.c.home_id == hub_clips.c.home_id,
                    hub_clip_checks.c.clip_id == hub_clips.c.clip_id,
                ),
            )
            .where(
                hub_clip_checks.c.state == PASSED,
                annotated < self.per_clip,
                ~by_me.exists(),
                ~leased.exists(),
            )
            .order_by(hub_clips.c.received_at, hub_clips.c.id)
        )

    def queue(self, annotator_id: int, now: float) -> HubQueue:
        """How many clips wait for the annotator, their quota, and the lease they hold."""
        self.expire(now)
        with reading(self._engine) as connection:
            available = self._count(connection, self._offerable(annotator_id))
            taken = self._taken_today(connection, annotator_id, now)
            active = connection.execute(
                select(hub_leases).where(
                    hub_leases.c.annotator_id == annotator_id,
                    hub_leases.c.state == LeaseState.ACTIVE.value,
                )
            ).first()
        return HubQueue(
            available=available,
            quota=self.daily_quota,
            taken_today=taken,
            quota_left=quota_left(taken, self.daily_quota),
            active=None if active is None else _lease(active),
        )

    @staticmethod
    def _count(connection: Any, query: Any) -> int:
        return int(
            connection.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        )

    @staticmethod
    def _taken_today(connection: Any, annotator_id: int, now: float) -> int:
        return int(
            connection.execute(
                select(func.count())
                .select_from(hub_leases)
                .where(
                    hub_leases.c.annotator_id == annotator_id,
                    hub_leases.c.taken_at >= utc_day_start(now),
                )
            ).scalar_one()
        )

    def lease_of(self, annotator_id: int, lease_id: str) -> HubLease | None:
        """The annotator's own lease (None for anyone else's: it does not exist for them)."""
        with reading(self._engine) as connection:
            row = connection.execute(
                select(hub_leases).where(
                    hub_leases.c.id == lease_id, hub_leases.c.annotator_id == annotator_id
                )
            ).first()
        return None if row is None else _lease(row)

    def live(self, lease: HubLease, now: float) -> bool:
        """Whether the lease may show its clip now (expiring it if its minutes ran out)."""
        if is_live(lease.state, lease.expires_at, now):
            return True
        if lease.state is LeaseState.ACTIVE:
            self._end(lease.id, LeaseEvent.EXPIRE, now)
        return False

    def annotations(self) -> list[HubAnnotation]:
        """Every annotation recorded, oldest first: the pooled dataset."""
        return read_annotations(self._engine)

    def figures(self, now: float) -> DeskFigures:
        """Counts for the operator's admin page."""
        from hearthcam.hub.registry import hub_homes

        self.expire(now)
        with reading(self._engine) as connection:

            def count(query: Any) -> int:
                return int(connection.execute(query).scalar_one())

            checks: dict[str, int] = {
                str(state): int(n)
                for state, n in connection.execute(
                    select(hub_clip_checks.c.state, func.count()).group_by(hub_clip_checks.c.state)
                )
            }
            held = count(select(func.count()).select_from(hub_clips))
            passed_held = count(
                select(func.count())
                .select_from(hub_clips)
                .join(
                    hub_clip_checks,
                    and_(
                        hub_clip_checks.c.home_id == hub_clips.c.home_id,
                        hub_clip_checks.c.clip_id == hub_clips.c.clip_id,
                    ),
                )
                .where(hub_clip_checks.c.state == PASSED)
            )
            waiting = self._count(connection, self._offerable(-1))
            today = connection.execute(
                select(hub_leases.c.annotator_id, func.count())
                .where(hub_leases.c.taken_at >= utc_day_start(now))
                .group_by(hub_leases.c.annotator_id)
            ).all()
            by_annotator = connection.execute(
                select(hub_annotations.c.annotator_id, func.count()).group_by(
                    hub_annotations.c.annotator_id
                )
            ).all()
            return DeskFigures(
                homes=count(
                    select(func.count())
                    .select_from(hub_homes)
                    .where(hub_homes.c.unlinked_at.is_(None))
                ),
                clips_held=held,
                clips_unchecked=held - passed_held,
                clips_passed=passed_held,
                clips_refused=int(checks.get("refused", 0)),
                waiting=waiting,
                active_leases=count(
                    select(func.count())
                    .select_from(hub_leases)
                    .where(hub_leases.c.state == LeaseState.ACTIVE.value)
                ),
                annotations=count(select(func.count()).select_from(hub_annotations)),
                leases_today={int(a): int(n) for a, n in today},
                annotations_by_annotator={int(a): int(n) for a, n in by_annotator},
            )

    # Leases -----------------------------------------------------------------------------------

    def take(self, annotator_id: int, username: str, now: float) -> HubLease:
        """Leases the next clip to the annotator and makes its watermarked copy.

        QuotaReached, LeaseHeld or QueueEmpty when it cannot; CopyFailed (the lease revoked)
        when the copy cannot be made."""
        self.expire(now)
        lease_id = secrets.token_hex(16)
        with writing(self._engine) as connection:
            held = connection.execute(
                select(hub_leases.c.id).where(
                    hub_leases.c.annotator_id == annotator_id,
                    hub_leases.c.state == LeaseState.ACTIVE.value,
                )
            ).first()
            if held is not None:
                raise LeaseHeld("you hold a lease already: finish or give it back first")
            if self._taken_today(connection, annotator_id, now) >= self.daily_quota:
                raise QuotaReached("you reached today's quota")
            pick = connection.execute(self._offerable(annotator_id).limit(1)).first()
            if pick is None:
                raise QueueEmpty("no clip is waiting")
            connection.execute(
                insert(hub_leases).values(
                    id=lease_id,
                    annotator_id=annotator_id,
                    home_id=int(pick.home_id),
                    clip_id=pick.clip_id,
                    state=LeaseState.ACTIVE.value,
                    taken_at=now,
                    expires_at=now + self.lease_seconds,
                )
            )
        lease = HubLease(
            lease_id, annotator_id, int(pick.home_id), pick.clip_id, LeaseState.ACTIVE, now,
            now + self.lease_seconds,
        )  # fmt: skip
        try:
            self.copy(lease, username)
        except CopyFailed:
            self._end(lease.id, LeaseEvent.REVOKE, now)
            raise
        return lease

    def copy(self, lease: HubLease, username: str) -> MarkedClip:
        """The lease's watermarked copy: kept in memory while the lease is active, made from
        the sealed clip when there is none (CopyFailed if the clip is gone or unreadable)."""
        with self._copies_lock:
            made = self._copies.get(lease.id)
        if made is not None:
            return made
        with self._marking:
            with self._copies_lock:
                made = self._copies.get(lease.id)
            if made is not None:
                return made
            started = time.monotonic()
            try:
                data = self._clips.open(lease.home_id, lease.clip_id)
                text = watermark_text(username, lease.id)
                made = mark_clip(io.BytesIO(data), text, self._load_detector(), KEYFRAMES)
            except HearthcamError as error:
                raise CopyFailed(f"the clip could not be prepared: {error}") from error
            log.info("hub lease %s: copy made in %.2f s", lease.id, time.monotonic() - started)
        with reading(self._engine) as connection:
            state = connection.execute(
                select(hub_leases.c.state).where(hub_leases.c.id == lease.id)
            ).scalar()
        if state != LeaseState.ACTIVE.value:  # ended (withdrawn) while the copy was made
            raise LeaseEnded("this lease has ended")
        with self._copies_lock:
            self._copies[lease.id] = made
        return made

    def _load_detector(self) -> Detector | None:
        with self._detector_lock:
            if not self._detector_loaded:
                self._detector = self._detector_factory()
                self._detector_loaded = True
            return self._detector

    def view(self, lease: HubLease, annotator_id: int, span: tuple[int, int], now: float) -> None:
        """Logs one delivery of the lease's copy under the clip's home, before any byte goes
        (the log's errors propagate: a view that is not logged is not sent)."""
        self.audit.append(
            ViewEntry(
                viewer_id=annotator_id,
                viewer_role="annotator",
                household_id=lease.home_id,
                clip_id=lease.clip_id,
                derivative=Derivative.REDACTED,
                time=now,
                lease_id=lease.id,
                byte_range=span,
            )
        )

    def submit(
        self,
        lease: HubLease,
        verdict: ReviewVerdict,
        reason: FalseAlarmReason | None,
        keyframes: Sequence[Keyframe],
        now: float,
    ) -> int:
        """Records the annotation and ends the lease (LeaseEnded if it is not live)."""
        check_verdict(verdict, reason)
        if not self.live(lease, now):
            raise LeaseEnded("this lease has ended")
        with writing(self._engine) as connection:
            if not self._move(connection, lease.id, LeaseEvent.SUBMIT, now):
                raise LeaseEnded("this lease has ended")
            annotation_id = connection.execute(
                insert(hub_annotations).values(
                    home_id=lease.home_id,
                    clip_id=lease.clip_id,
                    lease_id=lease.id,
                    annotator_id=lease.annotator_id,
                    verdict=verdict.value,
                    reason=None if reason is None else reason.value,
                    keyframes=_keyframes_json(keyframes),
                    created_at=now,
                )
            ).inserted_primary_key
        self._drop_copy(lease.id)
        assert annotation_id is not None
        return int(annotation_id[0])

    def release(self, lease: HubLease, now: float) -> None:
        """Gives the clip back unannotated (LeaseEnded if the lease is not live)."""
        if not self.live(lease, now) or not self._end(lease.id, LeaseEvent.RELEASE, now):
            raise LeaseEnded("this lease has ended")

    def report(self, lease: HubLease, now: float) -> bool:
        """ "Should not be here": deletes the clip at once as refused (its home reads why and
        the receipt); False if the lease was not live."""
        if not self.live(lease, now):
            return False
        return self._checks.refuse(lease.home_id, lease.clip_id, REPORTED)

    def expire(self, now: float) -> int:
        """Ends every active lease whose minutes ran out; how many."""
        with reading(self._engine) as connection:
            due = connection.execute(
                select(hub_leases.c.id).where(
                    hub_leases.c.state == LeaseState.ACTIVE.value, hub_leases.c.expires_at <= now
                )
            ).all()
        return sum(self._end(row.id, LeaseEvent.EXPIRE, now) for row in due)

    def forget_clip(self, home_id: int, clip_id: str, now: float) -> int:
        """A clip was deleted (withdrawn, unlinked, expired, refused): its active leases are
        revoked and their copies dropped, its annotations deleted; how many annotations."""
        with writing(self._engine) as connection:
            leases = connection.execute(
                select(hub_leases.c.id).where(
                    hub_leases.c.home_id == home_id,
                    hub_leases.c.clip_id == clip_id,
                    hub_leases.c.state == LeaseState.ACTIVE.value,
                )
            ).all()
            for row in leases:
                self._move(connection, row.id, LeaseEvent.REVOKE, now)
            gone = connection.execute(
                delete(hub_annotations).where(
                    hub_annotations.c.home_id == home_id, hub_annotations.c.clip_id == clip_id
                )
            ).rowcount
        for row in leases:
            self._drop_copy(row.id)
        if gone:
            log.info("a deleted clip took %d annotations with it", gone)
        return int(gone or 0)

    def _move(self, connection: Any, lease_id: str, event: LeaseEvent, now: float) -> bool:
        """Moves an active lease by ``event`` inside ``connection``; False if it was not
        active (ended meanwhile)."""
        new_state = transition(LeaseState.ACTIVE, event)
        moved = connection.execute(
            update(hub_leases)
            .where(hub_leases.c.id == lease_id, hub_leases.c.state == LeaseState.ACTIVE.value)
            .values(state=new_state.value, ended_at=now)
        ).rowcount
        return bool(moved == 1)

    def _end(self, lease_id: str, event: LeaseEvent, now: float) -> bool:
        with writing(self._engine) as connection:
            moved = self._move(connection, lease_id, event, now)
        self._drop_copy(lease_id)
        return moved

    def _drop_copy(self, lease_id: str) -> None:
        with self._copies_lock:
            self._copies.pop(lease_id, None)


def tracks_of(marked: MarkedClip) -> list[dict[str, Any]]:
    """The objects the pre-labels name, one entry a label: best score and boxes seen."""
    hits: Counter[str] = Counter()
    best: dict[str, float] = {}
    for box in marked.prelabels:
        hits[box.label] += 1
        best[box.label] = max(best.get(box.label, 0.0), box.score)
    return [
        {"label": label, "best_score": round(best[label], 3), "hits": n}
        for label, n in hits.most_common()
    ]
