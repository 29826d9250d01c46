"""The share lifecycle: one enum of states, one of events, one transition function.

A share starts when its owner agreed to the receipt (``CONSENTED``: a private copy of the clip
exists, nobody but the owner can see it). The machine checks move it on: a positive intimate-
content scan *disposes* of it (the copy is destroyed, no human is ever offered it), any failure
leaves it *owner only* (never "shared unredacted"), and only a redacted copy that passed the
second face check is *published* to annotators. Withdrawing (the owner), expiry (the consented
keeping time) and an annotator's "should not be here" end it from any live state. Ended shares
have no media left; a withdrawn or expired one is deleted altogether.
"""

from __future__ import annotations

import enum

from hearthcam.errors import HearthcamError


class ShareStatus(enum.StrEnum):
    """Where a shared clip stands."""

    CONSENTED = "consented"  # waiting for the machine checks; owner only
    CHECKING = "checking"  # being scanned and redacted; owner only
    PUBLISHED = "published"  # the redacted copy may be offered to annotators
    DISPOSED = "disposed"  # intimate content suspected (or reported): destroyed, never shown
    OWNER_ONLY = "owner_only"  # a check failed: stays private ("failed — owner only")


class ShareEvent(enum.StrEnum):
    """What can happen to a share."""

    START_CHECKS = "start_checks"
    SCAN_POSITIVE = "scan_positive"
    CHECKS_FAILED = "checks_failed"
    CHECKS_PASSED = "checks_passed"
    REPORTED = "reported"  # an annotator: "should not be here"
    RETRY = "retry"  # the owner asks for the checks again after a failure


class TransitionError(HearthcamError, ValueError):
    """An event that is not allowed in the share's state (still a ValueError for older callers)."""


_TRANSITIONS: dict[tuple[ShareStatus, ShareEvent], ShareStatus] = {
    (ShareStatus.CONSENTED, ShareEvent.START_CHECKS): ShareStatus.CHECKING,
    (ShareStatus.CHECKING, ShareEvent.SCAN_POSITIVE): ShareStatus.DISPOSED,
    (ShareStatus.CHECKING, ShareEvent.CHECKS_FAILED): ShareStatus.OWNER_ONLY,
    (ShareStatus.CHECKING, ShareEvent.CHECKS_PASSED): ShareStatus.PUBLISHED,
    (ShareStatus.PUBLISHED, ShareEvent.REPORTED): ShareStatus.DISPOSED,
    (ShareStatus.OWNER_ONLY, ShareEvent.RETRY): ShareStatus.CONSENTED,
    # A check that died with the process is started again after a restart.
    (ShareStatus.CHECKING, ShareEvent.RETRY): ShareStatus.CONSENTED,
}

# States in which annotators may be offered the clip: exactly one.
VISIBLE_TO_ANNOTATORS = frozenset({ShareStatus.PUBLISHED})


def transition(status: ShareStatus, event: ShareEvent) -> ShareStatus:
    """The state after ``event``; TransitionError if it cannot happen in ``status``."""
    try:
        return _TRANSITIONS[(status, event)]
    except KeyError:
        raise TransitionError(f"a share that is {status.value} cannot {event.value}") from None
