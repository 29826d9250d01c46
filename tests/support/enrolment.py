"""Finishing an enrolment link over HTTP, as the /enrol page does."""

from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from tests.support.world import World


def token_of(link: str) -> str:
    """The token in a link's fragment (``/enrol#<token>``)."""
    path, _, token = link.partition("#")
    assert path == "/enrol"
    assert token
    return token


def enrol(world: World, client: TestClient, link: str, password: str) -> TestClient:
    """Sets the password and TOTP through the link; the client is then signed in. The secret
    goes into ``world.secrets`` under the user's name, so ``client_for`` can sign them in."""
    token = token_of(link)
    who = client.post("/api/enrol/info", json={"token": token})
    assert who.json()["valid"] is True, who.text
    found = client.post("/api/enrol/totp", json={"token": token})
    assert found.status_code == 200, found.text
    secret = found.json()["secret"]
    world.secrets[who.json()["username"]] = secret
    code = pyotp.TOTP(secret).at(world.clock())
    done = client.post("/api/enrol", json={"token": token, "password": password, "code": code})
    assert done.status_code == 200, done.text
    client.headers["X-CSRF-Token"] = done.json()["csrf_token"]
    return client
