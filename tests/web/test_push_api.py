"""Web Push subscriptions over HTTP: the VAPID key, validated subscriptions, each user's own."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from hearthcam.web import create_app
from tests.support.push_service import browser_key
from tests.support.world import ORIGIN, World
from tests.web.conftest import ClientFor

AUTH = "MTIzNDU2Nzg5MDEyMzQ1Ng"  # 16 bytes, base64url


def body(endpoint: str, p256dh: str | None = None, auth: str = AUTH) -> dict[str, object]:
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": p256dh or browser_key()[1], "auth": auth},
    }


def test_members_get_the_key_and_store_their_own_subscriptions(
    world: World, client_for: ClientFor
) -> None:
    alice, mia = client_for("alice"), client_for("mia")
    key = alice.get("/api/push/key")
    assert key.status_code == 200
    assert key.json() == {"public_key": world.services.push_key}
    assert (
        alice.post("/api/push/subscriptions", json=body("https://push.example/a")).status_code
        == 201
    )
    assert (
        mia.post("/api/push/subscriptions", json=body("https://push.example/m")).status_code == 201
    )
    stored = {s.endpoint: s for s in world.services.push.of_household(world.household_a)}
    assert set(stored) == {"https://push.example/a", "https://push.example/m"}
    assert stored["https://push.example/a"].user_id == world.user_ids["alice"]
    assert stored["https://push.example/m"].user_id == world.user_ids["mia"]


def test_subscriptions_are_validated(client_for: ClientFor) -> None:
    alice = client_for("alice")
    point = browser_key()[1]
    refused = [
        body("http://push.example/a", point),  # push services speak https
        body("https://user:pw@push.example/a", point),
        body("file:///etc/passwd", point),
        body("push.example/a", point),
        body("https://192.168.1.1/cgi-bin/reboot", point),  # the LAN is not a push service
        body("https://127.0.0.1:8971/api/users", point),
        body("https://[::1]/x", point),
        body("https://router.local/x", point),
        body("https://localhost/x", point),
        body("https://push.lan-pointed.example/x", point),  # a public name on a LAN address
        body("https://push.example/a", point[:-4]),  # not a 65-byte point
        body("https://push.example/a", "A" * 87),  # 65 bytes, but not an uncompressed point
        body("https://push.example/a", point, auth="c2hvcnQ"),  # auth must be 16 bytes
        {**body("https://push.example/a", point), "extra": 1},
        {"endpoint": "https://push.example/a"},
    ]
    for bad in refused:
        answer = alice.post("/api/push/subscriptions", json=bad)
        assert answer.status_code == 422, bad
        assert "detail" in answer.json()


def test_a_name_resolving_outside_is_accepted(client_for: ClientFor) -> None:
    alice = client_for("alice")
    made = alice.post("/api/push/subscriptions", json=body("https://push.good.example/a"))
    assert made.status_code == 201


def test_only_the_user_deletes_a_subscription(world: World, client_for: ClientFor) -> None:
    alice, mia, bob = client_for("alice"), client_for("mia"), client_for("bob")
    assert (
        alice.post("/api/push/subscriptions", json=body("https://push.example/a")).status_code
        == 201
    )
    target = {"endpoint": "https://push.example/a"}
    assert bob.delete("/api/push/subscriptions", params=target).status_code == 404
    assert mia.delete("/api/push/subscriptions", params=target).status_code == 404
    assert alice.delete("/api/push/subscriptions", params=target).status_code == 204
    assert alice.delete("/api/push/subscriptions", params=target).status_code == 404
    assert world.services.push.of_household(world.household_a) == []


def test_with_push_off_the_key_and_subscribing_are_404(world: World) -> None:
    off = create_app(replace(world.services, push_key=None))
    token = world.session_token("alice")
    with TestClient(off, headers={"origin": ORIGIN}) as client:
        client.cookies.set("hc_session", token)
        client.headers["X-CSRF-Token"] = world.csrf(token)
        assert client.get("/api/push/key").status_code == 404
        answer = client.post("/api/push/subscriptions", json=body("https://push.example/a"))
        assert answer.status_code == 404


def test_the_service_worker_is_served_from_the_root(client_for: ClientFor) -> None:
    answer = client_for("").get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert "showNotification" in answer.text
    manifest = client_for("").get("/static/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.json()["start_url"] == "/"


def test_removing_a_member_forgets_their_subscriptions(world: World, client_for: ClientFor) -> None:
    mia = client_for("mia")
    assert (
        mia.post("/api/push/subscriptions", json=body("https://push.example/m")).status_code == 201
    )
    alice = client_for("alice")
    assert alice.delete(f"/api/users/{world.user_ids['mia']}").status_code == 204
    assert world.services.push.of_user(world.user_ids["mia"]) == []
