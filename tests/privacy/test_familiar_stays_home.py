"""Familiar faces never leave the box: a dataset exported in every format, and the shares it is
made of, hold neither an enrolled person's descriptor bytes nor their name.

The export world of tests/learn/test_export.py (real sealed clips, shares, annotations), with a
person enrolled in the first household (a real descriptor of the carphone man) and recognised
on one of the shared events.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hearthcam.app import open_media
from hearthcam.privacy.familiar import FamiliarFaces, NewFace, consent_digest
from hearthcam.store.familiar import FamiliarStore
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.familiar import DlibDescriber, encode_descriptor
from tests.learn.test_export import HOUSEHOLDS, World, export, world
from tests.privacy.conftest import plain_clip
from tests.support.known_faces import carphone_man, largest_face, saved_event

__all__ = ["plain_clip", "world"]

NAME = "Samwise Gamgee"


@pytest.fixture
def enrolled(world: World) -> bytes:
    """Sam enrolled in the first household and recognised on share "one"'s event; returns his
    descriptor's bytes."""
    keyring = open_media(world.store, world.data).vault.keyring
    keyring.ensure_household(HOUSEHOLDS[0])
    familiar = FamiliarFaces(FamiliarStore(world.store), keyring)
    familiar.turn_on(HOUSEHOLDS[0], "owner")
    image = carphone_man()[0]
    descriptor = DlibDescriber().describe(image, largest_face(CenterFace(), image))
    face = NewFace(descriptor, b"\xff\xd8 a photo", "upload")
    person = familiar.enrol(HOUSEHOLDS[0], NAME, "owner", consent_digest(NAME), [face])
    saved_event(world.store, world.shares["one"].event_id, world.shares["one"].camera)
    familiar.record_sighting(world.shares["one"].event_id, person.id, 0.3)
    assert familiar.names(HOUSEHOLDS[0], world.shares["one"].event_id) == [NAME]
    return encode_descriptor(descriptor)


@pytest.mark.parametrize("fmt", ["coco", "yolo", "cvat", "mot"])
def test_a_dataset_holds_no_face_descriptor_and_no_name(
    world: World, enrolled: bytes, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / "out" / fmt
    code, output = export(world, target, "--format", fmt, "--test-fraction", "0.5")
    assert code == 0, output
    files = [p for p in target.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert enrolled[:32] not in data, path
        assert NAME.encode() not in data, path
    assert NAME not in output


def test_shares_hold_no_face_descriptor_and_no_name(world: World, enrolled: bytes) -> None:
    for share in world.shares.values():
        stored = world.sharing.shares.get(share.id) or share
        text = json.dumps(dataclasses.asdict(stored), default=str)
        assert NAME not in text
    for path in (world.data / "shares").rglob("*"):
        if path.is_file():
            assert enrolled[:32] not in path.read_bytes()
            assert NAME.encode() not in path.read_bytes()
    # and the database keeps the descriptor sealed only
    assert enrolled[:32] not in (world.data / "hearthcam.db").read_bytes()
