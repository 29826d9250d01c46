"""User management by one-time link over HTTP: links work once and expire, who may manage whom
(an annotator nobody, an owner only their household's members), TOTP resets, the zxcvbn rule
at setup / enrolment / password change with the meter's endpoint agreeing, the admin's system
status. Real SQLite and the real app throughout."""

from __future__ import annotations

import pyotp

from hearthcam.accounts.enrolment import LINK_LIFETIME
from tests.support.enrolment import enrol, token_of
from tests.support.world import PASSWORD, World
from tests.web.conftest import ClientFor

NEW = "a kettle sings at dusk"
WEAK = "password1234"


def test_a_link_works_once(world: World, client_for: ClientFor) -> None:
    ada = client_for("ada")
    made = ada.post("/api/users", json={"username": "rev", "role": "annotator"})
    assert made.status_code == 201, made.text
    link = made.json()["link"]
    token = token_of(link)
    listed = {u["username"]: u for u in ada.get("/api/users").json()}
    assert listed["rev"]["enrolment"] == "invited"
    assert listed["rev"]["totp_enabled"] is False
    # No password yet: the login step refuses like any wrong password.
    anon = client_for("")
    assert anon.post("/api/login", json={"username": "rev", "password": ""}).status_code == 422
    rev = enrol(world, client_for(""), link, NEW)
    me = rev.get("/api/me").json()
    assert (me["username"], me["role"], me["state"]) == ("rev", "annotator", "active")
    assert {u["username"]: u for u in ada.get("/api/users").json()}["rev"]["enrolment"] == "done"
    # Used up: the link reads as dead, and every step answers the same 400.
    again = client_for("")
    assert again.post("/api/enrol/info", json={"token": token}).json() == {
        "valid": False,
        "username": None,
        "role": None,
    }
    for path, body in (
        ("/api/enrol/totp", {"token": token}),
        ("/api/enrol", {"token": token, "password": NEW, "code": "123456"}),
    ):
        answer = again.post(path, json=body)
        assert answer.status_code == 400, (path, answer.text)
        assert "not valid" in answer.json()["detail"]
    # The new annotator signs in with the password and the TOTP they enrolled.
    world.clock.advance(30)
    login = again.post("/api/login", json={"username": "rev", "password": NEW})
    assert login.json()["state"] == "mfa_pending"
    code = pyotp.TOTP(world.secrets["rev"]).at(world.clock())
    again.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    assert again.post("/api/login/mfa", json={"code": code}).json()["state"] == "active"


def test_a_link_expires_and_a_new_one_replaces_it(world: World, client_for: ClientFor) -> None:
    alice = client_for("alice")
    made = alice.post("/api/users", json={"username": "kid", "role": "member"}).json()
    world.clock.advance(LINK_LIFETIME + 1)
    alice = client_for("alice")  # the first session has ended meanwhile
    anon = client_for("")
    dead = anon.post("/api/enrol/info", json={"token": token_of(made["link"])})
    assert dead.json()["valid"] is False
    listed = {u["username"]: u for u in alice.get("/api/users").json()}
    assert listed["kid"]["enrolment"] == "expired"
    fresh = alice.post(f"/api/users/{made['id']}/reset")
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["link"] != made["link"]
    kid = enrol(world, anon, fresh.json()["link"], NEW)
    assert [c["name"] for c in kid.get("/api/cameras").json()] == ["back", "front"]


def test_wrong_code_and_weak_password_leave_the_link_usable(
    world: World, client_for: ClientFor
) -> None:
    made = client_for("ada").post("/api/users", json={"username": "rev", "role": "admin"}).json()
    token = token_of(made["link"])
    anon = client_for("")
    anon.post("/api/enrol/totp", json={"token": token})
    wrong = anon.post("/api/enrol", json={"token": token, "password": NEW, "code": "000000"})
    assert wrong.status_code == 401
    weak = anon.post("/api/enrol", json={"token": token, "password": WEAK, "code": "000000"})
    assert weak.status_code == 422
    assert "easy to guess" in weak.json()["detail"]
    assert "common password" in weak.json()["detail"]
    enrol(world, anon, made["link"], NEW)


def test_an_annotator_cannot_manage_users(world: World, client_for: ClientFor) -> None:
    ann = client_for("ann")
    mia = world.user_ids["mia"]
    assert ann.get("/api/users").status_code == 403
    assert ann.post("/api/users", json={"username": "x1", "role": "annotator"}).status_code == 403
    assert ann.post(f"/api/users/{mia}/reset").status_code == 403
    assert ann.delete(f"/api/users/{mia}").status_code == 403
    assert ann.get("/api/system/status").status_code == 403
    assert client_for("mia").post(f"/api/users/{world.user_ids['ann']}/reset").status_code == 403


def test_an_owner_manages_only_their_households_members(
    world: World, client_for: ClientFor
) -> None:
    alice, bob = client_for("alice"), client_for("bob")
    mia_id = world.user_ids["mia"]
    # Another household's member answers as a user that does not exist.
    assert bob.post(f"/api/users/{mia_id}/reset").status_code == 404
    assert bob.post("/api/users/999999/reset").status_code == 404
    assert bob.delete(f"/api/users/{mia_id}").status_code == 404
    # An owner resets neither another owner nor an admin; not themselves either.
    assert alice.post(f"/api/users/{world.user_ids['bob']}/reset").status_code == 404
    assert alice.post(f"/api/users/{world.user_ids['ada']}/reset").status_code == 404
    assert alice.post(f"/api/users/{world.user_ids['alice']}/reset").status_code == 403
    assert bob.post("/api/users", json={"username": "x2", "role": "admin"}).status_code == 403
    listed = {u["username"] for u in bob.get("/api/users").json()}
    assert listed == {"bob"}
    # Alice resets her member: signed out, old password useless, back in through the link.
    mia = client_for("mia")
    reset = alice.post(f"/api/users/{mia_id}/reset")
    assert reset.status_code == 200
    assert mia.get("/api/me").status_code == 401
    anon = client_for("")
    assert (
        anon.post("/api/login", json={"username": "mia", "password": PASSWORD}).status_code == 401
    )
    enrol(world, anon, reset.json()["link"], NEW)
    assert anon.get("/api/me").json()["username"] == "mia"


def test_admin_resets_an_annotators_totp(world: World, client_for: ClientFor) -> None:
    ada, ann = client_for("ada"), client_for("ann")
    old_secret = world.secrets["ann"]
    reset = ada.post(f"/api/users/{world.user_ids['ann']}/reset")
    assert reset.status_code == 200
    assert ann.get("/api/me").status_code == 401
    listed = {u["username"]: u for u in ada.get("/api/users").json()}
    assert listed["ann"]["totp_enabled"] is False
    assert listed["ann"]["enrolment"] == "invited"
    fresh = enrol(world, client_for(""), reset.json()["link"], NEW)
    assert world.secrets["ann"] != old_secret
    assert fresh.get("/api/review/queue").status_code == 200
    assert ada.post(f"/api/users/{world.user_ids['ada']}/reset").status_code == 409


def test_the_meter_and_the_rules_agree(world: World, client_for: ClientFor) -> None:
    anon = client_for("")
    for password, ok in ((WEAK, False), ("hearthcam2026", False), ("short", False), (NEW, True)):
        found = anon.post("/api/password/strength", json={"password": password}).json()
        assert found["acceptable"] is ok, found
        assert found["min_score"] == 3
        assert (found["reason"] == "") is ok
    alice = client_for("alice")
    meter = anon.post("/api/password/strength", json={"password": WEAK, "username": "alice"})
    change = alice.post("/api/me/password", json={"current": PASSWORD, "new": WEAK})
    assert change.status_code == 422
    assert change.json()["detail"] == meter.json()["reason"]


def test_setup_refuses_a_guessable_password(fresh_world: World) -> None:
    from fastapi.testclient import TestClient

    from tests.support.world import ORIGIN

    with TestClient(fresh_world.app, headers={"origin": ORIGIN}) as client:
        body = {"username": "owner", "password": "iloveyou2024", "household": "Home"}
        weak = client.post("/api/setup", json=body)
        assert weak.status_code == 422
        assert weak.json()["detail"].startswith("a password this easy to guess is refused")
        assert client.post("/api/setup", json={**body, "password": NEW}).status_code == 201


def test_admin_sees_the_system_status(world: World, client_for: ClientFor) -> None:
    found = client_for("ada").get("/api/system/status")
    assert found.status_code == 200
    body = found.json()
    assert body["version"]
    assert body["uptime_s"] >= 0
    assert body["cameras_total"] == len(list(world.services.cameras()))
    assert 0 <= body["cameras_running"] <= body["cameras_total"]
    assert 0 < body["disk_free"] <= body["disk_total"]
    assert body["users"] == {"owner": 2, "member": 1, "admin": 1, "annotator": 1}
    assert client_for("alice").get("/api/system/status").status_code == 403
