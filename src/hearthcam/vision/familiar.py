"""Familiar faces: a face's descriptor (dlib's ResNet) and matching it against a household's
enrolled people.

The descriptor is dlib's face recognition ResNet v1 (128-d, CC0, shipped in hearthcam/models)
on the 150 px chip dlib cuts around its own 5-point landmarks, found inside CenterFace's box;
docs/faces.md says why this model over ONNX candidates. ``match`` is pure: the best enrolled
face by Euclidean distance, *confident* at or under ``ACCEPT``; anything else is no match, so an
uncertain face changes nothing.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.errors import ModelError
from hearthcam.types import BGRImage
from hearthcam.vision.models import ModelFile

F32 = NDArray[np.float32]
DESCRIPTOR_SIZE = 128
DLIB_RESNET = ModelFile("hearthcam", "models/dlib_face_recognition_resnet_model_v1.dat")
DLIB_LANDMARKS = ModelFile("hearthcam", "models/shape_predictor_5_face_landmarks.dat")
#: Confident at or under this distance. On the package faces of docs/faces.md the farthest
#: genuine pair was 0.45 and the nearest two different people 0.42 (1 % of impostor pairs under
#: 0.57); dlib's own "same person" line is 0.6. Between them a match is uncertain: no match.
ACCEPT = 0.45
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class FaceDescriber(Protocol):
    """Turns one face (a box in a BGR image) into a descriptor."""

    def describe(self, image: BGRImage, box: Sequence[float]) -> F32:
        """The face's descriptor (``DESCRIPTOR_SIZE`` floats)."""
        ...


class DlibDescriber:
    """dlib's 5-point landmarks and face recognition ResNet, from the files in hearthcam."""

    def __init__(
        self, network: ModelFile = DLIB_RESNET, landmarks: ModelFile = DLIB_LANDMARKS
    ) -> None:
        try:
            import dlib
        except ImportError as error:  # a product dependency: a broken install
            raise ModelError("dlib is missing: pip install dlib-bin") from error
        self._dlib: Any = dlib
        # dlib reads a path; as_file gives one even from a zipped install.
        with importlib.resources.as_file(landmarks.locate()) as path:
            self._shape = dlib.shape_predictor(str(path))
        with importlib.resources.as_file(network.locate()) as path:
            self._net = dlib.face_recognition_model_v1(str(path))

    def chip(self, image: BGRImage, box: Sequence[float]) -> NDArray[np.uint8]:
        """dlib's aligned face chip (RGB, 150 px) for a face box."""
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        x0, y0, x1, y1 = (round(float(v)) for v in box[:4])
        shape = self._shape(rgb, self._dlib.rectangle(x0, y0, x1, y1))
        return np.asarray(self._dlib.get_face_chip(rgb, shape, CHIP_SIZE, CHIP_PADDING))

    def describe(self, image: BGRImage, box: Sequence[float]) -> F32:
        """The 128-d descriptor of the face in ``box``."""
        chip = self.chip(image, box)
        return np.asarray(self._net.compute_face_descriptor(chip), np.float32)


@dataclass(frozen=True, slots=True)
class Gallery:
    """A household's enrolled faces: one row of ``descriptors`` per face, its person in
    ``person_ids`` (a person has one or more faces)."""

    person_ids: tuple[str, ...]
    descriptors: F32

    @staticmethod
    def empty() -> Gallery:
        return Gallery((), np.zeros((0, DESCRIPTOR_SIZE), np.float32))

    def __len__(self) -> int:
        return len(self.person_ids)


@dataclass(frozen=True, slots=True)
class Match:
    """A confident match: the person and how far their nearest enrolled face was."""

    person_id: str
    distance: float


def nearest(gallery: Gallery, descriptor: F32) -> tuple[str, float] | None:
    """The nearest enrolled face's person and distance (None for an empty gallery)."""
    if len(gallery) == 0:
        return None
    distances = np.linalg.norm(gallery.descriptors - descriptor[None, :], axis=1)
    best = int(np.argmin(distances))
    return gallery.person_ids[best], float(distances[best])


def match(gallery: Gallery, descriptor: F32, accept: float = ACCEPT) -> Match | None:
    """The enrolled person this face confidently is, else None (uncertain or a stranger)."""
    found = nearest(gallery, descriptor)
    if found is None or found[1] > accept:
        return None
    return Match(*found)


def encode_descriptor(descriptor: F32) -> bytes:
    """A descriptor as bytes (float32, little-endian) for sealing."""
    values = np.asarray(descriptor, dtype="<f4").reshape(-1)
    if values.size != DESCRIPTOR_SIZE:
        raise ValueError(f"a descriptor has {DESCRIPTOR_SIZE} values, not {values.size}")
    return values.tobytes()


def decode_descriptor(data: bytes) -> F32:
    """The descriptor ``encode_descriptor`` wrote."""
    values = np.frombuffer(data, dtype="<f4")
    if values.size != DESCRIPTOR_SIZE:
        raise ValueError(f"a descriptor has {DESCRIPTOR_SIZE} values, not {values.size}")
    return values.astype(np.float32)
