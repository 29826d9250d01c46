"""Login throttling over HTTP: per client, never a lock an attacker can put on the owner.

Before, five wrong passwords from anywhere locked a username (15 minutes doubling to a day) and
X-Forwarded-For was believed from loopback. Now a guesser slows only itself, the owner's known
device (``hc_device``) is throttled on its own failures alone, and forwarding headers are
believed only from ``web.trusted_proxies``.
"""

from __future__ import annotations

import dataclasses

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hearthcam.web import create_app
from hearthcam.web.cookies import DEVICE_COOKIE
from tests.support.world import ORIGIN, PASSWORD, World

ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
PROXY = "10.0.0.2"
WRONG = {"username": "alice", "password": "wrong password!"}
RIGHT = {"username": "alice", "password": PASSWORD}


def _from(world: World, ip: str, app: FastAPI | None = None) -> TestClient:
    return TestClient(app or world.app, headers={"origin": ORIGIN}, client=(ip, 40000))


def _guess(client: TestClient, times: int, **headers: str) -> list[int]:
    return [
        client.post("/api/login", json=WRONG, headers=headers).status_code for _ in range(times)
    ]


def test_a_guesser_does_not_lock_the_owner_out_from_elsewhere(world: World) -> None:
    with _from(world, ATTACKER) as attacker:
        codes = _guess(attacker, 10)
    assert codes[:3] == [401] * 3
    assert set(codes[3:]) == {429}
    with _from(world, OWNER) as owner:
        assert owner.post("/api/login", json=RIGHT).status_code == 200


def test_the_guessers_address_backs_off_doubling(world: World) -> None:
    with _from(world, ATTACKER) as attacker:
        _guess(attacker, 3)
        waits = []
        for _ in range(3):
            held = attacker.post("/api/login", json=WRONG)
            assert held.status_code == 429
            wait = int(held.headers["retry-after"])
            waits.append(wait)
            world.clock.advance(wait)
            assert attacker.post("/api/login", json=WRONG).status_code == 401
        assert waits == [60, 120, 240]
        # Other names from the same address: it is the address that is slowed down as well.
        for i in range(20):
            attacker.post("/api/login", json={"username": f"x{i}", "password": "nope nope"})
        assert attacker.post("/api/login", json={**WRONG, "username": "zed"}).status_code == 429


def test_a_known_device_signs_in_behind_the_guessers_address(world: World) -> None:
    shared = "192.168.1.40"  # one LAN address (NAT) for the owner's phone and the guesser
    with _from(world, shared) as phone:
        assert phone.post("/api/login", json=RIGHT).status_code == 200
        device = phone.cookies.get(DEVICE_COOKIE)
        assert device is not None
    with _from(world, shared) as attacker:
        assert set(_guess(attacker, 30)[3:]) == {429}
        assert attacker.post("/api/login", json=RIGHT).status_code == 429
    with _from(world, shared) as phone:
        phone.cookies.set(DEVICE_COOKIE, device, path="/api/login")
        signed_in = phone.post("/api/login", json=RIGHT)
        assert signed_in.status_code == 200, signed_in.text
        assert "path=/api/login" in signed_in.headers["set-cookie"].lower()


def test_a_device_cookie_is_worth_nothing_for_another_user_or_forged(world: World) -> None:
    with _from(world, OWNER) as mias:
        assert mias.post("/api/login", json={"username": "mia", "password": PASSWORD}).is_success
        mia_device = mias.cookies.get(DEVICE_COOKIE)
    assert mia_device is not None
    forged = mia_device.rsplit(".", 1)[0] + ".AAAA"
    with _from(world, ATTACKER) as attacker:
        _guess(attacker, 3)
        for cookie in (mia_device, forged, "v1.x.1.y", "garbage"):
            attacker.cookies.set(DEVICE_COOKIE, cookie, path="/api/login")
            assert attacker.post("/api/login", json=RIGHT).status_code == 429, cookie


def test_a_known_device_still_needs_the_totp_code(world: World) -> None:
    # ada has TOTP: the device cookie spares her other clients' failures, not her second factor.
    with _from(world, OWNER) as laptop:
        first = laptop.post("/api/login", json={"username": "ada", "password": PASSWORD})
        assert first.json()["state"] == "mfa_pending"
        assert laptop.cookies.get(DEVICE_COOKIE) is None  # not before the login is complete
        laptop.headers["X-CSRF-Token"] = first.json()["csrf_token"]
        world.clock.advance(30)  # the world's own login of ada used this time step's code
        assert laptop.post("/api/login/mfa", json={"code": world.totp("ada")}).status_code == 200
        assert laptop.cookies.get(DEVICE_COOKIE) is not None


def _behind_proxy(world: World) -> FastAPI:
    web = world.config.web.model_copy(update={"trusted_proxies": (f"{PROXY}/32",)})
    config = world.config.model_copy(update={"web": web})
    return create_app(dataclasses.replace(world.services, config=config))


def test_forwarded_for_from_an_untrusted_peer_is_ignored(world: World) -> None:
    # Loopback used to be believed: any local process could choose whom the throttle counted.
    for peer in ("127.0.0.1", ATTACKER):
        with _from(world, peer) as client:
            spoofed = [
                client.post(
                    "/api/login", json=WRONG, headers={"x-forwarded-for": f"192.0.2.{i}"}
                ).status_code
                for i in range(5)
            ]
        assert spoofed == [401, 401, 401, 429, 429], peer


def test_forwarded_for_from_a_trusted_proxy_is_the_client(world: World) -> None:
    app = _behind_proxy(world)
    with _from(world, PROXY, app) as proxy:
        codes = _guess(proxy, 4, **{"x-forwarded-for": f"198.18.0.1, {ATTACKER}"})
        assert codes == [401, 401, 401, 429]  # counted against the attacker, not the proxy
        owner = proxy.post("/api/login", json=RIGHT, headers={"x-forwarded-for": OWNER})
        assert owner.status_code == 200
        # A chain the client wrote to the left of the proxy's entry does not help it.
        proxy.cookies.clear()  # (and it has no device cookie)
        forged = proxy.post(
            "/api/login", json=RIGHT, headers={"x-forwarded-for": f"{OWNER}, {ATTACKER}"}
        )
        assert forged.status_code == 429
    # Without the header, the proxy itself is the client.
    with _from(world, PROXY, app) as proxy:
        assert proxy.post("/api/login", json=RIGHT).status_code == 200


def test_a_trusted_proxy_saying_https_makes_the_cookies_secure(world: World) -> None:
    app = _behind_proxy(world)
    with _from(world, PROXY, app) as proxy:
        answer = proxy.post("/api/login", json=RIGHT, headers={"x-forwarded-proto": "https"})
        assert all("secure" in c.lower() for c in answer.headers.get_list("set-cookie"))
    with _from(world, ATTACKER, app) as other:
        answer = other.post("/api/login", json=RIGHT, headers={"x-forwarded-proto": "https"})
        assert not any("secure" in c.lower() for c in answer.headers.get_list("set-cookie"))
