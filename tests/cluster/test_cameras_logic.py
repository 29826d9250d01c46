"""The server side of cluster cameras that needs no cluster: what footage retention must keep
for cameras whose actors answer, or have gone silent (tests/cluster/test_cameras.py runs the
real cluster)."""

from __future__ import annotations

from hearthcam.cluster.cameras import STALE, footage_needed

NOW = 10_000.0


def test_retention_keeps_what_the_open_events_need_and_a_silent_cameras_recent_footage() -> None:
    assert footage_needed([], NOW, 25.0) is None
    # Answering cameras: what their open events need, nothing when none is open.
    assert footage_needed([(None, NOW - 0.2), (None, NOW - 0.4)], NOW, 25.0) is None
    assert footage_needed([(9_950.0, NOW - 0.2), (9_900.0, NOW - 0.4)], NOW, 25.0) == 9_900.0
    # A camera silent since NOW - 60 (its node died): an event may have begun since, reaching
    # back 25 s before its start; its last known need is kept too, whichever is earlier.
    silent = NOW - STALE - 55.0
    assert footage_needed([(None, silent)], NOW, 25.0) == silent - 25.0
    assert footage_needed([(silent - 100.0, silent)], NOW, 25.0) == silent - 100.0
    # Never everything: the rest of the footage stays free for retention.
    assert footage_needed([(None, silent), (9_990.0, NOW)], NOW, 25.0) == silent - 25.0
