"""The camera-count search of ``hearthcam bench cameras``, over a fake trial with a known limit."""

from __future__ import annotations

from hearthcam_bench.cameras import Trial, first_failure, largest_ok, search, summary
from hearthcam_bench.measure import Usage
from hearthcam_bench.trial import TrialResult, TrialSpec


def _trial(limit: int, busy_once: set[int] | None = None) -> tuple[list[int], Trial]:
    """A trial that passes up to ``limit`` cameras; N in ``busy_once`` fails busy the first time."""
    calls: list[int] = []
    pending = set(busy_once or ())

    def trial(spec: TrialSpec) -> TrialResult:
        calls.append(spec.cameras)
        busy = spec.cameras in pending
        pending.discard(spec.cameras)
        ok = spec.cameras <= limit and not busy
        others = 80.0 if busy else 0.0
        return TrialResult(
            spec=spec,
            usage=Usage(wall=1.0, cpu=0.5, others=others / 100),
            frames_in=10,
            frames_owed=10,
            dropped=0 if ok else 3,
            queued_at_stop=0,
            inferences=0,
            worst_delivery=1.0,
            events=0,
            threats=0,
        )

    return calls, trial


def test_search_doubles_to_the_first_failure_then_bisects_to_within_a_quarter() -> None:
    calls, trial = _trial(limit=21)
    results = search(trial, (4, 8, 16, 32, 64), TrialSpec(0, 1.0), refine=True)
    assert calls[:4] == [4, 8, 16, 32]
    assert calls[4:] == [24, 20]  # (16+32)/2 fails, (16+24)/2 passes; 20..24 is within 20/4
    assert largest_ok(results) == 20
    assert first_failure(results) == 24


def test_a_failure_while_others_are_busy_is_tried_again() -> None:
    calls, trial = _trial(limit=64, busy_once={8})
    results = search(trial, (4, 8, 16), TrialSpec(0, 1.0), refine=True)
    assert calls == [4, 8, 8, 16]
    assert largest_ok(results) == 16
    assert first_failure(results) is None  # 8 failed busy but passed when run again


def test_summary_reports_at_least_n_when_nothing_failed_and_the_ratio() -> None:
    _, trial = _trial(limit=64)
    ours = search(trial, (8, 16), TrialSpec(0, 1.0), refine=False)
    _, naive_trial = _trial(limit=2)
    naive = search(naive_trial, (1, 2, 4), TrialSpec(0, 1.0, naive=True), refine=False)
    table = summary(ours, naive, quick=True)
    assert table.rows[0] == ["hearthcam", "≥ 16", "8, 16", "met"]
    assert table.rows[1] == ["baseline", "2", "1, 2, 4", ""]
    assert table.rows[2][:2] == ["ratio", "8.00x"]
