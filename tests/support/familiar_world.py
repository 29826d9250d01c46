"""A person enrolled in the web world's household A (for the authorization matrix)."""

from __future__ import annotations

import numpy as np

from hearthcam.privacy.familiar import NewFace, consent_digest
from hearthcam.vision.familiar import DESCRIPTOR_SIZE
from tests.support.world import World


def enrolled_person(world: World, name: str = "Sam") -> tuple[str, str]:
    """(person id, face id) of a fresh person of household A (familiar faces turned on)."""
    familiar = world.services.familiar
    assert familiar is not None, "the web world's media are sealed"
    familiar.turn_on(world.household_a, "alice")
    face = NewFace(np.zeros(DESCRIPTOR_SIZE, np.float32), b"\xff\xd8 photo", "upload")
    person = familiar.enrol(world.household_a, name, "alice", consent_digest(name), [face])
    return person.id, familiar.faces(world.household_a, person.id)[0].id
