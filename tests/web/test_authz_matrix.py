"""Every route x every role, against the exact answer each must get; 0 leaks across households.

The routes come from ``app.routes``, so a route added without a row here fails the test. Each
cell runs on a fresh session and fresh data (an event of household A on camera ``front``, a
fresh member of A to remove, a fresh frame), so what one cell deletes or logs out cannot change
another's answer. Household B's owner must get, for A's ids, the very answer (status and body) a
nonexistent id gets. Then every state-changing API route is tried without its CSRF token and
from a foreign Origin.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import fastapi.routing
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import WebSocketDenialResponse

from hearthcam.privacy.familiar import consent_digest
from hearthcam.store.push import PushSubscription
from tests.conftest import free_port
from tests.support.asgi import AppSession, running
from tests.support.familiar_world import enrolled_person
from tests.support.push_service import browser_key
from tests.support.recording import record_clip
from tests.support.review_world import free_annotator, lease_for, publish
from tests.support.world import ORIGIN, PASSWORD, T0, World

ROLES = ("anonymous", "owner_a", "member_a", "owner_b", "admin", "annotator")
USERS = {
    "anonymous": "",
    "owner_a": "alice",
    "member_a": "mia",
    "owner_b": "bob",
    "admin": "ada",
    "annotator": "ann",
}
ACCEPTED = 101  # a WebSocket handshake that was accepted
# A browser's P-256 public key (uncompressed point, base64url), as PushSubscription gives it.
P256DH = browser_key()[1]


def failed(world: World, share_id: str) -> None:
    """The share's checks failed: it is owner only, so its owner may re-run them."""
    shares, now = world.services.sharing.shares, world.clock()
    assert shares.set_status(share_id, "consented", "checking", now)
    assert shares.set_status(share_id, "checking", "owner_only", now, "Failed — owner only")


def row(*statuses: int) -> dict[str, int]:
    """Expected status per role, in ROLES order."""
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


def same(status: int) -> dict[str, int]:
    return row(*[status] * len(ROLES))


MEDIA = row(401, 200, 200, 404, 403, 403)  # household A's media: B gets the nonexistent answer
HOUSEHOLD = row(401, 200, 200, 200, 403, 403)  # owners and members, each their own
OWNER = row(401, 200, 403, 200, 403, 403)
APP_PAGE = row(303, 200, 200, 200, 200, 200)  # pages only route; the API decides what shows


def annotator_only(status: int) -> dict[str, int]:
    """The workbench: annotators only (a lease of theirs for the {lease_id} rows)."""
    return row(401, 403, 403, 403, 403, status)


MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/openapi.json"): same(200),
    ("GET", "/api/setup"): same(200),
    ("POST", "/api/setup"): same(409),
    ("POST", "/api/login"): same(200),
    ("POST", "/api/login/mfa"): same(401),  # no session here is waiting for a code
    ("POST", "/api/logout"): row(401, 204, 204, 204, 204, 204),
    ("GET", "/api/me"): row(401, 200, 200, 200, 200, 200),
    ("POST", "/api/me/totp/enroll"): row(401, 200, 200, 200, 409, 409),
    ("POST", "/api/me/totp/confirm"): row(401, 400, 400, 400, 409, 409),  # wrong code; TOTP on
    ("POST", "/api/me/password"): row(401, 204, 204, 204, 204, 403),
    ("GET", "/api/me/encryption"): HOUSEHOLD,
    ("PUT", "/api/me/encryption"): OWNER,  # server mode asked for server mode: no change
    ("POST", "/api/me/encryption/lock"): row(401, 409, 403, 409, 403, 403),  # not password mode
    ("POST", "/api/me/encryption/unlock"): OWNER,  # open already: the status
    ("GET", "/api/cameras"): HOUSEHOLD,
    ("GET", "/api/cameras/{camera}/snapshot"): MEDIA,
    ("GET", "/api/cameras/{camera}/geometry"): MEDIA,
    ("GET", "/api/cameras/{camera}/health"): MEDIA,
    ("PUT", "/api/cameras/{camera}/geometry"): row(401, 200, 403, 404, 403, 403),
    ("POST", "/api/cameras/test"): OWNER,
    ("POST", "/api/cameras"): row(401, 201, 403, 201, 403, 403),
    ("GET", "/api/cameras/{camera}/source"): row(401, 200, 403, 404, 403, 403),
    ("PUT", "/api/cameras/{camera}/source"): row(401, 200, 403, 404, 403, 403),
    ("DELETE", "/api/cameras/{camera}"): row(401, 409, 403, 404, 403, 403),  # a config camera
    ("GET", "/api/events"): HOUSEHOLD,
    ("GET", "/api/events/stream"): HOUSEHOLD,
    ("POST", "/api/events/delete"): HOUSEHOLD,
    ("POST", "/api/events/reviewed"): HOUSEHOLD,  # each marks only their own household's
    ("PUT", "/api/events/{event_id}/reviewed"): MEDIA,
    ("DELETE", "/api/events/{event_id}/reviewed"): MEDIA,
    ("GET", "/api/events/{event_id}"): MEDIA,
    ("GET", "/api/events/{event_id}/clip"): MEDIA,
    ("GET", "/api/events/{event_id}/snapshot"): MEDIA,
    ("DELETE", "/api/events/{event_id}"): row(401, 204, 204, 404, 403, 403),
    ("GET", "/api/events/{event_id}/share/receipt"): row(401, 200, 403, 404, 403, 403),
    ("POST", "/api/events/{event_id}/share"): row(401, 201, 403, 404, 403, 403),
    ("GET", "/api/shares"): OWNER,
    ("GET", "/api/shares/{share_id}"): row(401, 200, 403, 404, 403, 403),
    ("DELETE", "/api/shares/{share_id}"): row(401, 200, 403, 404, 403, 403),  # withdrawn
    # an owner-only share (its checks failed) back to waiting for the checks
    ("POST", "/api/shares/{share_id}/rerun"): row(401, 200, 403, 404, 403, 403),
    # the review hub this home can share with, and its withdrawn clips' deletion receipts
    ("GET", "/api/hub"): OWNER,
    ("GET", "/api/hub/deletions"): OWNER,
    # the installation's link to a hub: owners and admins read it, admins change it (here no
    # hub answers at the address: 424; nothing is linked to unlink: 409)
    ("GET", "/api/hub/link"): row(401, 200, 403, 200, 200, 403),
    ("POST", "/api/hub/link"): row(401, 403, 403, 403, 424, 403),
    ("POST", "/api/hub/unlink"): row(401, 403, 403, 403, 409, 403),
    ("GET", "/api/history/{camera}"): MEDIA,
    ("GET", "/api/history/{camera}/media"): MEDIA,  # the household's recording, as clips
    ("WS", "/api/live/{camera}/mse"): row(401, ACCEPTED, ACCEPTED, 404, 403, 403),
    ("GET", "/api/live/{camera}/mjpeg"): MEDIA,
    ("GET", "/api/live/{camera}/overlay"): MEDIA,
    ("GET", "/api/system"): row(401, 200, 403, 200, 200, 403),  # owners: their own; admins
    ("GET", "/api/system/logs"): row(401, 200, 403, 200, 200, 403),
    ("GET", "/api/settings"): OWNER,
    ("PUT", "/api/settings"): OWNER,
    ("GET", "/api/settings/storage"): OWNER,
    ("GET", "/api/users"): row(401, 200, 403, 200, 200, 403),
    ("POST", "/api/users"): row(401, 201, 403, 201, 201, 403),
    ("DELETE", "/api/users/{user_id}"): row(401, 204, 403, 404, 204, 403),
    ("POST", "/api/users/{user_id}/reset"): row(401, 200, 403, 404, 200, 403),
    ("GET", "/api/system/status"): row(401, 403, 403, 403, 200, 403),
    ("POST", "/api/enrol/info"): same(200),  # {"valid": false}: no such link
    ("POST", "/api/enrol/totp"): same(400),
    ("POST", "/api/enrol"): same(400),
    ("POST", "/api/password/strength"): same(200),
    ("GET", "/api/push/key"): HOUSEHOLD,
    ("POST", "/api/push/subscriptions"): row(401, 201, 201, 201, 403, 403),
    ("DELETE", "/api/push/subscriptions"): row(401, 204, 204, 204, 403, 403),  # their own
    ("GET", "/api/review/queue"): annotator_only(200),
    ("POST", "/api/review/leases"): annotator_only(201),
    ("GET", "/api/review/leases/{lease_id}"): annotator_only(200),
    ("GET", "/api/review/leases/{lease_id}/clip"): annotator_only(200),
    ("POST", "/api/review/leases/{lease_id}/annotation"): annotator_only(201),
    ("POST", "/api/review/leases/{lease_id}/release"): annotator_only(204),
    ("POST", "/api/review/leases/{lease_id}/report"): annotator_only(200),
    ("GET", "/api/review/flags"): row(401, 403, 403, 403, 200, 403),
    ("GET", "/api/views"): OWNER,
    ("GET", "/api/views/consistency"): OWNER,
    ("GET", "/api/exports"): HOUSEHOLD,
    ("POST", "/api/exports"): row(401, 202, 202, 404, 403, 403),  # B: A's camera is unknown
    ("GET", "/api/exports/audit"): OWNER,
    ("GET", "/api/exports/{export_id}"): MEDIA,
    ("GET", "/api/exports/{export_id}/download"): MEDIA,
    ("DELETE", "/api/exports/{export_id}"): row(401, 204, 204, 404, 403, 403),
    ("GET", "/api/familiar"): OWNER,
    ("PUT", "/api/familiar"): OWNER,
    ("GET", "/api/familiar/consent"): OWNER,
    # A's event: its snapshot has no face (400); B gets the nonexistent answer
    ("POST", "/api/familiar/people"): row(401, 400, 403, 404, 403, 403),
    ("DELETE", "/api/familiar/people/{person_id}"): row(401, 204, 403, 404, 403, 403),
    ("GET", "/api/familiar/faces/{face_id}/photo"): row(401, 200, 403, 404, 403, 403),
    ("GET", "/api/events/{event_id}/people"): MEDIA,
    ("GET", "/sw.js"): same(200),
    ("GET", "/setup"): same(303),
    ("GET", "/login"): row(200, 303, 303, 303, 303, 303),
    ("GET", "/login/mfa"): same(303),
    ("GET", "/account"): APP_PAGE,
    ("GET", "/"): row(303, 200, 200, 200, 303, 303),  # annotator: workbench; admin: /admin
    ("GET", "/admin"): APP_PAGE,
    ("GET", "/enrol"): same(200),
    ("GET", "/live"): APP_PAGE,
    ("GET", "/settings"): APP_PAGE,
    ("GET", "/shared"): APP_PAGE,
    ("GET", "/review"): APP_PAGE,
    ("GET", "/views"): APP_PAGE,
    ("GET", "/system"): APP_PAGE,
    ("GET", "/exports"): APP_PAGE,
    ("GET", "/people"): APP_PAGE,
    ("GET", "/events/{event_id}"): APP_PAGE,
    ("GET", "/history/{camera}"): APP_PAGE,
    ("MOUNT", "/static"): same(200),
}

SETTINGS = {"mode": "home", "retention": {"threat": 48, "pet": 12, "vehicle": 24, "motion": 6}}
RECORDED = T0 - 7200  # when "front" recorded what the history media rows play
NO_EVENT = "0" * 32
NO_CAMERA = "nosuch"
NO_SHARE = "f" * 32
NO_EXPORT = "e" * 32
NO_PERSON = "d" * 32
NO_FACE = "c" * 32
NO_HUB = f"http://127.0.0.1:{free_port()}"  # nothing listens there
ID_PARAMS = ("{event_id}", "{camera}", "{share_id}", "{export_id}", "{person_id}", "{face_id}")
# CSRF exemptions: no session exists yet whose token could be echoed (Origin is checked instead).
CSRF_EXEMPT = {
    ("POST", "/api/setup"),
    ("POST", "/api/login"),
    # No session yet: an invited user's enrolment and the strength meter of setup and enrolment.
    ("POST", "/api/enrol/info"),
    ("POST", "/api/enrol/totp"),
    ("POST", "/api/enrol"),
    ("POST", "/api/password/strength"),
}


def _routes(world: World) -> list[tuple[BaseRoute, str, set[str]]]:
    """(route, full path, methods) of every route, through included routers.

    FastAPI 0.16x keeps included routers as branches of ``app.routes``; ``iter_route_contexts``
    flattens them. Older versions list the routes themselves."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    if flatten is None:
        return [(r, r.path, getattr(r, "methods", None) or set()) for r in world.app.routes]  # type: ignore[attr-defined]
    return [(c.original_route, c.path, c.methods or set()) for c in flatten(world.app.routes)]


def app_routes(world: World) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves."""
    found: set[tuple[str, str]] = set()
    for route, path, methods in _routes(world):
        if isinstance(route, APIWebSocketRoute):
            found.add(("WS", path))
        elif isinstance(route, Mount):
            found.add(("MOUNT", path))
        elif isinstance(route, APIRoute | Route):  # Route: the OpenAPI document
            found.update((m, path) for m in methods if m != "HEAD")
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def push_subscription(endpoint: str) -> dict[str, Any]:
    """A well-formed PushSubscription.toJSON() (a real P-256 point and a 16-byte secret)."""
    return {"endpoint": endpoint, "keys": {"p256dh": P256DH, "auth": "MTIzNDU2Nzg5MDEyMzQ1Ng"}}


def body_for(key: tuple[str, str], role: str, n: int, event_id: str) -> Any:
    """The request body a cell sends (valid, so only authorization decides the answer)."""
    _method, _path = key
    household = role in ("owner_a", "member_a", "owner_b")
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/setup"): {"username": f"new{n}", "password": PASSWORD, "household": "X"},
        ("POST", "/api/login"): {"username": "pia", "password": PASSWORD},
        ("POST", "/api/login/mfa"): {"code": "123456"},
        ("POST", "/api/me/totp/confirm"): {"code": "123456"},
        ("POST", "/api/me/password"): {"current": PASSWORD, "new": PASSWORD},
        ("PUT", "/api/me/encryption"): {"password_mode": False, "password": PASSWORD},
        ("POST", "/api/me/encryption/unlock"): {"password": PASSWORD},
        ("PUT", "/api/settings"): SETTINGS,
        ("PUT", "/api/cameras/{camera}/geometry"): {
            "mask": [{"points": [[0, 0], [1, 0], [1, 0.1]]}],
            "zones": [{"name": "porch", "points": [[0, 0.5], [1, 0.5], [1, 1]]}],
        },
        ("POST", "/api/events/delete"): {"ids": [event_id]},
        ("POST", "/api/events/reviewed"): {},
        ("POST", "/api/exports"): {"camera": "front", "start": T0 - 615, "end": T0 - 612},
        ("POST", "/api/review/leases/{lease_id}/annotation"): {"verdict": "pet"},
        ("POST", "/api/cameras/test"): {"url": "rtsp://cam.example/stream"},
        ("POST", "/api/cameras"): {"name": f"Garage {n}", "detect_url": "rtsp://cam.example/s"},
        ("PUT", "/api/cameras/{camera}/source"): {
            "name": "Front door",
            "detect_url": "front.mp4",  # a config camera's file path may stay as it was
        },
        ("POST", "/api/push/subscriptions"): push_subscription(f"https://push.example/{n}"),
        ("POST", "/api/users"): {
            "username": f"new{n}",
            "role": "member" if household else "annotator",
        },
        ("POST", "/api/enrol/info"): {"token": "no-such-link"},
        ("POST", "/api/enrol/totp"): {"token": "no-such-link"},
        ("POST", "/api/enrol"): {"token": "no-such-link", "password": PASSWORD, "code": "123456"},
        ("POST", "/api/password/strength"): {"password": PASSWORD, "username": "alice"},
        ("PUT", "/api/familiar"): {"enabled": True},
        ("POST", "/api/hub/link"): {"address": NO_HUB, "code": "ABCDE-FGHJK", "name": "Home A"},
        ("POST", "/api/familiar/people"): {
            "name": "Sam",
            "consent_sha256": consent_digest("Sam"),
            "event_id": event_id,
        },
    }
    return bodies.get(key)


@dataclass
class Cell:
    """One request of the matrix, ready to send."""

    key: tuple[str, str]
    role: str
    path: str
    headers: dict[str, str]
    body: bytes
    event_id: str


class Runner:
    """Prepares fresh data and a fresh session per cell, and sends it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.counter = itertools.count()
        world.add_member("pia")  # the user the login row logs in as
        # Two 1 s segments of "front" recorded, so its history media answers 200.
        record_clip(
            world.services.media, world.store, world.data_dir, "front", world.clip_source, RECORDED
        )

    def cell(self, key: tuple[str, str], role: str, *, csrf: bool = True, **ids: str) -> Cell:
        world, n = self.world, next(self.counter)
        method, template = key
        event = world.add_event("front")
        world.feed_frame("front", n)
        values = {"event_id": event.id, "camera": "front", **ids}
        if "{user_id}" in template and "user_id" not in ids:
            values["user_id"] = str(world.add_member(f"victim{n}"))
        if "{export_id}" in template and "export_id" not in ids:
            values["export_id"] = world.add_export("front")
        if ("{person_id}" in template or "{face_id}" in template) and "person_id" not in ids:
            values["person_id"], values["face_id"] = enrolled_person(world, f"Sam {n}")
        if key == ("POST", "/api/familiar/people"):
            assert world.services.familiar is not None
            world.services.familiar.turn_on(world.household_a, "alice")
        if key == ("GET", "/api/familiar/consent"):
            template += "?name=Sam"
        if key == ("POST", "/api/exports") and "front" not in world.recorded:
            world.add_footage("front", T0 - 620, 20.0)
        if "{share_id}" in template and "share_id" not in ids:
            values["share_id"] = world.add_share(world.add_event("front")).id
            if key == ("POST", "/api/shares/{share_id}/rerun"):
                failed(world, values["share_id"])
        if "{lease_id}" in template:
            values["lease_id"] = lease_for(world).id  # the annotator's; others may not use it
        if key == ("POST", "/api/review/leases"):
            free_annotator(world)
            publish(world)
        path = "/static/app.js" if method == "MOUNT" else template.format(**values)
        if key == ("GET", "/api/history/{camera}/media"):
            path += f"?since={RECORDED}&until={RECORDED + 2}"
        if key == ("DELETE", "/api/push/subscriptions"):
            # The caller's own subscription, when they are someone who can have one.
            endpoint = f"https://push.example/mine-{n}"
            user = world.user_ids.get(USERS[role])
            household = {"owner_a": world.household_a, "member_a": world.household_a}.get(
                role, world.household_b
            )
            if user is not None:
                sub = PushSubscription(user, household, endpoint, P256DH, "MTIzNDU2Nzg5MDEyMzQ1Ng")
                world.services.push.add(sub, world.clock())
            path += f"?endpoint={quote(endpoint, safe='')}"
        if key == ("GET", "/api/views/consistency"):
            path += "?first=0&second=0"  # the empty log is a prefix of itself
        headers = {"origin": ORIGIN}
        if USERS[role]:
            token = world.session_token(USERS[role])
            headers["cookie"] = f"hc_session={token}"
            if csrf:
                headers["x-csrf-token"] = world.csrf(token)
        if key == ("POST", "/api/me/totp/confirm") and role in ("owner_a", "member_a", "owner_b"):
            # An enrollment to confirm (with a wrong code): the answer no longer depends on
            # whether an earlier cell left one behind.
            world.accounts.enroll_totp(token, world.clock())
        body = body_for(key, role, n, event.id)
        if key == ("POST", "/api/events/{event_id}/share"):
            body = {"receipt_sha256": world.receipt_digest(event)}
        raw = b"" if body is None else json.dumps(body).encode()
        if raw:
            headers["content-type"] = "application/json"
        return Cell(key, role, path, headers, raw, event.id)

    async def http(self, app: AppSession, cell: Cell) -> tuple[int, bytes]:
        method = "GET" if cell.key[0] == "MOUNT" else cell.key[0]
        call = await app.request(method, cell.path, cell.headers, cell.body)
        return call.status, call.body

    def websocket(self, cell: Cell) -> tuple[int, bytes]:
        with TestClient(self.world.app) as client:
            try:
                with client.websocket_connect(cell.path, headers=cell.headers):
                    return ACCEPTED, b""
            except WebSocketDenialResponse as denied:
                return denied.status_code, denied.content


Observed = dict[tuple[str, str], dict[str, int]]


def run_matrix(world: World, runner: Runner) -> tuple[Observed, list[str]]:
    """Sends every cell; returns the statuses and the leaks found on the way."""
    observed: Observed = {}
    leaks: list[str] = []

    async def http_cells() -> None:
        async with running(world.app) as app:
            for key in MATRIX:
                if key[0] == "WS":
                    continue
                for role in ROLES:
                    cell = runner.cell(key, role)
                    status, body = await runner.http(app, cell)
                    observed.setdefault(key, {})[role] = status
                    leaks.extend(household_leaks(world, cell, status, body))

    asyncio.run(http_cells())
    for key in (k for k in MATRIX if k[0] == "WS"):
        for role in ROLES:
            observed.setdefault(key, {})[role] = runner.websocket(runner.cell(key, role))[0]
    return observed, leaks


def household_leaks(world: World, cell: Cell, status: int, body: bytes) -> list[str]:
    """What household B's owner learned of household A in one answer."""
    if cell.role != "owner_b" or not cell.key[1].startswith("/api/"):
        return []
    where = f"{cell.key} as owner_b"
    found = []
    if cell.event_id.encode() in body or b'"front"' in body or b'"back"' in body:
        found.append(f"{where}: A's data in the body")
    if world.store.get_event(cell.event_id) is None:
        found.append(f"{where}: deleted A's event")
    if cell.key == ("POST", "/api/events/delete") and json.loads(body) != {"deleted": 0}:
        found.append(f"{where}: counted A's event")
    if any(p in cell.key[1] for p in ID_PARAMS) and status != 404:
        found.append(f"{where}: answered {status}, not 404")
    return found


def test_every_route_has_a_matrix_row(world: World) -> None:
    assert app_routes(world) == set(MATRIX)


def test_authorization_matrix_is_exact_with_no_leaks(world: World) -> None:
    runner = Runner(world)
    observed, leaks = run_matrix(world, runner)
    assert observed == MATRIX
    assert leaks == []


def test_other_households_ids_answer_exactly_like_missing_ones(world: World) -> None:
    runner = Runner(world)

    async def compare() -> list[str]:
        differences = []
        async with running(world.app) as app:
            for key in MATRIX:
                method, template = key
                if method == "WS" or not any(p in template for p in ID_PARAMS):
                    continue
                if not template.startswith("/api/"):
                    continue  # pages render a shell for any id; their data comes from the API
                theirs = await runner.http(app, runner.cell(key, "owner_b"))
                missing = await runner.http(
                    app,
                    runner.cell(
                        key,
                        "owner_b",
                        event_id=NO_EVENT,
                        camera=NO_CAMERA,
                        share_id=NO_SHARE,
                        export_id=NO_EXPORT,
                        person_id=NO_PERSON,
                        face_id=NO_FACE,
                    ),
                )
                if theirs != missing:
                    differences.append(f"{key}: {theirs} != {missing}")
        return differences

    assert asyncio.run(compare()) == []
    ws = ("WS", "/api/live/{camera}/mse")
    theirs = runner.websocket(runner.cell(ws, "owner_b"))
    assert theirs == runner.websocket(runner.cell(ws, "owner_b", camera=NO_CAMERA))


def _unsafe_api_routes() -> list[tuple[str, str]]:
    return [k for k in MATRIX if k[0] in ("POST", "PUT", "DELETE") and k[1].startswith("/api/")]


def test_state_changing_routes_need_the_csrf_token(world: World) -> None:
    runner = Runner(world)
    refused: dict[tuple[str, str], set[int]] = {}

    async def sweep() -> None:
        async with running(world.app) as app:
            for key in _unsafe_api_routes():
                for role in ROLES[1:]:
                    status, _ = await runner.http(app, runner.cell(key, role, csrf=False))
                    refused.setdefault(key, set()).add(status)

    asyncio.run(sweep())
    for key, statuses in refused.items():
        if key in CSRF_EXEMPT:
            assert 403 not in statuses, key
        else:
            assert statuses == {403}, key


def test_state_changing_routes_refuse_a_foreign_origin(world: World) -> None:
    runner = Runner(world)
    statuses: dict[tuple[str, str], int] = {}

    async def sweep() -> None:
        async with running(world.app) as app:
            for key in _unsafe_api_routes():
                cell = runner.cell(key, "owner_a")
                cell.headers["origin"] = "https://evil.example"
                statuses[key] = (await runner.http(app, cell))[0]

    asyncio.run(sweep())
    assert set(statuses.values()) == {403}, statuses
