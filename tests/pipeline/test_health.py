"""A camera's health: errors logged once and their repeats summed up, the connection's states,
and the counters the owner sees."""

from __future__ import annotations

import logging

import pytest

from hearthcam.pipeline.health import (
    SUMMARY_EVERY,
    CameraHealth,
    Connection,
    HealthMonitor,
    RepeatedErrors,
)

LOGGER = "hearthcam.test.health"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_an_error_is_logged_once_and_its_repeats_summed_up_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    errors = RepeatedErrors(logging.getLogger(LOGGER), clock)
    caplog.set_level(logging.WARNING, LOGGER)
    counts = []
    for _ in range(100):  # a failure on every frame for 10 s
        counts.append(errors.report("cam: analysis failed: KeyError: 'cam'"))
        clock.now += 0.1
    assert counts == list(range(1, 101))
    assert lines(caplog) == ["cam: analysis failed: KeyError: 'cam'"]

    clock.now += SUMMARY_EVERY  # a minute after the first line: the repeats are summed up
    assert errors.report("cam: analysis failed: KeyError: 'cam'") == 101
    assert lines(caplog)[1:] == ["cam: analysis failed: KeyError: 'cam' (repeated 100 more times)"]
    summary = [r for r in caplog.records if r.name == LOGGER][1]
    assert getattr(summary, "repeat", False) is True

    clock.now += 1
    errors.report("cam: analysis failed: KeyError: 'cam'")
    # Another error is logged at once, and the repeats not yet summed up go out before it.
    assert errors.report("cam: connect failed") == 1
    assert lines(caplog)[2:] == [
        "cam: analysis failed: KeyError: 'cam' (repeated 1 more times)",
        "cam: connect failed",
    ]
    assert errors.report("cam: analysis failed: KeyError: 'cam'") == 1  # a new run of repeats


def test_the_first_occurrence_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    errors = RepeatedErrors(logging.getLogger(LOGGER), FakeClock())
    caplog.set_level(logging.WARNING, LOGGER)
    for _ in range(3):
        try:
            raise KeyError("cam")
        except KeyError:
            errors.report("cam: analysis failed", exc_info=True)
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.exc_info is not None
    assert record.exc_info[0] is KeyError


def monitor() -> tuple[HealthMonitor, FakeClock]:
    clock = FakeClock()
    return HealthMonitor("porch", logging.getLogger(LOGGER), clock), clock


def test_a_new_camera_is_connecting_with_nothing_counted() -> None:
    health, _clock = monitor()
    now = health.snapshot()
    assert now == CameraHealth(
        "porch", Connection.CONNECTING, 0, 0, 0, 0, None, None, 0, None, None, 0
    )
    assert CameraHealth.off("porch").connection is Connection.STOPPED
    assert not now.analysing


def test_connection_transitions_and_reconnects() -> None:
    health, clock = monitor()
    health.connected()
    assert health.snapshot().connection is Connection.LIVE
    assert health.snapshot().connected_since == clock.now
    assert health.snapshot().reconnects == 0  # the first connection is no reconnect

    clock.now += 10
    health.disconnected()
    lost = health.snapshot()
    assert (lost.connection, lost.connected_since) == (Connection.RECONNECTING, None)
    clock.now += 5
    health.connected()
    back = health.snapshot()
    assert (back.connection, back.connected_since, back.reconnects) == (Connection.LIVE, 1015, 1)

    health.connected()  # a new stream while connected (the source switched inputs) counts too
    assert health.snapshot().reconnects == 2
    health.stopped()
    assert health.snapshot().connection is Connection.STOPPED
    assert health.snapshot().connected_since is None


def test_frames_in_analysed_and_dropped_are_counted() -> None:
    health, _clock = monitor()
    for i in range(10):
        health.frame_in(2000.0 + i)
        if i % 5 == 4:
            health.frame_dropped()
        else:
            health.frame_analysed()
    now = health.snapshot()
    assert (now.frames_in, now.frames_analysed, now.frames_dropped) == (10, 8, 2)
    assert now.last_frame_at == 2009.0
    assert now.connection is Connection.LIVE  # frames arriving is being live
    assert now.analysing


def test_analysis_errors_and_the_last_error_with_its_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health, clock = monitor()
    caplog.set_level(logging.WARNING, LOGGER)
    for _ in range(5):
        health.frame_in(clock.now)
        health.frame_analysed()
        health.error("porch: analysis failed: KeyError: 'porch'", analysis=True)
        clock.now += 0.2
    now = health.snapshot()
    assert now.analysis_errors == 5
    assert not now.analysing  # every analysed frame failed
    assert now.analysis_failing
    assert now.last_error == "porch: analysis failed: KeyError: 'porch'"
    assert now.last_error_count == 5
    assert now.last_error_at == pytest.approx(clock.now - 0.2)
    assert len(lines(caplog)) == 1

    health.error("porch: rtsp://u:***@cam/s: connection refused")
    now = health.snapshot()
    assert now.analysis_errors == 5  # a source error is no analysis error
    assert now.analysis_failing  # still: no frame was analysed since

    health.frame_analysed()  # this one works...
    assert health.snapshot().analysis_failing  # ...which is known once it ended:
    health.frame_analysed()
    assert not health.snapshot().analysis_failing
    assert (now.last_error_count, now.last_error) == (
        1,
        "porch: rtsp://u:***@cam/s: connection refused",
    )
