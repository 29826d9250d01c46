"""Familiar faces: off by default, enrolment only with the consent shown, sealed descriptors,
crypto-shredding on delete and on turning the feature off (a real SQLite store and key ring)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from hearthcam.privacy.familiar import (
    FamiliarError,
    FamiliarFaces,
    NewFace,
    consent_digest,
    consent_text,
)
from hearthcam.store.db import Store
from hearthcam.store.familiar import FACE_BLOB_PREFIX, FamiliarStore, face_blob
from hearthcam.types import BGRImage
from hearthcam.vault.keyring import KdfParams, Keyring, NoMediaKey
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.familiar import DlibDescriber, encode_descriptor, match
from tests.support.known_faces import astronaut, carphone_man, largest_face, saved_event

CHEAP = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
HOME, OTHER = 1, 2


@pytest.fixture(scope="module")
def describer() -> DlibDescriber:
    return DlibDescriber()


@pytest.fixture
def keyring(store: Store, data_dir: Path) -> Keyring:
    ring = Keyring.open(store, data_dir, kdf=CHEAP)
    ring.ensure_household(HOME)
    ring.ensure_household(OTHER)
    return ring


@pytest.fixture
def familiar(store: Store, keyring: Keyring) -> FamiliarFaces:
    return FamiliarFaces(FamiliarStore(store), keyring, clock=lambda: 1_790_000_000.0)


def new_face(describer: DlibDescriber, faces: CenterFace, image: BGRImage, source: str) -> NewFace:
    box = largest_face(faces, image)
    x0, y0, x1, y1 = (int(v) for v in box)
    ok, jpeg = cv2.imencode(".jpg", image[y0:y1, x0:x1])
    assert ok
    return NewFace(describer.describe(image, box), jpeg.tobytes(), source)


def test_off_by_default_and_no_enrolment_while_off(
    familiar: FamiliarFaces, describer: DlibDescriber, faces: CenterFace
) -> None:
    assert not familiar.enabled(HOME)
    face = new_face(describer, faces, carphone_man()[0], "upload")
    with pytest.raises(FamiliarError, match="off"):
        familiar.enrol(HOME, "Sam", "owner", consent_digest("Sam"), [face])
    assert len(familiar.gallery(HOME)) == 0


def test_enrolment_needs_the_consent_shown_and_keeps_its_receipt(
    familiar: FamiliarFaces, describer: DlibDescriber, faces: CenterFace
) -> None:
    familiar.turn_on(HOME, "owner")
    face = new_face(describer, faces, carphone_man()[0], "upload")
    with pytest.raises(FamiliarError, match="consent"):
        familiar.enrol(HOME, "Sam", "owner", consent_digest("Someone else"), [face])
    person = familiar.enrol(HOME, "Sam", "owner", consent_digest("Sam"), [face])
    assert person.consent.by == "owner"
    assert person.consent.text == consent_text("Sam")
    assert person.consent.at == 1_790_000_000.0
    assert [p.name for p in familiar.people(HOME)] == ["Sam"]
    assert familiar.people(OTHER) == []
    with pytest.raises(FamiliarError):
        familiar.person(OTHER, person.id)  # another household cannot reach them


def test_descriptors_are_sealed_and_match_the_same_man(
    familiar: FamiliarFaces, describer: DlibDescriber, faces: CenterFace, database_url: str
) -> None:
    familiar.turn_on(HOME, "owner")
    enrolled = new_face(describer, faces, carphone_man()[0], "upload")
    person = familiar.enrol(HOME, "Sam", "owner", consent_digest("Sam"), [enrolled])
    # The SQLite file and its write-ahead log (a fresh write may be only in the log).
    file = Path(database_url.removeprefix("sqlite:///"))
    database = b"".join(f.read_bytes() for f in file.parent.glob(f"{file.name}*"))
    assert len(database) > 0
    assert encode_descriptor(enrolled.descriptor) not in database
    assert enrolled.photo[:2000] not in database
    gallery = familiar.gallery(HOME)
    later = carphone_man()[3]
    found = match(gallery, describer.describe(later, largest_face(faces, later)))
    assert found is not None
    assert found.person_id == person.id
    stranger = astronaut()
    assert match(gallery, describer.describe(stranger, largest_face(faces, stranger))) is None
    face_id = familiar.faces(HOME, person.id)[0].id
    assert familiar.photo(HOME, face_id) == enrolled.photo
    with pytest.raises(FamiliarError):
        familiar.photo(OTHER, face_id)


def test_deleting_a_person_shreds_their_faces(
    familiar: FamiliarFaces, keyring: Keyring, store: Store, describer: DlibDescriber,
    faces: CenterFace,
) -> None:  # fmt: skip
    familiar.turn_on(HOME, "owner")
    frames = carphone_man()
    person = familiar.enrol(
        HOME, "Sam", "owner", consent_digest("Sam"),
        [new_face(describer, faces, frames[i], f"event:{i}") for i in (0, 1)],
    )  # fmt: skip
    kept = familiar.faces(HOME, person.id)
    assert len(kept) == 2
    assert all(keyring.has_key(face_blob(f.id)) for f in kept)
    ev1 = saved_event(store, "1" * 32).id
    familiar.record_sighting(ev1, person.id, 0.3)
    assert familiar.names(HOME, ev1) == ["Sam"]
    assert familiar.names(OTHER, ev1) == []
    assert familiar.delete_person(HOME, person.id) == 2
    assert familiar.people(HOME) == []
    assert familiar.names(HOME, ev1) == []
    for face in kept:  # a copy of the sealed rows taken before is useless now
        with pytest.raises(NoMediaKey):
            keyring.media_key(face_blob(face.id))
    assert FamiliarStore(store).faces(HOME) == []


def test_turning_off_destroys_every_face_of_the_household(
    familiar: FamiliarFaces, keyring: Keyring, describer: DlibDescriber, faces: CenterFace
) -> None:
    for household in (HOME, OTHER):
        familiar.turn_on(household, "owner")
        familiar.enrol(household, "Sam", "owner", consent_digest("Sam"),
                       [new_face(describer, faces, carphone_man()[0], "upload")])  # fmt: skip
    assert familiar.turn_off(HOME, "owner") == 1
    assert not familiar.enabled(HOME)
    assert familiar.people(HOME) == []
    assert len(familiar.gallery(HOME)) == 0
    assert keyring.blob_ids(FACE_BLOB_PREFIX, HOME) == []
    assert len(familiar.gallery(OTHER)) == 1  # the other household keeps theirs


def test_deleting_an_event_deletes_who_it_recognised(
    familiar: FamiliarFaces, store: Store, describer: DlibDescriber, faces: CenterFace
) -> None:
    familiar.turn_on(HOME, "owner")
    face = new_face(describer, faces, carphone_man()[0], "upload")
    person = familiar.enrol(HOME, "Sam", "owner", consent_digest("Sam"), [face])
    event = saved_event(store, "2" * 32)
    familiar.record_sighting(event.id, person.id, 0.3)
    assert familiar.names(HOME, event.id) == ["Sam"]
    assert store.delete_event(event.id)
    assert familiar.names(HOME, event.id) == []
    assert FamiliarStore(store).sightings(event.id) == []
    assert [p.name for p in familiar.people(HOME)] == ["Sam"]  # the person stays
