"""dlib's face descriptor from hearthcam's model files, and matching against a gallery."""

from __future__ import annotations

import numpy as np
import pytest

from hearthcam.vision.faces import CenterFace
from hearthcam.vision.familiar import (
    ACCEPT,
    DESCRIPTOR_SIZE,
    DlibDescriber,
    Gallery,
    decode_descriptor,
    encode_descriptor,
    match,
    nearest,
)
from tests.support.known_faces import astronaut, carphone_man, largest_face


@pytest.fixture(scope="module")
def describer() -> DlibDescriber:
    return DlibDescriber()


def test_the_same_man_matches_and_another_person_does_not(
    describer: DlibDescriber, faces: CenterFace
) -> None:
    frames = carphone_man()
    enrolled = describer.describe(frames[0], largest_face(faces, frames[0]))
    assert enrolled.shape == (DESCRIPTOR_SIZE,)
    gallery = Gallery(("man",), enrolled[None, :])
    for later in frames[1:]:
        found = match(gallery, describer.describe(later, largest_face(faces, later)))
        assert found is not None
        assert found.person_id == "man"
        assert found.distance <= ACCEPT
    other = astronaut()
    stranger = describer.describe(other, largest_face(faces, other))
    assert match(gallery, stranger) is None
    near = nearest(gallery, stranger)
    assert near is not None
    assert near[1] > 0.6


def test_an_uncertain_face_is_no_match() -> None:
    enrolled = np.zeros(DESCRIPTOR_SIZE, np.float32)
    gallery = Gallery(("a",), enrolled[None, :])
    probe = enrolled.copy()
    probe[0] = ACCEPT + 0.05  # between the confident line and dlib's 0.6
    assert match(gallery, probe) is None
    probe[0] = ACCEPT - 0.05
    assert match(gallery, probe) is not None
    assert match(Gallery.empty(), probe) is None


def test_descriptor_bytes_round_trip() -> None:
    values = (np.arange(DESCRIPTOR_SIZE) / 7).astype(np.float32)
    assert np.array_equal(decode_descriptor(encode_descriptor(values)), values)
    with pytest.raises(ValueError, match="128"):
        encode_descriptor(values[:5])
