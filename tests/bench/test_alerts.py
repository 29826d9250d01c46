"""Matching alerts to appearances in the ``alerts`` scenario (pure; the broker is in test_mqtt)."""

from __future__ import annotations

import pytest

from hearthcam_bench.alerts import delays
from hearthcam_bench.trial import Entrance


def test_delays_match_alerts_to_appearances_by_event_id() -> None:
    entrances = [
        Entrance("cam00", 0.25, 0.6, None, event_id="a", appeared=100.0),
        Entrance("cam01", 0.25, 0.6, None, event_id="b", appeared=200.0),
        Entrance("cam01", None, None, None),  # people that started no event
        Entrance("cam02", 0.3, None, None, event_id="c", appeared=300.0),  # never alerted
    ]
    found, missing = delays(entrances, {"a": 100.75, "b": 201.0, "zzz": 5.0})
    assert found == pytest.approx([0.75, 1.0])
    assert missing == 2
