"""The Host check (web.middleware.HostCheck): a DNS-rebinding page reaches no route.

A rebinding page is served from the attacker's name, which is then pointed at this box; the
browser still sends the attacker's name as Host. Such a request must be refused before setup
or the login runs, and before any state changes.
"""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from hearthcam.web import create_app
from hearthcam.web.middleware import AllowedHosts, host_of, machine_names
from tests.support.world import PASSWORD, World

EVIL = "evil.example"
SETUP = {"username": "olivia", "password": PASSWORD, "household": "Home"}


def _client(world: World, host: str) -> TestClient:
    return TestClient(world.app, headers={"host": host, "origin": f"http://{host}"})


def test_setup_from_a_rebound_name_is_refused_before_it_runs(fresh_world: World) -> None:
    with _client(fresh_world, EVIL) as client:
        assert client.get("/api/setup").status_code == 421
        refused = client.post("/api/setup", json=SETUP)
        assert refused.status_code == 421
        assert "allowed_hosts" in refused.json()["detail"]
        assert refused.headers["x-frame-options"] == "DENY"  # still a hearthcam answer
    assert fresh_world.accounts.setup_allowed()
    with _client(fresh_world, "testserver") as client:
        assert client.post("/api/setup", json=SETUP).status_code == 201


def test_login_from_a_rebound_name_changes_nothing(world: World) -> None:
    with _client(world, f"{EVIL}:8971") as client:
        right = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert right.status_code == 421
        assert "set-cookie" not in right.headers
        for _ in range(10):  # far past the throttle: none of these may count
            wrong = client.post("/api/login", json={"username": "alice", "password": "nope"})
            assert wrong.status_code == 421
        assert client.get("/").status_code == 421
        assert client.get("/static/app.js").status_code == 421
    alice = world.accounts.user(world.user_ids["alice"])
    assert alice is not None
    assert alice.last_login is None
    with _client(world, "testserver") as client:
        ok = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert ok.status_code == 200, ok.text


def test_a_websocket_from_a_rebound_name_is_refused(world: World) -> None:
    with (
        _client(world, EVIL) as client,
        pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
        client.websocket_connect("/api/live/front/mse"),
    ):
        pass


@pytest.mark.parametrize(
    "host",
    [
        "testserver",  # configured (tests/support/world.py)
        "TestServer.:8971",
        "localhost",
        "localhost:8971",
        "127.0.0.1",
        "127.0.0.1:8971",
        "[::1]",
        "[::1]:8971",
        "[2001:db8::7]:443",
        "192.168.1.20:8971",
        *sorted(machine_names()),
    ],
)
def test_configured_loopback_own_and_address_hosts_are_served(world: World, host: str) -> None:
    with _client(world, host) as client:
        answer = client.get("/api/setup")
        assert answer.status_code == 200, (host, answer.text)


@pytest.mark.parametrize(
    "host",
    [
        EVIL,
        "testserver.evil.example",
        "localhost.evil.example",
        "[::1",
        "[::1]x",
        "[::1]:port",
        "::1",
        "[127.0.0.1]:80",
        "localhost:8971:1",
        "localhost:1234567",
        "",
    ],
)
def test_other_and_malformed_hosts_are_refused(world: World, host: str) -> None:
    with _client(world, host) as client:
        assert client.get("/api/setup").status_code == 421


def test_the_listen_host_and_wildcards_are_allowed(world: World) -> None:
    web = world.config.web.model_copy(
        update={"host": "cams.lan", "allowed_hosts": ("*.home.arpa",)}
    )
    config = world.config.model_copy(update={"web": web})
    app = create_app(dataclasses.replace(world.services, config=config))
    for host, code in (
        ("cams.lan:8971", 200),
        ("door.home.arpa", 200),
        ("home.arpa", 421),
        ("testserver", 421),  # no longer configured
    ):
        with TestClient(app, headers={"host": host}) as client:
            assert client.get("/api/setup").status_code == code, host


def test_host_of_reads_names_ports_and_ipv6_literals() -> None:
    assert host_of("Example.ORG.:80") == "example.org"
    assert host_of("[::1]:8971") == "::1"
    assert host_of("[::1]") == "::1"
    assert host_of("10.0.0.2:8971") == "10.0.0.2"
    assert host_of("[::1]:") is None
    assert host_of("a:b") is None
    assert AllowedHosts.build((), "0.0.0.0").allows("[::ffff:10.0.0.1]:80")
