"""Familiar faces on the whole live path, over a file: real faces composited into real footage.

The carphone man, enrolled by the household that owns the camera, walks across vtest.avi's
empty walkway, then the astronaut (a stranger) does. Analysed like ``hearthcam analyze`` with
the real detector, CenterFace and dlib: his visit is "familiar" (and names him), hers stays a
threat. With the feature off, both are threats.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hearthcam import analysis
from hearthcam.accounts import Accounts
from hearthcam.config import Config, parse_config
from hearthcam.privacy.familiar import FamiliarFaces, NewFace, consent_digest
from hearthcam.runtime import camera_name_for
from hearthcam.store.db import Store
from hearthcam.store.familiar import FamiliarStore
from hearthcam.types import Event, Verdict
from hearthcam.vault.keyring import Keyring
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.familiar import DlibDescriber
from hearthcam_bench.redact import carphone_frames
from tests.support.familiar_scene import write_visits
from tests.support.known_faces import astronaut, carphone_man, largest_face
from tests.support.world import cheap_hasher

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The man's visit (every third frame of his clip, enlarged), then the astronaut's."""
    man = [
        np.asarray(cv2.resize(f, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), np.uint8)
        for f in carphone_frames()[::3]
    ]
    path = tmp_path_factory.mktemp("familiar") / "porch.mp4"
    write_visits(path, [man, [astronaut()]])
    return path


def household_with_sam(config: Config, camera: str, turn_off: bool = False) -> None:
    """A household owning the camera, with the man enrolled (from another frame of his clip)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    try:
        owner = Accounts(store, hasher=cheap_hasher()).setup(
            "lena", "copper kettle on the stove", "Home", [camera], 0.0
        )
        assert owner.household_id is not None
        keyring = Keyring.open(store, config.data_dir)
        keyring.ensure_household(owner.household_id)
        familiar = FamiliarFaces(FamiliarStore(store), keyring)
        familiar.turn_on(owner.household_id, "lena")
        image = carphone_man()[0]
        box = largest_face(CenterFace(), image)
        face = NewFace(DlibDescriber().describe(image, box), b"jpeg", "upload")
        familiar.enrol(owner.household_id, "Sam", "lena", consent_digest("Sam"), [face])
        if turn_off:
            familiar.turn_off(owner.household_id, "lena")
    finally:
        store.close()


def names(config: Config, event: Event) -> list[str]:
    store = Store.open(config.database_url, data_dir=config.data_dir)
    try:
        found = FamiliarStore(store).sightings(event.id)
        return [person.name for person, _ in found]
    finally:
        store.close()


def test_the_enrolled_man_is_familiar_and_the_stranger_a_threat(
    scene: Path, tmp_path: Path
) -> None:
    config = parse_config({"data_dir": str(tmp_path / "data")})
    household_with_sam(config, camera_name_for(str(scene)))
    events = analysis.analyze(str(scene), config)
    assert [e.verdict for e in events] == [Verdict.FAMILIAR, Verdict.THREAT]
    assert all(e.labels == ("person",) for e in events)
    assert names(config, events[0]) == ["Sam"]
    assert names(config, events[1]) == []
    # His face was recognised on the frame his track was confirmed: the event went from motion
    # to familiar without ever being a threat, so the default rule (threats) never flagged it.
    assert [e.alert for e in events] == [False, True]


def test_with_the_feature_turned_off_both_are_threats(scene: Path, tmp_path: Path) -> None:
    config = parse_config({"data_dir": str(tmp_path / "data")})
    household_with_sam(config, camera_name_for(str(scene)), turn_off=True)
    events = analysis.analyze(str(scene), config)
    assert [e.verdict for e in events] == [Verdict.THREAT, Verdict.THREAT]
    assert names(config, events[0]) == []
