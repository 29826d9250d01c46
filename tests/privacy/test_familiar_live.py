"""The live path's galleries over the real key ring, and enrolment from pictures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hearthcam.privacy.familiar import FamiliarError, FamiliarFaces, NewFace, consent_digest
from hearthcam.privacy.familiar_enrol import Enroller, decode_picture
from hearthcam.privacy.familiar_live import Galleries, face_models
from hearthcam.store.db import Store
from hearthcam.store.familiar import FamiliarStore
from hearthcam.vault.keyring import KdfParams, Keyring
from hearthcam.vision.familiar import DESCRIPTOR_SIZE, match
from tests.support.known_faces import astronaut, carphone_man

CHEAP = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
HOME = 1
PASSWORD = "a long household passphrase"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keyring(store: Store, data_dir: Path) -> Keyring:
    ring = Keyring.open(store, data_dir, kdf=CHEAP)
    ring.ensure_household(HOME)
    return ring


def sam(familiar: FamiliarFaces) -> str:
    familiar.turn_on(HOME, "owner")
    face = NewFace(np.zeros(DESCRIPTOR_SIZE, np.float32), b"photo", "upload")
    return familiar.enrol(HOME, "Sam", "owner", consent_digest("Sam"), [face]).id


def test_a_locked_household_has_no_gallery_until_unlocked(store: Store, keyring: Keyring) -> None:
    familiar = FamiliarFaces(FamiliarStore(store), keyring)
    sam(familiar)
    keyring.enable_password(HOME, PASSWORD)
    keyring.lock(HOME)
    clock = Clock()
    galleries = Galleries(familiar, {"porch": HOME}.get, ttl=10.0, clock=clock)
    assert len(galleries("porch")) == 0  # locked: nobody is known, the camera does not wait
    assert len(galleries("shed")) == 0  # nobody's camera
    keyring.unlock(HOME, PASSWORD)
    assert len(galleries("porch")) == 0  # still the cached answer
    clock.now = 11.0
    assert len(galleries("porch")) == 1


def test_an_enrolment_reaches_the_live_path_within_the_ttl(store: Store, keyring: Keyring) -> None:
    familiar = FamiliarFaces(FamiliarStore(store), keyring)
    clock = Clock()
    galleries = Galleries(familiar, {"porch": HOME}.get, ttl=10.0, clock=clock)
    assert len(galleries("porch")) == 0
    person = sam(familiar)
    clock.now = 10.5
    gallery = galleries("porch")
    found = match(gallery, np.zeros(DESCRIPTOR_SIZE, np.float32))
    assert found is not None
    assert found.person_id == person
    familiar.delete_person(HOME, person)
    clock.now = 21.0
    assert len(galleries("porch")) == 0


def test_enrolment_takes_the_largest_face_and_refuses_pictures_without_one() -> None:
    enroller = Enroller(face_models)
    ok, png = cv2.imencode(".png", carphone_man()[0])
    assert ok
    face = enroller.face(decode_picture(png.tobytes()), "upload")
    assert face.descriptor.shape == (DESCRIPTOR_SIZE,)
    photo = cv2.imdecode(np.frombuffer(face.photo, np.uint8), cv2.IMREAD_COLOR)
    assert photo is not None
    assert max(photo.shape[:2]) <= 160
    tiny = np.asarray(cv2.resize(astronaut(), (128, 128), interpolation=cv2.INTER_AREA), np.uint8)
    with pytest.raises(FamiliarError, match="too small"):  # found at 22 px
        enroller.face(tiny, "upload")
    with pytest.raises(FamiliarError, match="no face"):
        enroller.face(np.full((200, 200, 3), 127, np.uint8), "upload")
    with pytest.raises(FamiliarError, match="JPEG or PNG"):
        decode_picture(b"not a picture")
