"""The hub's own checks of the clips homes send: a real hub on loopback, real sealed clips, and
the real models (the intimate-content scan and the face check) on a real clip with faces and on
one the home's redaction blurred; plus a stand-in inspector for the fail-closed paths. A refused
clip is deleted at once with a signed receipt, and its home reads why on its next pass."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from hearthcam.hub.checks import PASSED, REFUSED, HubChecks, ModelInspector
from hearthcam.store.hub_deliveries import DeliveryState
from hearthcam.vision.prepare import share_preparer
from tests.hub.test_delivery import Home, home, hub
from tests.support.hubs import TestHub
from tests.vision.conftest import carphone, carphone_clip

__all__ = ["carphone", "carphone_clip", "home", "hub"]

pytestmark = pytest.mark.integration


class Verdicts:
    """Answers what it is told per clip size, and counts what it was asked."""

    def __init__(self, answer: Callable[[bytes], str | None]) -> None:
        self.answer = answer
        self.asked = 0

    def inspect(self, opener: Callable[[], BinaryIO]) -> str | None:
        self.asked += 1
        return self.answer(opener().read())


@pytest.fixture
def checks(hub: TestHub) -> Iterator[Callable[[Verdicts], HubChecks]]:
    made: list[HubChecks] = []

    def make(verdicts: Verdicts) -> HubChecks:
        opened = HubChecks.from_url(f"sqlite:///{hub.database}", hub.clips, lambda: verdicts)
        made.append(opened)
        hub.checks = opened  # served from now on, as `hub serve` serves its checks
        hub.stop()
        hub.start()
        return opened

    yield make
    for opened in made:
        opened.close()


def _sent(home: Home) -> tuple[str, str]:
    share = home.share()
    home.publish(share)
    assert home.delivery.run_once().sent == [share.id]
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    return share.id, delivery.clip_id


def test_a_clip_that_passes_is_kept_and_one_refused_is_deleted_with_a_receipt_its_home_reads(
    hub: TestHub, home: Home, checks: Callable[[Verdicts], HubChecks]
) -> None:
    passing, passing_clip = _sent(home)
    verdicts = Verdicts(lambda data: None)
    hub_checks = checks(verdicts)
    assert [(o.clip_id, o.state) for o in hub_checks.run_once()] == [(passing_clip, PASSED)]
    assert hub_checks.run_once() == []  # checked once
    assert hub_checks.state(home.home_id, passing_clip) == PASSED

    refused, refused_clip = _sent(home)
    verdicts.answer = lambda data: "the face check found 3 faces in 2 frames"
    [outcome] = hub_checks.run_once()
    assert (outcome.clip_id, outcome.state) == (refused_clip, REFUSED)
    assert [c.clip_id for c in hub.clips.list(home.home_id)] == [passing_clip]  # deleted
    assert len(list(hub.folder.iterdir())) == 1

    assert home.delivery.run_once().refused == [refused]
    delivery = home.deliveries.get(refused)
    assert delivery is not None
    assert delivery.state is DeliveryState.REFUSED
    assert "own checks refused it (the face check found 3 faces in 2 frames)" in delivery.error
    assert delivery.deletion is not None
    kept = home.deliveries.get(passing)
    assert kept is not None
    assert kept.state is DeliveryState.HELD
    assert home.delivery.run_once().refused == []


def test_a_check_that_fails_refuses_the_clip(
    hub: TestHub, home: Home, checks: Callable[[Verdicts], HubChecks]
) -> None:
    _share, clip_id = _sent(home)

    def broken(data: bytes) -> str | None:
        raise RuntimeError("the model would not load")

    hub_checks = checks(Verdicts(broken))
    [outcome] = hub_checks.run_once()
    assert outcome.state == REFUSED
    assert "the check failed: RuntimeError: the model would not load" in outcome.reason
    assert hub.clips.list(home.home_id) == []
    [refused] = hub_checks.refused(home.home_id)
    assert refused["clip_id"] == clip_id
    assert refused["receipt"] is not None


@pytest.mark.timeout(600)
def test_the_real_models_pass_a_redacted_clip_and_refuse_one_with_faces(
    carphone_clip: Path, tmp_path: Path
) -> None:
    from hearthcam.config import parse_config
    from hearthcam.pipeline.detect import load_detector

    config = parse_config({"data_dir": str(tmp_path)})
    preparer = share_preparer(config, load_detector(config.detector))
    redacted = tmp_path / "redacted.mp4"
    prepared = preparer.prepare(carphone_clip, redacted)
    assert prepared.redacted == redacted, prepared
    inspector = ModelInspector()
    original = carphone_clip.read_bytes()
    found = inspector.inspect(lambda: io.BytesIO(original))
    assert found is not None
    assert found.startswith("the face check found")
    blurred = redacted.read_bytes()
    assert inspector.inspect(lambda: io.BytesIO(blurred)) is None
