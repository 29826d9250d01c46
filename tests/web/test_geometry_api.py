"""A camera's masks and zones over HTTP: the config's until an owner draws them, validated,
stored per camera, and handed to the running pipeline at once."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from hearthcam.store.settings import camera_geometry
from hearthcam.web import create_app
from tests.support.cameras import ToldCameras
from tests.support.world import ORIGIN, World
from tests.web.conftest import ClientFor

DRAWN = {
    "mask": [{"points": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.08], [0.0, 0.08]]}],
    "zones": [
        {
            "name": "porch",
            "points": [[0.1, 0.6], [0.9, 0.6], [0.9, 1.0], [0.1, 1.0]],
            "objects": ["person"],
        },
        {"name": "path", "points": [[0.4, 0.2], [0.6, 0.2], [0.5, 0.6]], "objects": []},
    ],
}


def test_geometry_starts_as_the_configs_and_an_owner_replaces_it(world: World) -> None:
    told = ToldCameras()
    services = replace(world.services)
    services.registry.subscribe(told)
    token = world.session_token("alice")
    with TestClient(create_app(services), headers={"origin": ORIGIN}) as alice:
        alice.cookies.set("hc_session", token)
        alice.headers["X-CSRF-Token"] = world.csrf(token)
        assert alice.get("/api/cameras/front/geometry").json() == {"mask": [], "zones": []}
        saved = alice.put("/api/cameras/front/geometry", json=DRAWN)
        assert saved.status_code == 200, saved.text
        assert saved.json() == DRAWN
        assert alice.get("/api/cameras/front/geometry").json() == DRAWN
        assert alice.get("/api/cameras/back/geometry").json() == {"mask": [], "zones": []}
    stored = camera_geometry(world.services.settings, "front")
    assert stored is not None
    assert list(stored.zones) == ["porch", "path"]
    assert stored.zones["porch"].objects == ["person"]
    assert stored.mask[0].points[2] == (1.0, 0.08)
    assert [(camera, list(c.zones)) for camera, c in told.geometries] == [
        ("front", ["porch", "path"])
    ]
    assert told.geometries[0][1].motion.mask == stored.mask  # the camera with its new mask


def test_geometry_is_validated(client_for: ClientFor) -> None:
    alice = client_for("alice")
    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    bad = [
        {"mask": [{"points": [[0, 0], [1, 1]]}]},  # two points are no area
        {"mask": [{"points": [[0, 0], [1.2, 0], [1, 1]]}]},  # outside the frame
        {"mask": [{"points": [[0, 0, 0], [1, 0], [1, 1]]}]},
        {"zones": [{"name": "", "points": square}]},
        {"zones": [{"name": "a\nb", "points": square}]},  # a control character
        {"zones": [{"name": "x", "points": square}, {"name": "x", "points": square}]},
        {"zones": [], "extra": 1},
        {"mask": [{"points": [[0, 0], [1, 0], [1, 1]]}] * 65},
    ]
    for body in bad:
        answer = alice.put("/api/cameras/front/geometry", json=body)
        assert answer.status_code == 422, body
    assert alice.get("/api/cameras/front/geometry").json() == {"mask": [], "zones": []}


def test_only_the_owner_draws_and_only_on_their_cameras(client_for: ClientFor) -> None:
    assert client_for("mia").put("/api/cameras/front/geometry", json=DRAWN).status_code == 403
    bob = client_for("bob")
    assert bob.put("/api/cameras/front/geometry", json=DRAWN).status_code == 404
    assert (
        bob.get("/api/cameras/front/geometry").json()
        == bob.get("/api/cameras/nosuch/geometry").json()
    )
