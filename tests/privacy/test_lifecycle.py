"""The share state machine: the only way to annotators is a passed check."""

from __future__ import annotations

import pytest

from hearthcam.privacy.lifecycle import (
    VISIBLE_TO_ANNOTATORS,
    ShareEvent,
    ShareStatus,
    TransitionError,
    transition,
)


def test_the_happy_path_and_the_two_ways_out() -> None:
    checking = transition(ShareStatus.CONSENTED, ShareEvent.START_CHECKS)
    assert checking is ShareStatus.CHECKING
    assert transition(checking, ShareEvent.CHECKS_PASSED) is ShareStatus.PUBLISHED
    assert transition(checking, ShareEvent.SCAN_POSITIVE) is ShareStatus.DISPOSED
    assert transition(checking, ShareEvent.CHECKS_FAILED) is ShareStatus.OWNER_ONLY
    assert transition(ShareStatus.PUBLISHED, ShareEvent.REPORTED) is ShareStatus.DISPOSED


def test_only_a_passed_check_reaches_annotators() -> None:
    assert {ShareStatus.PUBLISHED} == VISIBLE_TO_ANNOTATORS
    reached = {
        after
        for (before, event) in [(s, e) for s in ShareStatus for e in ShareEvent]
        for after in [_try(before, event)]
        if after is ShareStatus.PUBLISHED
    }
    assert reached == {ShareStatus.PUBLISHED}
    publishers = [
        (s, e) for s in ShareStatus for e in ShareEvent if _try(s, e) is ShareStatus.PUBLISHED
    ]
    assert publishers == [(ShareStatus.CHECKING, ShareEvent.CHECKS_PASSED)]


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (ShareStatus.CONSENTED, ShareEvent.CHECKS_PASSED),  # no skipping the checks
        (ShareStatus.OWNER_ONLY, ShareEvent.CHECKS_PASSED),
        (ShareStatus.DISPOSED, ShareEvent.RETRY),  # a disposed clip never comes back
        (ShareStatus.DISPOSED, ShareEvent.START_CHECKS),
        (ShareStatus.PUBLISHED, ShareEvent.START_CHECKS),
    ],
)
def test_forbidden_moves_raise(status: ShareStatus, event: ShareEvent) -> None:
    with pytest.raises(TransitionError, match=status.value):
        transition(status, event)


def _try(status: ShareStatus, event: ShareEvent) -> ShareStatus | None:
    try:
        return transition(status, event)
    except TransitionError:
        return None
