"""Setup, login, logout, the session cookie, CSRF, throttling, MFA and TOTP enrollment over HTTP."""

from __future__ import annotations

import dataclasses

import pyotp
from fastapi.testclient import TestClient

from hearthcam.accounts import Role
from hearthcam.web import create_app
from tests.support.world import ORIGIN, PASSWORD, World
from tests.web.conftest import ClientFor

NEW_PASSWORD = "a different long secret"


def _anonymous(world: World, **kwargs: object) -> TestClient:
    return TestClient(world.app, headers={"origin": ORIGIN}, **kwargs)  # type: ignore[arg-type]


def _login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


def _cookie_attributes(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


def test_setup_runs_once_and_logs_the_owner_in(fresh_world: World) -> None:
    with _anonymous(fresh_world) as client:
        assert client.get("/api/setup").json() == {"needed": True}
        assert client.get("/", follow_redirects=False).headers["location"] == "/setup"
        body = {"username": "olivia", "password": PASSWORD, "household": "Home"}
        first = client.post("/api/setup", json=body)
        assert first.status_code == 201, first.text
        assert first.json()["state"] == "active"
        me = client.get("/api/me").json()
        assert (me["username"], me["role"], me["household"]) == ("olivia", "owner", "Home")
        # Every configured camera went to the first household.
        names = {c["name"] for c in client.get("/api/cameras").json()}
        assert names == set(fresh_world.config.cameras)
        assert client.get("/api/setup").json() == {"needed": False}
        again = client.post("/api/setup", json={**body, "username": "mallory"})
        assert again.status_code == 409
        assert client.get("/setup", follow_redirects=False).headers["location"] == "/"
    assert fresh_world.accounts.users_count() == 1


def test_setup_rejects_weak_passwords_and_bad_names(fresh_world: World) -> None:
    with _anonymous(fresh_world) as client:
        weak = client.post(
            "/api/setup", json={"username": "olivia", "password": "short", "household": "H"}
        )
        assert weak.status_code == 422
        assert isinstance(weak.json()["detail"], str)
        bad = client.post(
            "/api/setup", json={"username": "../etc", "password": PASSWORD, "household": "H"}
        )
        assert bad.status_code == 422
    assert fresh_world.accounts.setup_allowed()


def test_login_logout_and_cookie_flags(world: World) -> None:
    with _anonymous(world) as client:
        response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200
        assert response.json()["state"] == "active"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("hc_session=")
        attributes = _cookie_attributes(cookie)
        assert {"httponly", "samesite=strict", "path=/"} <= attributes
        assert "secure" not in attributes  # plain HTTP, no TLS configured
        me = client.get("/api/me")
        assert me.status_code == 200
        assert me.json()["username"] == "alice"
        csrf = me.json()["csrf_token"]
        assert client.post("/api/logout").status_code == 403  # no CSRF token
        out = client.post("/api/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        assert "max-age=0" in _cookie_attributes(out.headers["set-cookie"])
        assert client.get("/api/me").status_code == 401


def test_cookie_is_secure_under_https_or_tls_config(world: World) -> None:
    with TestClient(world.app, base_url="https://testserver") as client:
        response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert "secure" in _cookie_attributes(response.headers["set-cookie"])
    tls = dataclasses.replace(world.services, secure_cookies=True)
    with TestClient(create_app(tls)) as client:
        response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert "secure" in _cookie_attributes(response.headers["set-cookie"])


def test_wrong_password_is_generic_401(world: World) -> None:
    with _anonymous(world) as client:
        wrong = client.post("/api/login", json={"username": "alice", "password": "nope nope nope"})
        unknown = client.post("/api/login", json={"username": "nobody", "password": PASSWORD})
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()


def test_csrf_missing_or_wrong_is_403(world: World, client_for: ClientFor) -> None:
    owner = client_for("alice")
    event = world.add_event()
    settings = owner.get("/api/settings").json()
    good = owner.headers["X-CSRF-Token"]
    for token in (None, "", "wrong", good + "x"):
        headers = {} if token is None else {"X-CSRF-Token": token}
        del owner.headers["X-CSRF-Token"]
        assert owner.put("/api/settings", json=settings, headers=headers).status_code == 403
        assert owner.delete(f"/api/events/{event.id}", headers=headers).status_code == 403
        owner.headers["X-CSRF-Token"] = good
    assert world.store.get_event(event.id) is not None
    assert owner.put("/api/settings", json=settings).status_code == 200
    # Another user's token is as wrong as none.
    other = client_for("mia").headers["X-CSRF-Token"]
    assert (
        owner.delete(f"/api/events/{event.id}", headers={"X-CSRF-Token": other}).status_code == 403
    )


def test_cross_origin_login_and_websocket_are_refused(world: World) -> None:
    with TestClient(world.app, headers={"origin": "https://evil.example"}) as client:
        response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 403
    with TestClient(world.app) as client:  # no Origin: a non-browser client, allowed
        response = client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert response.status_code == 200


def test_lockout_answers_429_with_retry_after(world: World) -> None:
    with _anonymous(world) as client:
        for _ in range(3):
            bad = client.post("/api/login", json={"username": "mia", "password": "wrong password!"})
            assert bad.status_code == 401
        locked = client.post("/api/login", json={"username": "mia", "password": PASSWORD})
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
        world.clock.advance(int(locked.headers["retry-after"]) + 1)
        assert (
            client.post("/api/login", json={"username": "mia", "password": PASSWORD}).status_code
            == 200
        )


def _enable_totp(client: TestClient, world: World) -> tuple[str, list[str]]:
    """Enrolls TOTP through the API; returns the secret and the recovery codes."""
    enrolled = client.post("/api/me/totp/enroll")
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    assert enrolled.json()["uri"].startswith("otpauth://totp/")
    assert client.post("/api/me/totp/confirm", json={"code": "000000"}).status_code == 400
    code = pyotp.TOTP(secret).at(world.clock())
    confirmed = client.post("/api/me/totp/confirm", json={"code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "active"
    client.headers["X-CSRF-Token"] = confirmed.json()["csrf_token"]
    return secret, confirmed.json()["recovery_codes"]


def test_mfa_pending_session_reaches_only_the_code_step(world: World) -> None:
    world.add_event()
    with _anonymous(world) as client:
        _login(client, "alice")
        secret, recovery = _enable_totp(client, world)
        assert len(recovery) == 10
        assert client.post("/api/logout").status_code == 204
        world.clock.advance(30)
        assert _login(client, "alice")["state"] == "mfa_pending"
        for path in ("/api/events", "/api/cameras", "/api/settings", "/api/users"):
            assert client.get(path).status_code == 401, path
        assert client.post("/api/me/totp/enroll").status_code == 401
        assert client.get("/api/me").json()["state"] == "mfa_pending"
        assert client.get("/", follow_redirects=False).headers["location"] == "/login/mfa"
        assert client.get("/login/mfa").status_code == 200
        assert client.post("/api/login/mfa", json={"code": "123456"}).status_code in (401,)
        done = client.post("/api/login/mfa", json={"code": pyotp.TOTP(secret).at(world.clock())})
        assert done.status_code == 200
        assert done.json()["state"] == "active"
        client.headers["X-CSRF-Token"] = done.json()["csrf_token"]
        assert client.get("/api/events").status_code == 200
        # A recovery code completes a login too, once.
        client.post("/api/logout")
        _login(client, "alice")
        assert client.post("/api/login/mfa", json={"code": recovery[0]}).status_code == 200


def test_mfa_without_pending_session_is_401(world: World, client_for: ClientFor) -> None:
    assert client_for("alice").post("/api/login/mfa", json={"code": "123456"}).status_code == 401


def test_admin_and_annotator_must_enroll_totp_first(world: World) -> None:
    for username, role in (("zed", Role.ADMIN), ("yan", Role.ANNOTATOR)):
        world.accounts.create_user(username, PASSWORD, role, None, world.clock())
        with _anonymous(world) as client:
            assert _login(client, username)["state"] == "enroll_pending"
            for path in ("/api/users", "/api/events", "/api/settings"):
                assert client.get(path).status_code == 401, path
            assert client.get("/", follow_redirects=False).headers["location"] == "/account"
            assert client.get("/account").status_code == 200
            _enable_totp(client, world)
            assert client.get("/api/me").json()["mfa_enabled"] is True
            expected = 200 if role is Role.ADMIN else 403
            assert client.get("/api/users").status_code == expected
            assert client.get("/api/events").status_code == 403  # neither sees media
            assert client.post("/api/me/totp/enroll").status_code == 409  # already on


def test_password_change_ends_other_sessions(world: World, client_for: ClientFor) -> None:
    phone, laptop = client_for("alice"), client_for("alice")
    wrong = phone.post("/api/me/password", json={"current": "not it at all", "new": NEW_PASSWORD})
    assert wrong.status_code == 400
    weak = phone.post("/api/me/password", json={"current": PASSWORD, "new": "short"})
    assert weak.status_code == 422
    changed = phone.post("/api/me/password", json={"current": PASSWORD, "new": NEW_PASSWORD})
    assert changed.status_code == 204
    assert phone.get("/api/me").status_code == 200  # the new cookie came with the answer
    assert laptop.get("/api/me").status_code == 401
    with _anonymous(world) as client:
        assert (
            client.post("/api/login", json={"username": "alice", "password": PASSWORD}).status_code
            == 401
        )
        _login(client, "alice", NEW_PASSWORD)


def test_pages_route_by_login_state(world: World, client_for: ClientFor) -> None:
    with _anonymous(world) as anonymous:
        for page in ("/", "/live", "/settings", "/account", "/events/" + "a" * 32, "/login/mfa"):
            response = anonymous.get(page, follow_redirects=False)
            assert (response.status_code, response.headers["location"]) == (303, "/login"), page
        assert anonymous.get("/login").status_code == 200
        assert anonymous.get("/setup", follow_redirects=False).headers["location"] == "/login"
    owner = client_for("alice")
    for page in ("/", "/live", "/settings", "/account", "/events/" + "a" * 32):
        response = owner.get(page)
        assert response.status_code == 200, page
        assert owner.headers["X-CSRF-Token"] in response.text  # the csrf-token meta tag
    assert owner.get("/login", follow_redirects=False).headers["location"] == "/"
