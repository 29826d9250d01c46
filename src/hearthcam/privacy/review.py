"""The machine checks of every shared clip, before any human sees a frame: fail-closed.

``ShareChecks.run_once`` takes each consented share, runs ``vision.prepare.ClipPreparer`` over
its private copy and moves the share on (``privacy.lifecycle``):
- intimate content suspected: the copy is destroyed at once and the share is *disposed* (the
  owner reads that it was not shared and why; only a count is kept);
- a redacted copy that passed the second face check: *published* to the review queue;
- anything else (an error, a timeout, a model that cannot load, a refused check, a crash of
  this code): *owner only*, with the reason, and no redacted file left.

A share withdrawn while it was being checked loses the race on purpose: every move is a
compare-and-set on its status, and whatever the check made is deleted.

The owner is told which check decided: a disposal stores the model and class that made the
scan positive (``ScanVerdict.decided_by``; no score), an owner-only share the step that failed.
After a model update the owner may ``rerun`` the checks of an owner-only share: it goes back to
waiting (the move, who and when, and the outcome it replaces, in the share's history; the
receipt unchanged). A disposed share cannot be re-run: its copy is destroyed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from hearthcam.errors import HearthcamError, MediaLocked
from hearthcam.privacy.consent import DISPOSED_COUNTER, Sharing, copy_path, redacted_path
from hearthcam.privacy.lifecycle import ShareEvent, ShareStatus, transition
from hearthcam.store.shares import ShareMove, ShareRecord
from hearthcam.vault.media import MediaIO, write_bytes
from hearthcam.vision.prepare import ClipPreparer, PreparedClip, ShareState, Step

log = logging.getLogger(__name__)

# What the owner reads; never the scores or the frames.
DISPOSED_REASON = (
    "Not shared: the automatic check found what may be intimate content. The copy was "
    "destroyed before anyone saw it."
)
REPORTED_REASON = (
    "Not shared any more: an annotator reported that this clip should not be in the queue. "
    "The copies were destroyed."
)
FAILED_REASON = "Failed — owner only: {why}. Nobody but you can see this clip."
RERUN_REASON = "Waiting for the checks again: you asked to re-run them."
#: Passes whose check of a share was lost on a cluster before the share is owner only.
MAX_LOST = 3


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One share's result of a pass."""

    share_id: str
    status: ShareStatus
    reason: str


def _facts(prepared: PreparedClip) -> dict[str, Any]:
    """Counts the owner may see (no scores that would say what was in the clip)."""
    facts: dict[str, Any] = {}
    if prepared.scan is not None:
        facts["frames_scanned"] = prepared.scan.frames_scanned
        decided = prepared.scan.decided_by
        if prepared.state is ShareState.DISPOSED and decided is not None:
            facts["decided_by"] = {"model": decided.model, "label": decided.label}
    if prepared.state is ShareState.OWNER_ONLY:
        facts["failed_step"] = prepared.failed_step.value if prepared.failed_step else "crash"
    if prepared.redaction is not None:
        result = prepared.redaction
        facts.update(
            frames=result.frames,
            faces_blurred=result.faces_found,
            people_blurred=result.people_found,
            faces_left=result.check.faces,
        )
    return facts


def _why(prepared: PreparedClip) -> str:
    if prepared.failed_step is Step.CHECK:
        return "faces could still be seen after blurring"
    step = prepared.failed_step.value if prepared.failed_step else "check"
    return f"the {step} step did not finish: {prepared.failure or 'no reason given'}"


def report(sharing: Sharing, share_id: str, now: float) -> bool:
    """An annotator's "should not be here": the published share is disposed of at once (its
    copies destroyed, then the status moved), so nobody is offered it again; the owner reads
    why. False if the share was not published (any more)."""
    record = sharing.shares.get(share_id)
    if record is None or record.status != ShareStatus.PUBLISHED.value:
        return False
    for listener in sharing.listeners:  # leases end and annotations go with the clip
        listener.on_withdrawn(share_id)
    sharing.delete_media(share_id)
    status = transition(ShareStatus.PUBLISHED, ShareEvent.REPORTED)
    move = ShareMove(now, ShareEvent.REPORTED.value, ShareStatus.PUBLISHED.value, status.value)
    moved = sharing.shares.set_status(
        share_id, ShareStatus.PUBLISHED.value, status.value, now, REPORTED_REASON, {}, move=move
    )
    if moved:
        sharing.shares.bump(DISPOSED_COUNTER)
    return moved


class RerunRefused(HearthcamError):
    """The checks of a share cannot be re-run in its state; the message says why, for people."""


def rerun(sharing: Sharing, share_id: str, by: int, now: float) -> ShareRecord:
    """The owner's "re-run the checks" (after a model update): an owner-only share goes back
    to waiting for the checks, its receipt unchanged; the move (``by``, ``now``, and the reason
    it replaces) goes into its history. RerunRefused for a share in any other state; the
    caller wakes the checker."""
    record = sharing.shares.get(share_id)
    if record is None:
        raise RerunRefused("there is no such share")
    current = ShareStatus(record.status)
    if current is ShareStatus.DISPOSED:
        raise RerunRefused(
            "a disposed share cannot be checked again: its copy was destroyed. Share the clip "
            "again to have it checked anew."
        )
    if current is not ShareStatus.OWNER_ONLY:
        raise RerunRefused(f"only a failed share can be checked again; this one is {current}")
    after = transition(current, ShareEvent.RETRY)
    move = ShareMove(now, ShareEvent.RETRY.value, current.value, after.value, by, record.reason)
    if not sharing.shares.set_status(
        share_id, current.value, after.value, now, RERUN_REASON, {}, move=move
    ):
        raise RerunRefused("the share changed meanwhile; reload to see where it stands")
    moved = sharing.shares.get(share_id)
    if moved is None:
        raise RerunRefused("the share was withdrawn meanwhile")
    return moved


def prepare_share(
    preparer: ClipPreparer, data_dir: Path, media: MediaIO, share_id: str, camera: str
) -> PreparedClip:
    """Runs ``preparer`` over a share's private copy and stores the redacted copy beside it:
    read through the media IO and made in memory, then stored by it, so a sealed data
    directory never holds a plaintext frame of the shared clip. Here or on a cluster's node."""
    source, target = copy_path(data_dir, share_id), redacted_path(data_dir, share_id)

    def opener() -> BinaryIO:
        return cast(BinaryIO, media.open(source))

    def sink(path: Path, data: bytes) -> Path:
        return write_bytes(media, path, camera, data)

    return preparer.prepare(opener, target, sink)


class RemoteChecks(Protocol):
    """Runs the checks of several shares elsewhere (on a cluster's workers), at once."""

    def prepare(
        self, shares: Sequence[ShareRecord], stop: threading.Event
    ) -> Iterator[tuple[ShareRecord, PreparedClip | None]]:
        """Each share with its outcome, as they finish (in any order). None: the worker was
        lost before it answered (its node died), or ``stop`` was set (the server stops: what
        is still running is cancelled); the share is checked again. A check that crashed on
        its worker comes back as an owner-only outcome."""
        ...


class ShareChecks:
    """Runs the machine checks over consented shares: one at a time here, or all waiting at
    once on a cluster's workers (``remote``)."""

    def __init__(
        self,
        sharing: Sharing,
        preparer: Callable[[], ClipPreparer],
        clock: Callable[[], float] = time.time,
        remote: Callable[[], RemoteChecks] | None = None,
        on_published: Callable[[str], None] = lambda share_id: None,
    ) -> None:
        """``preparer`` builds the preparer (loads the models) on first use; if it raises,
        every share of that pass stays owner only and the next pass tries again.
        ``remote`` connects to the cluster whose workers check the shares instead (on first
        use); while it cannot, shares keep waiting, consented. ``on_published`` hears of each
        share published (a review hub's delivery is woken by it)."""
        self._on_published = on_published
        self._sharing = sharing
        self._make_preparer = preparer
        self._preparer: ClipPreparer | None = None
        self._make_remote = remote
        self._remote: RemoteChecks | None = None
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()  # run_forever's: a cluster pass ends early on it
        self._lost: dict[str, int] = {}  # share id -> passes in a row its check was lost

    def resume(self) -> int:
        """Puts shares whose check died with the process back in the queue; returns how many."""
        stuck = self._sharing.shares.with_status(ShareStatus.CHECKING.value, limit=10_000)
        for share in stuck:
            self._retry(share)
        return len(stuck)

    def run_once(self) -> list[CheckOutcome]:
        """Checks every share waiting now; returns what became of each."""
        waiting = self._sharing.shares.with_status(ShareStatus.CONSENTED.value)
        if self._make_remote is None:
            return [o for o in (self._check(s) for s in waiting) if o is not None]
        remote = self._connected() if waiting else None
        if remote is None:
            return []
        started = {share.id: share for share in waiting if self._start(share)}
        outcomes = []
        try:
            for share, prepared in remote.prepare(list(started.values()), self._stop):
                del started[share.id]
                if prepared is None and not self._stop.is_set():
                    prepared = self._lost_again(share.id)
                if prepared is None:
                    self._retry(share)
                    log.warning(
                        "share %s: its check was lost; it waits for the next pass", share.id
                    )
                elif (outcome := self._settle(share, prepared)) is not None:
                    self._lost.pop(share.id, None)
                    outcomes.append(outcome)
        except Exception:
            # The cluster failed us mid-pass (a lost connection): reconnect at the next pass,
            # and what had not come back waits for it.
            self._remote = None
            raise
        finally:
            for share in started.values():
                self._retry(share)
        return outcomes

    def _lost_again(self, share_id: str) -> PreparedClip | None:
        """A share whose check was lost on the cluster once more: after ``MAX_LOST`` times (a
        clip that kills its worker every time, say) it is owner only; before, None (retried)."""
        self._lost[share_id] = self._lost.get(share_id, 0) + 1
        if self._lost[share_id] < MAX_LOST:
            return None
        del self._lost[share_id]
        failure = f"its check was lost on the cluster {MAX_LOST} times (its worker or node died)"
        return PreparedClip(ShareState.OWNER_ONLY, failure=failure)

    def _connected(self) -> RemoteChecks | None:
        """The cluster's workers, connected on first use (None, logged, while they cannot be)."""
        if self._remote is None and self._make_remote is not None:
            try:
                self._remote = self._make_remote()
            except Exception as error:
                log.warning("share checks: the cluster cannot be reached (%s); shares wait", error)
        return self._remote

    def _retry(self, share: ShareRecord) -> None:
        """A share whose check was lost (on a cluster, or with the process) goes back to
        waiting; whatever it made is deleted."""
        after, now = transition(ShareStatus.CHECKING, ShareEvent.RETRY), self._clock()
        move = ShareMove(now, ShareEvent.RETRY.value, ShareStatus.CHECKING.value, after.value)
        shares = self._sharing.shares
        shares.set_status(share.id, ShareStatus.CHECKING.value, after.value, now, move=move)
        self._sharing.delete_redacted(share.id)

    def _locked(self, share: ShareRecord) -> bool:
        """Whether the shared copy cannot be read before its owner signs in (password mode):
        then it waits, consented, instead of failing. Other errors are the checks' to report."""
        try:
            self._sharing.media.open(copy_path(self._sharing.data_dir, share.id)).close()
        except MediaLocked:
            return True
        except Exception:
            pass
        return False

    def _start(self, share: ShareRecord) -> bool:
        """Moves a waiting share to checking; False if it must wait (locked) or was taken."""
        shares, now = self._sharing.shares, self._clock()
        if self._locked(share):
            return False
        checking = transition(ShareStatus.CONSENTED, ShareEvent.START_CHECKS)
        move = ShareMove(
            now, ShareEvent.START_CHECKS.value, ShareStatus.CONSENTED.value, checking.value
        )
        # False: withdrawn, or taken by another pass
        return shares.set_status(
            share.id, ShareStatus.CONSENTED.value, checking.value, now, move=move
        )

    def _check(self, share: ShareRecord) -> CheckOutcome | None:
        if not self._start(share):
            return None
        try:
            prepared = self._prepare(share)
        except Exception as error:  # fail closed, whatever broke
            log.exception("checks of share %s crashed; it stays with its owner", share.id)
            prepared = PreparedClip(ShareState.OWNER_ONLY, failure=f"it crashed ({error})")
        return self._settle(share, prepared)

    def _prepare(self, share: ShareRecord) -> PreparedClip:
        if self._preparer is None:
            try:
                self._preparer = self._make_preparer()
            except Exception as error:
                log.warning("the check models could not be loaded: %s", error)
                return PreparedClip.failed(Step.LOAD, error)
        sharing = self._sharing
        return prepare_share(
            self._preparer, sharing.data_dir, sharing.media, share.id, share.camera
        )

    def _settle(self, share: ShareRecord, prepared: PreparedClip) -> CheckOutcome | None:
        shares, now = self._sharing.shares, self._clock()
        prelabels: dict[str, Any] | None = None
        if prepared.state is ShareState.DISPOSED:
            # Destroyed before the status says so: a crash in between leaves no copy behind.
            self._sharing.delete_media(share.id)
            event, reason = ShareEvent.SCAN_POSITIVE, DISPOSED_REASON
        elif prepared.state is ShareState.PUBLISHABLE:
            event, reason = ShareEvent.CHECKS_PASSED, ""
            found = prepared.redaction.prelabels if prepared.redaction is not None else None
            prelabels = None if found is None else found.to_json()
        else:
            self._sharing.delete_redacted(share.id)
            event, reason = ShareEvent.CHECKS_FAILED, FAILED_REASON.format(why=_why(prepared))
        status = transition(ShareStatus.CHECKING, event)
        moved = shares.set_status(
            share.id,
            ShareStatus.CHECKING.value,
            status.value,
            now,
            reason,
            _facts(prepared),
            prelabels,
            ShareMove(now, event.value, ShareStatus.CHECKING.value, status.value),
        )
        if not moved:  # withdrawn meanwhile: nothing this pass made may stay
            self._sharing.delete_media(share.id)
            return None
        if status is ShareStatus.DISPOSED:
            shares.bump(DISPOSED_COUNTER)
        elif status is ShareStatus.PUBLISHED:
            self._on_published(share.id)
        log.info("share %s: %s", share.id, status.value)
        return CheckOutcome(share.id, status, reason)

    def notify(self) -> None:
        """Wakes ``run_forever`` (a share was just made, or it is to stop)."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, interval: float = 30.0) -> None:
        """Checks waiting shares (and ends expired ones) until ``stop``; wakes on ``notify``
        or every ``interval``."""
        self.resume()
        self._stop = stop
        while not stop.is_set():
            try:
                self._sharing.expire(self._clock())
                self.run_once()
            except Exception:  # a database hiccup: the shares stay consented, tried again
                log.exception("share checks failed; trying again later")
            deadline = time.monotonic() + interval
            # Short waits, so a stop is seen within half a second.
            while not (stop.is_set() or self._wake.is_set()) and time.monotonic() < deadline:
                self._wake.wait(0.5)
            self._wake.clear()
