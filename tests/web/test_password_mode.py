"""Password mode end to end over the web API: enable, a restart locks the household, recording
media stays written, members see "locked", the owner's sign-in unlocks, Lock now, password
change rewraps, disable; the real sealed media and SQLite of the test world throughout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from hearthcam.accounts import Role
from hearthcam.app import open_media
from hearthcam.vault.sealed import plaintext_media_signatures
from hearthcam.web import WebServices, create_app
from tests.support.world import ORIGIN, PASSWORD, World
from tests.web.conftest import ClientFor

OTHER = "a different long passphrase"
NEW = "the owner's new passphrase"


class Restarted:
    """The same data directory and database served by a fresh process (a fresh keyring)."""

    def __init__(self, world: World, clients: list[TestClient]) -> None:
        self.clients = clients
        self.unlocked: list[int] = []
        self.services: WebServices = replace(
            world.services,
            media=open_media(world.store, world.data_dir),
            on_unlocked=self.unlocked.append,
        )
        self.app = create_app(self.services)

    def login(self, username: str, password: str) -> TestClient:
        client = TestClient(self.app, headers={"origin": ORIGIN})
        client.__enter__()  # runs the lifespan
        self.clients.append(client)
        answer = client.post("/api/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        me = client.get("/api/me").json()
        client.headers["x-csrf-token"] = me["csrf_token"]
        return client


@pytest.fixture
def clients() -> Iterator[list[TestClient]]:
    made: list[TestClient] = []
    yield made
    for client in made:
        client.__exit__(None, None, None)


def test_password_mode_end_to_end(
    world: World, client_for: ClientFor, clients: list[TestClient]
) -> None:
    world.accounts.create_user("max", OTHER, Role.MEMBER, world.household_a, world.clock())
    before = world.add_event("front")
    alice, mia = client_for("alice"), client_for("mia")
    status = alice.get("/api/me/encryption").json()
    assert status == {"available": True, "password_mode": False, "unlocked": True,
                      "can_manage": True}  # fmt: skip
    assert mia.get("/api/me/encryption").json()["can_manage"] is False
    body = {"password_mode": True, "password": PASSWORD}
    assert mia.put("/api/me/encryption", json=body).status_code == 403
    wrong = alice.put("/api/me/encryption", json={**body, "password": "not it at all"})
    assert wrong.status_code == 400
    on = alice.put("/api/me/encryption", json=body)
    assert on.status_code == 200, on.text
    assert on.json()["password_mode"] is True
    assert on.json()["unlocked"] is True  # the owner is signed in: still open in this process
    assert alice.get(f"/api/events/{before.id}/clip").status_code == 200
    after = world.add_event("front")  # written (sealed to the public key) in password mode

    # A restart: nobody has signed in, so the server cannot open household A's recordings.
    server = Restarted(world, clients)
    max_ = server.login("max", OTHER)
    assert server.unlocked == []  # a member's password does not open the key
    assert max_.get("/api/me/encryption").json()["unlocked"] is False
    for event in (before, after):
        locked = max_.get(f"/api/events/{event.id}/clip")
        assert locked.status_code == 423
        assert "locked" in locked.json()["detail"]
    assert max_.get(f"/api/events/{before.id}/snapshot").status_code == 423
    assert max_.get(f"/api/events/{before.id}").status_code == 200  # the event itself shows
    # Household B is in server mode: untouched.
    bob = server.login("bob", PASSWORD)
    assert bob.get("/api/me/encryption").json()["unlocked"] is True

    alice2 = server.login("alice", PASSWORD)
    assert server.unlocked == [world.household_a]
    assert max_.get(f"/api/events/{after.id}/clip").status_code == 200
    assert max_.get(f"/api/events/{after.id}/clip").content == world.clip_source.read_bytes()
    assert max_.post("/api/me/encryption/lock").status_code == 403  # the owner's alone
    assert alice2.post("/api/me/encryption/lock").status_code == 204
    assert max_.get(f"/api/events/{after.id}/clip").status_code == 423

    # A password change rewraps the key: after the next restart only the new password opens it.
    assert (
        alice2.post("/api/me/password", json={"current": PASSWORD, "new": NEW}).status_code == 204
    )
    server = Restarted(world, clients)
    alice3 = server.login("alice", NEW)
    assert server.unlocked == [world.household_a]
    assert alice3.get(f"/api/events/{before.id}/clip").status_code == 200

    # Disabling needs the password that protects it; then a restart needs nobody.
    off = alice3.put("/api/me/encryption", json={"password_mode": False, "password": NEW})
    assert off.status_code == 200, off.text
    assert off.json()["password_mode"] is False
    server = Restarted(world, clients)
    assert server.login("max", OTHER).get(f"/api/events/{before.id}/clip").status_code == 200
    assert plaintext_media_signatures(world.data_dir) == []


def test_the_owner_unlocks_in_place(world: World, client_for: ClientFor) -> None:
    event = world.add_event("front")
    alice, mia = client_for("alice"), client_for("mia")
    on = alice.put("/api/me/encryption", json={"password_mode": True, "password": PASSWORD})
    assert on.status_code == 200, on.text
    assert alice.post("/api/me/encryption/lock").status_code == 204
    assert alice.get(f"/api/events/{event.id}/snapshot").status_code == 423
    # Members cannot; a wrong password opens nothing.
    assert mia.post("/api/me/encryption/unlock", json={"password": PASSWORD}).status_code == 403
    wrong = alice.post("/api/me/encryption/unlock", json={"password": "not it at all"})
    assert wrong.status_code == 400
    assert alice.get("/api/me/encryption").json()["unlocked"] is False
    opened = alice.post("/api/me/encryption/unlock", json={"password": PASSWORD})
    assert opened.status_code == 200, opened.text
    assert opened.json()["unlocked"] is True
    assert alice.get(f"/api/events/{event.id}/clip").status_code == 200
    assert mia.get(f"/api/events/{event.id}/snapshot").status_code == 200
    # Open already: the same answer again.
    again = alice.post("/api/me/encryption/unlock", json={"password": PASSWORD})
    assert again.json()["unlocked"] is True
