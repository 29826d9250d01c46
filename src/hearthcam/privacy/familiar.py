"""A household's familiar faces: the switch, enrolment with consent, sealing, crypto-shredding.

Off by default. ``turn_on`` is the owner's; ``enrol`` needs the feature on and the digest of the
exact consent text the owner confirmed (``consent_text``), which is kept with the person like a
share's receipt. Each enrolled face's descriptor and photo are sealed (AES-256-GCM) under a key
of its own that the key ring wraps to the household key (blob id ``face_blob``); ``delete_person``
and ``turn_off`` destroy those keys first (crypto-shred), then the rows. Sealed bytes are bound
to their face and kind (associated data), so rows swapped in the database do not open.

Nothing here is shared, exported or put in a dataset; ``gallery`` (the live path's matcher) and
``photo`` (the owner's People page) are the only ways out, both on the box.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hearthcam.errors import HearthcamError
from hearthcam.store.familiar import (
    Consent,
    FaceRecord,
    FamiliarStore,
    PersonRecord,
    face_blob,
)
from hearthcam.store.shares import receipt_digest
from hearthcam.vault.keyring import Keyring
from hearthcam.vision.familiar import F32, Gallery, decode_descriptor, encode_descriptor

CONSENT_VERSION = 1
NONCE = 12
MAX_NAME = 80


class FamiliarError(HearthcamError):
    """A familiar-faces request that cannot be done (feature off, no consent, unknown person)."""


def consent_text(name: str) -> str:
    """What the owner confirms before enrolling ``name``: shown, then stored word for word."""
    return (
        f"{name} agreed to be recognised by this household's cameras. Their face descriptors "
        "and the photos used stay on this box, encrypted under the household key; they are never "
        "shared, exported or used for training, and are destroyed when this person is deleted "
        "or familiar faces are turned off."
    )


def consent_digest(name: str) -> str:
    """The digest the browser sends back with the consent: what was shown, fixed."""
    return receipt_digest({"version": CONSENT_VERSION, "text": consent_text(name)})


@dataclass(frozen=True, slots=True)
class NewFace:
    """A face to enrol: its descriptor, a JPEG of it (the photo used) and where it came from."""

    descriptor: F32
    photo: bytes
    source: str


class FamiliarFaces:
    """The familiar-faces service of every household over one store and key ring."""

    def __init__(
        self, store: FamiliarStore, keyring: Keyring, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock

    def enabled(self, household_id: int) -> bool:
        """Whether the household turned familiar faces on."""
        return self._store.enabled(household_id)

    def turn_on(self, household_id: int, by: str) -> None:
        """The owner turns familiar faces on for their household."""
        self._store.set_enabled(household_id, True, by, self._clock())

    def turn_off(self, household_id: int, by: str) -> int:
        """Turns the feature off and destroys every person and face of the household;
        returns how many face keys were shredded."""
        self._store.set_enabled(household_id, False, by, self._clock())
        faces = self._store.face_ids(household_id)
        shredded = self._keyring.shred_many(face_blob(f) for f in faces)
        self._store.delete_household(household_id)
        return shredded

    def people(self, household_id: int) -> list[PersonRecord]:
        """The household's enrolled people."""
        return self._store.people(household_id)

    def person(self, household_id: int, person_id: str) -> PersonRecord:
        """One of the household's people; FamiliarError for anyone else's or none."""
        found = self._store.person(person_id)
        if found is None or found.household_id != household_id:
            raise FamiliarError("no such person in this household")
        return found

    def enrol(
        self, household_id: int, name: str, by: str, digest: str, faces: Sequence[NewFace]
    ) -> PersonRecord:
        """Enrols a person with the faces given, after the owner confirmed their consent."""
        if not self.enabled(household_id):
            raise FamiliarError("familiar faces are off for this household")
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise FamiliarError(f"a name of 1 to {MAX_NAME} characters is needed")
        if digest != consent_digest(name):
            raise FamiliarError("the consent confirmed is not the one shown for this person")
        if not faces:
            raise FamiliarError("at least one face is needed")
        now = self._clock()
        consent = Consent(by, now, consent_text(name), digest)
        person = PersonRecord(secrets.token_hex(16), household_id, name, now, consent)
        self._store.add_person(person)
        for face in faces:
            self.add_face(household_id, person.id, face)
        return person

    def add_face(self, household_id: int, person_id: str, face: NewFace) -> str:
        """Seals and stores one more face of a person; returns its id."""
        self.person(household_id, person_id)
        face_id = secrets.token_hex(16)
        key = self._keyring.new_media_key(face_blob(face_id), household_id)
        sealed = _seal(key, face_id, b"descriptor", encode_descriptor(face.descriptor))
        photo = _seal(key, face_id, b"photo", face.photo)
        self._store.add_face(
            FaceRecord(face_id, person_id, household_id, face.source[:128], self._clock(),
                       sealed, photo)
        )  # fmt: skip
        return face_id

    def delete_person(self, household_id: int, person_id: str) -> int:
        """Destroys a person: their face keys first (crypto-shred), then every row; returns
        how many face keys were shredded."""
        self.person(household_id, person_id)
        faces = self._store.face_ids(household_id, person_id)
        shredded = self._keyring.shred_many(face_blob(f) for f in faces)
        self._store.delete_person(person_id)
        return shredded

    def gallery(self, household_id: int) -> Gallery:
        """Every enrolled face of the household, opened (empty when the feature is off)."""
        if not self.enabled(household_id):
            return Gallery.empty()
        faces = self._store.faces(household_id)
        if not faces:
            return Gallery.empty()
        rows = [
            decode_descriptor(_open(self._keyring.media_key(face_blob(f.id)), f.id,
                                    b"descriptor", f.sealed))
            for f in faces
        ]  # fmt: skip
        return Gallery(tuple(f.person_id for f in faces), np.stack(rows).astype(np.float32))

    def faces(self, household_id: int, person_id: str) -> list[FaceRecord]:
        """A person's faces (sealed), for listing the photos used."""
        self.person(household_id, person_id)
        return self._store.faces(household_id, person_id)

    def photo(self, household_id: int, face_id: str) -> bytes:
        """The JPEG used for one face of the household (FamiliarError for any other)."""
        for face in self._store.faces(household_id):
            if face.id == face_id:
                key = self._keyring.media_key(face_blob(face_id))
                return _open(key, face_id, b"photo", face.photo)
        raise FamiliarError("no such face in this household")

    def record_sighting(self, event_id: str, person_id: str, distance: float) -> None:
        """Notes that an event recognised a person."""
        self._store.record_sighting(event_id, person_id, 1.0 - distance, self._clock())

    def names(self, household_id: int, event_id: str) -> list[str]:
        """Who an event recognised, for the household's own members only."""
        return [
            p.name for p, _ in self._store.sightings(event_id) if p.household_id == household_id
        ]


def _aad(face_id: str, kind: bytes) -> bytes:
    return b"hearthcam familiar face v1|" + face_id.encode() + b"|" + kind


def _seal(key: bytes, face_id: str, kind: bytes, data: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, data, _aad(face_id, kind))


def _open(key: bytes, face_id: str, kind: bytes, sealed: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], _aad(face_id, kind))
