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
from hearthcam.hub.home import HOME_IDENTITY, read_link
from hearthcam.hub.identity import load_or_create, public_key_from_b64
from hearthcam.hub.monitor import HomeLogState
from hearthcam.viewlog.entry import ViewEntry, entry_bytes, parse_entry
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
    with av.open(io.BytesIO(data)) as container:
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
