"""The workbench at the hub, over HTTP: a real hub on loopback (SQLite, sealed clips, its view
log), a real home that shares and withdraws through its delivery, real accounts (enrolment by
one-time link, argon2, TOTP codes from pyotp), real watermarked copies of a real H.264 clip.

The hub's checks here are a stand-in that passes every clip (the real models run in
tests/hub/test_checks.py and in the walks): what is under test is who is offered what, what
they are shown, what is logged before a byte leaves, and that a withdrawal takes the leases and
annotations with the clip."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import httpx
import numpy as np
import pyotp
import pytest

from hearthcam.accounts import Role
from hearthcam.hub.checks import PASSED, HubChecks
from hearthcam.hub.client import HubClient
from hearthcam.hub.desk import REPORTED
from hearthcam.hub.home import HOME_IDENTITY, read_link
from hearthcam.hub.identity import load_or_create, public_key_from_b64
from hearthcam.hub.monitor import HomeLogState
from hearthcam.store.hub_deliveries import DeliveryState
from hearthcam.viewlog.entry import ViewEntry, entry_bytes, parse_entry
from hearthcam.web.client_address import TrustedProxies
from tests.hub.test_checks import Verdicts
from tests.hub.test_delivery import Home, home, hub
from tests.support.hubs import TestHub

__all__ = ["home", "hub"]

pytestmark = pytest.mark.integration

PASSWORD = "a long walk by the quiet river"


class Clock:
    """The workbench's clock, moved by the test (leases expire, days turn)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Person:
    """Someone at the hub's pages with their own cookies: enrolled by the link the operator
    made, signed in with their password and a TOTP code."""

    def __init__(self, hub: TestHub, name: str, role: Role = Role.ANNOTATOR) -> None:
        assert hub.workbench is not None
        self.hub = hub
        self.name = name
        self.http = httpx.Client(base_url=hub.url, timeout=60)
        self.csrf = ""
        invite = hub.workbench.accounts.enrolment.invite(name, role, None, time.time())
        self.secret = self.post("/api/enrol/totp", {"token": invite.token}).json()["secret"]
        code = pyotp.TOTP(self.secret).now()
        done = self.post("/api/enrol", {"token": invite.token, "password": PASSWORD, "code": code})
        assert done.status_code == 200, done.text
        assert len(done.json()["recovery_codes"]) == 10
        self.csrf = done.json()["csrf_token"]

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.http.get(path, **options)

    def sign_in_again(self) -> None:
        """Logs out, then in: the password, then a TOTP code of a later step than any used."""
        assert self.post("/api/logout").status_code == 204
        self.http.cookies.clear()
        first = self.post("/api/login", {"username": self.name, "password": PASSWORD})
        assert first.status_code == 200, first.text
        assert first.json()["state"] == "mfa_pending"
        self.csrf = first.json()["csrf_token"]
        assert self.get("/api/review/queue").status_code == 401  # not signed in yet
        code = pyotp.TOTP(self.secret).at(time.time() + 30)
        second = self.post("/api/login/mfa", {"code": code})
        assert second.status_code == 200, second.text
        self.csrf = second.json()["csrf_token"]

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bench(hub: TestHub, clock: Clock) -> Iterator[Callable[..., HubChecks]]:
    """Opens the hub's workbench (with rules) behind a check that passes every clip."""
    made: list[HubChecks] = []

    def open_with(**rules: Any) -> HubChecks:
        checks = HubChecks.from_url(f"sqlite:///{hub.database}", hub.clips, lambda: Verdicts(
            lambda data: None))  # fmt: skip
        made.append(checks)
        hub.open_workbench(checks, clock, **rules)
        hub.stop()
        hub.start()
        return checks

    yield open_with
    for checks in made:
        checks.close()


@pytest.fixture
def people(hub: TestHub) -> Iterator[Callable[..., Person]]:
    made: list[Person] = []

    def person(name: str, role: Role = Role.ANNOTATOR) -> Person:
        made.append(Person(hub, name, role))
        return made[-1]

    yield person
    for someone in made:
        someone.close()


def _sent(home: Home) -> tuple[str, str]:
    """A share of the home published and delivered: (share id, clip id at the hub)."""
    share = home.share()
    home.publish(share)
    assert share.id in home.delivery.run_once().sent
    delivery = home.deliveries.get(share.id)
    assert delivery is not None
    return share.id, delivery.clip_id


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), "r") as container:
        return [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]


def test_an_annotator_enrolled_by_link_sees_the_watermarked_clip_logged_for_its_home_first(
    hub: TestHub, home: Home, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    checks = bench()
    _share, clip_id = _sent(home)
    ada = people("ada")
    # Not checked yet: offered to nobody.
    assert ada.get("/api/review/queue").json()["available"] == 0
    assert [o.state for o in checks.run_once()] == [PASSED]
    queue = ada.get("/api/review/queue").json()
    assert (queue["available"], queue["quota_left"], queue["lease_id"]) == (1, 200, None)

    taken = ada.post("/api/review/leases")
    assert taken.status_code == 201, taken.text
    lease = taken.json()
    # Nothing of the home: no time of day, no date, no camera; the watermark names the viewer.
    assert lease["time_of_day"] is None
    assert lease["watermark"] == f"ada {lease['id'][:8]}"
    assert lease["frames"] > 0
    assert lease["width"] == 160
    assert "home" not in str(lease).lower()
    assert clip_id not in str(lease)
    assert hub.log.size() == 0  # taking is not viewing

    clip = ada.get(lease["clip_url"])
    assert clip.status_code == 200
    assert clip.headers["cache-control"] == "no-store"
    assert clip.headers["content-disposition"] == "inline"
    # The copy is not the clip the home sent: every frame carries the watermark.
    sent = hub.clips.open(home.home_id, clip_id)
    assert clip.content != sent
    shown, original = _frames(clip.content), _frames(sent)
    assert len(shown) == len(original)
    assert all(
        np.abs(a.astype(int) - b.astype(int)).mean() > 2
        for a, b in zip(shown, original, strict=True)
    )

    # Logged under the clip's home before the bytes went, with the lease and the byte range.
    [logged] = hub.log.entries_for_household(home.home_id)
    entry = logged.entry
    assert (entry.viewer_role, entry.clip_id, entry.lease_id) == ("annotator", clip_id, lease["id"])
    assert entry.byte_range == (0, len(clip.content) - 1)
    assert logged.data == entry_bytes(logged.index, entry)
    # A range is one more entry, for the bytes it covers.
    part = ada.get(lease["clip_url"], headers={"Range": "bytes=0-99"})
    assert (part.status_code, len(part.content)) == (206, 100)
    assert hub.log.entries_for_household(home.home_id)[-1].entry.byte_range == (0, 99)

    # The home's own round of the hub's log proves both views to its owner.
    proven = _home_round(home)
    assert [(e.clip_id, e.viewer_role) for e in proven] == [(clip_id, "annotator")] * 2

    done = ada.post(
        f"/api/review/leases/{lease['id']}/annotation",
        {"verdict": "pet", "keyframes": [
            {"frame": 3, "boxes": [{"xyxy": [0.1, 0.2, 0.5, 0.9], "label": "dog", "track": 1}]}
        ]},
    )  # fmt: skip
    assert done.status_code == 201, done.text
    assert hub.workbench is not None
    [annotation] = hub.workbench.desk.annotations()
    assert (annotation.home_id, annotation.clip_id, annotation.verdict.value) == (
        home.home_id, clip_id, "pet",
    )  # fmt: skip
    assert annotation.keyframes[0].boxes[0].label == "dog"
    # The lease ended: its clip answers 410 and the clip is not offered again (one per clip).
    assert ada.get(lease["clip_url"]).status_code == 410
    assert ada.get("/api/review/queue").json()["available"] == 0


def _home_round(home: Home) -> list[ViewEntry]:
    """The home's entries as its own check of the hub's log proves them (``hub.monitor``)."""
    link = read_link(home.data_dir)
    assert link is not None
    identity = load_or_create(home.data_dir / HOME_IDENTITY)
    with HubClient(link.url, identity, hub_key=public_key_from_b64(link.hub_key)) as client:
        assert link.log_key is not None
        log_key = public_key_from_b64(link.log_key)
        state, findings = client.log_round(log_key, HomeLogState(), link.home_id)
    assert findings == []
    return [parse_entry(data)[1] for _index, data in sorted(state.seen.items())]


def test_one_lease_at_a_time_per_clip_and_per_annotator_within_the_daily_quota(
    hub: TestHub,
    home: Home,
    bench: Callable[..., HubChecks],
    people: Callable[..., Person],
    clock: Clock,
) -> None:
    checks = bench(daily_quota=2, per_clip=2, lease_minutes=5)
    _sent(home)
    _sent(home)
    checks.run_once()
    ada, bob = people("ada"), people("bob")
    first = ada.post("/api/review/leases").json()
    # One lease at a time; the other annotator is offered only the other clip.
    held = ada.post("/api/review/leases")
    assert (held.status_code, held.json()["detail"]) == (
        409, "you hold a lease already: finish or give it back first",
    )  # fmt: skip
    assert bob.get("/api/review/queue").json()["available"] == 1
    second = bob.post("/api/review/leases").json()
    assert bob.get("/api/review/queue").json()["available"] == 0
    # Another annotator's lease does not exist for them.
    assert bob.get(f"/api/review/leases/{first['id']}").status_code == 404
    assert bob.get(f"/api/review/leases/{first['id']}/clip").status_code == 404
    assert hub.log.size() == 0
    # Given back, the clip waits again; bob gives his back too.
    assert ada.post(f"/api/review/leases/{first['id']}/release").status_code == 204
    assert ada.post(f"/api/review/leases/{first['id']}/release").status_code == 410
    assert bob.post(f"/api/review/leases/{second['id']}/release").status_code == 204
    # The quota counts leases taken today: ada's second is her last.
    again = ada.post("/api/review/leases").json()
    assert ada.get("/api/review/queue").json()["quota_left"] == 0
    # The minutes run out: the lease ends, its clip answers 410, nothing more can be taken today.
    clock.now += 5 * 60 + 1
    assert ada.get(again["clip_url"]).status_code == 410
    assert ada.get(f"/api/review/leases/{again['id']}").status_code == 410
    quota = ada.post("/api/review/leases")
    assert (quota.status_code, quota.json()["detail"]) == (409, "you reached today's quota")
    # The next UTC day brings the quota back (asked of the desk: a day later the session is
    # long over, and so is the TOTP code that would open a new one).
    assert hub.workbench is not None
    [ada_id] = [u.id for u in hub.workbench.accounts.list_users() if u.username == "ada"]
    assert hub.workbench.desk.queue(ada_id, clock.now + 24 * 3600).quota_left == 2


def test_an_annotator_is_not_offered_a_clip_they_annotated(
    hub: TestHub, home: Home, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    checks = bench(per_clip=2)
    _sent(home)
    checks.run_once()
    ada, bob = people("ada"), people("bob")
    lease = ada.post("/api/review/leases").json()
    done = ada.post(f"/api/review/leases/{lease['id']}/annotation", {"verdict": "threat"})
    assert done.status_code == 201
    assert ada.get("/api/review/queue").json()["available"] == 0
    assert bob.get("/api/review/queue").json()["available"] == 1  # a second opinion is wanted
    false_alarm = {"verdict": "false_alarm"}  # without its reason
    lease = bob.post("/api/review/leases").json()
    assert bob.post(f"/api/review/leases/{lease['id']}/annotation", false_alarm).status_code == 422
    false_alarm["reason"] = "shadow"
    assert bob.post(f"/api/review/leases/{lease['id']}/annotation", false_alarm).status_code == 201
    assert bob.get("/api/review/queue").json()["available"] == 0
    assert hub.workbench is not None
    assert [a.verdict.value for a in hub.workbench.desk.annotations()] == ["threat", "false_alarm"]


def test_a_withdrawal_takes_the_clips_leases_and_annotations_with_it(
    hub: TestHub, home: Home, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    checks = bench(per_clip=2)
    annotated_share, _ = _sent(home)
    leased_share, _ = _sent(home)
    checks.run_once()
    ada, bob = people("ada"), people("bob")
    lease = ada.post("/api/review/leases").json()
    assert ada.post(f"/api/review/leases/{lease['id']}/annotation", {"verdict": "pet"}).is_success
    held = bob.post("/api/review/leases").json()  # the other clip, first in line for bob
    assert bob.get(held["clip_url"]).status_code == 200
    assert hub.workbench is not None
    desk = hub.workbench.desk
    assert len(desk.annotations()) == 1

    home.sharing.withdraw(annotated_share)
    home.sharing.withdraw(leased_share)
    deleted = {d.share_id for d in home.deliveries.in_state(DeliveryState.DELETED)}
    assert deleted == {annotated_share, leased_share}
    assert hub.clips.list(home.home_id) == []
    assert desk.annotations() == []
    # Bob's lease was revoked at once: its copy is gone, the clip answers 410.
    assert bob.get(held["clip_url"]).status_code == 410
    assert bob.get("/api/review/queue").json() == {
        "available": 0, "quota": 200, "taken_today": 2 - 1, "quota_left": 199, "lease_id": None,
    }  # fmt: skip
    # The views stay in the log: the home's proof that they happened outlives the clip.
    assert len(_home_round(home)) == 1


def test_should_not_be_here_deletes_the_clip_and_its_home_reads_why(
    hub: TestHub, home: Home, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    checks = bench()
    share_id, clip_id = _sent(home)
    checks.run_once()
    ada = people("ada")
    lease = ada.post("/api/review/leases").json()
    assert ada.post(f"/api/review/leases/{lease['id']}/report").json() == {"disposed": True}
    assert hub.clips.list(home.home_id) == []
    assert ada.get(lease["clip_url"]).status_code == 410
    assert ada.get("/api/review/queue").json()["available"] == 0
    # The home's next pass reads the refusal and its signed receipt.
    home.delivery.run_once()
    delivery = home.deliveries.get(share_id)
    assert delivery is not None
    assert delivery.state is DeliveryState.REFUSED
    assert REPORTED in delivery.error
    assert delivery.deletion is not None
    assert delivery.deletion["clip_id"] == clip_id
    assert checks.state(home.home_id, clip_id) == "refused"


def test_who_may_do_what_at_the_hubs_pages(
    hub: TestHub, home: Home, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    checks = bench()
    _sent(home)
    checks.run_once()
    ada, root = people("ada"), people("root", Role.ADMIN)
    stranger = httpx.Client(base_url=hub.url, timeout=30)
    try:
        for path in ("/api/review/queue", "/api/hub/admin", "/api/me"):
            assert stranger.get(path).status_code == 401
        assert stranger.post("/api/review/leases").status_code == 401
        # Pages send a visitor without a session to the login.
        page = stranger.get("/review", follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/login")
        assert stranger.get("/login").status_code == 200
        wrong = stranger.post("/api/login", json={"username": "ada", "password": "guess"})
        assert wrong.status_code == 401
    finally:
        stranger.close()
    # Roles: the workbench is the annotators', the figures the admins'.
    assert root.get("/api/review/queue").status_code == 403
    assert ada.get("/api/hub/admin").status_code == 403
    assert ada.get("/admin", follow_redirects=False).headers["location"] == "/review"
    assert root.get("/review", follow_redirects=False).headers["location"] == "/admin"
    # A state change needs the session's CSRF token and the page's own origin.
    no_token = ada.http.post("/api/review/leases")
    assert (no_token.status_code, no_token.json()["detail"]) == (403, "missing or wrong CSRF token")
    cross = ada.http.post(
        "/api/review/leases", headers={"X-CSRF-Token": ada.csrf, "Origin": "http://evil.test"}
    )
    assert cross.status_code == 403
    # A password alone is half a login: the workbench waits for the TOTP code.
    ada.sign_in_again()
    assert ada.get("/api/review/queue").status_code == 200
    figures = root.get("/api/hub/admin").json()
    assert (figures["homes"], figures["clips_held"], figures["clips_passed"]) == (1, 1, 1)
    assert (figures["waiting"], figures["annotations"], figures["log_size"]) == (1, 0, 0)
    assert {(p["username"], p["role"], p["mfa_enabled"]) for p in figures["annotators"]} == {
        ("ada", "annotator", True), ("root", "admin", True),
    }  # fmt: skip


def test_an_account_without_two_factor_cannot_sign_in(
    hub: TestHub, bench: Callable[..., HubChecks]
) -> None:
    bench()
    assert hub.workbench is not None
    hub.workbench.accounts.create_user("eve", PASSWORD, Role.ANNOTATOR, None, time.time())
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        answer = client.post("/api/login", json={"username": "eve", "password": PASSWORD})
        assert answer.status_code == 403
        assert "two-factor sign-in is not set up" in answer.json()["detail"]
        assert client.get("/api/me").status_code == 401  # no session was left open


def test_behind_a_trusted_proxy_a_guesser_slows_only_itself(
    hub: TestHub, bench: Callable[..., HubChecks], people: Callable[..., Person]
) -> None:
    bench()
    ada = people("ada")
    assert hub.workbench is not None
    right = {"username": "ada", "password": PASSWORD}

    def guesses(client: httpx.Client, forwarded: str, count: int) -> list[int]:
        """Wrong passwords at as many names (the throttle counts a client's failures at any)."""
        headers = {"X-Forwarded-For": forwarded}
        return [
            client.post(
                "/api/login", json={"username": f"guess{i}", "password": "not it at all"},
                headers=headers,
            ).status_code
            for i in range(count)
        ]  # fmt: skip

    with httpx.Client(base_url=hub.url, timeout=30) as client:
        # Not trusted (the default): the forwarded address is ignored; every login through
        # the proxy is one client, and a guesser slows the annotators down with it.
        statuses = guesses(client, "203.0.113.9", 21)
        assert statuses[:20] == [401] * 20
        assert statuses[20] == 429
        blocked = client.post("/api/login", json=right, headers={"X-Forwarded-For": "198.51.100.7"})
        assert blocked.status_code == 429
    # The proxy in front named: each forwarded client is counted on its own.
    hub.workbench.proxies = TrustedProxies.parse(["127.0.0.1/32"])
    with httpx.Client(base_url=hub.url, timeout=30) as client:
        assert guesses(client, "203.0.113.50", 21)[20] == 429
        annotator = client.post(
            "/api/login", json=right, headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert annotator.status_code == 200, annotator.text
        assert annotator.json()["state"] == "mfa_pending"
    ada.close()
