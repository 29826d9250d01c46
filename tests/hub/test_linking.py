"""Linking homes to a hub, end to end: a real uvicorn hub on loopback over a SQLite file, real
key files, httpx. Codes used once and in time, proof of the offered key, replays and tampering
refused, answers checked against the pinned hub key, unlinking, and two links racing one code."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hearthcam.hub.client import HubClient, HubRefused, Linked
from hearthcam.hub.identity import HubError, Identity, fingerprint_of, load_or_create
from hearthcam.hub.registry import HubRegistry, LinkRefused
from hearthcam.hub.server import HubServer, hub_app, start_hub
from hearthcam.hub.signing import (
    KEY_HEADER,
    NONCE_HEADER,
    SignatureError,
    sign_request,
    verify_response,
)
from tests.support.postgres import new_database

LINK = "/hub/v1/link"
HELLO = "/hub/v1/hello"


class ShiftedClock:
    """The hub's clock: real time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Hub:
    url: str
    identity: Identity
    registry: HubRegistry
    clock: ShiftedClock
    database: Path


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    database = tmp_path / "hub.sqlite"
    registry = HubRegistry.open(f"sqlite:///{database}")
    identity = load_or_create(tmp_path / "hub" / "identity.pem")
    clock = ShiftedClock()
    server: HubServer = start_hub(hub_app(registry, identity, clock), "127.0.0.1", 0)
    try:
        yield Hub(server.url, identity, registry, clock, database)
    finally:
        server.stop()
        registry.close()


@pytest.fixture
def home(tmp_path: Path) -> Identity:
    return load_or_create(tmp_path / "home" / "identity.pem")


@pytest.fixture
def stranger(tmp_path: Path) -> Identity:
    return load_or_create(tmp_path / "stranger" / "identity.pem")


def _code(hub: Hub, ttl_s: float = 600.0) -> str:
    return hub.registry.new_code(time.time(), ttl_s=ttl_s, note="test")


def _refusal(call: object) -> HubRefused:
    assert callable(call)
    with pytest.raises(HubRefused) as caught:
        call()
    return caught.value


def _post_link(
    hub: Hub, signer: Identity, body: bytes, *, key_header: str | None = None
) -> httpx.Response:
    """A link request sent by hand: ``body`` signed by ``signer``."""
    headers = sign_request(signer, "POST", LINK, body, time.time())
    if key_header is not None:
        headers[KEY_HEADER] = key_header
    return httpx.post(hub.url + LINK, content=body, headers=headers)


def _link_body(code: str, offered: Identity, name: str = "home") -> bytes:
    return json.dumps({"code": code, "public_key": offered.public_b64, "name": name}).encode()


def _checked(hub: Hub, response: httpx.Response, nonce: str) -> httpx.Response:
    """``response`` after checking the hub signed it for the request with ``nonce``."""
    verify_response(
        hub.identity.public, nonce, response.status_code, response.content, response.headers
    )
    return response


def test_link_then_hello(hub: Hub, home: Identity) -> None:
    code = _code(hub)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)
    with HubClient(hub.url, home) as client:
        assert client.hub_key is None
        linked = client.link(code, "Maple Street")
        assert isinstance(linked, Linked)
        assert linked.hub_key_b64 == hub.identity.public_b64
        assert linked.hub_fingerprint == hub.identity.fingerprint()
        assert client.hub_key is not None
        assert fingerprint_of(client.hub_key) == hub.identity.fingerprint()
        assert client.hello() == linked.home_id
    assert hub.registry.home_id(home.key_id) == linked.home_id


def test_code_is_kept_only_as_its_hash(hub: Hub, home: Identity) -> None:
    code = _code(hub)
    with HubClient(hub.url, home) as client:
        client.link(code.lower().replace("-", " "), "typed loosely")  # one spelling of it
    stored = hub.database.read_bytes()
    for form in (code, code.replace("-", "")):
        assert form.encode() not in stored


def test_code_links_once(hub: Hub, home: Identity, stranger: Identity) -> None:
    code = _code(hub)
    with HubClient(hub.url, home) as client:
        client.link(code, "first")
    with HubClient(hub.url, stranger, hub_key=hub.identity.public) as client:
        refused = _refusal(lambda: client.link(code, "second"))
    assert (refused.status, refused.detail) == (403, "unknown or used code")
    assert hub.registry.home_id(stranger.key_id) is None


def test_unknown_code_refused(hub: Hub, home: Identity) -> None:
    _code(hub)
    with HubClient(hub.url, home, hub_key=hub.identity.public) as client:
        refused = _refusal(lambda: client.link("ABCDE-FGHJK", "guess"))
    assert (refused.status, refused.detail) == (403, "unknown or used code")


def test_expired_code_refused(hub: Hub, home: Identity) -> None:
    code = _code(hub, ttl_s=30)
    hub.clock.offset = 45  # past the code's life, within the signatures' window
    with HubClient(hub.url, home, hub_key=hub.identity.public) as client:
        refused = _refusal(lambda: client.link(code, "late"))
    assert (refused.status, refused.detail) == (403, "expired code")
    assert hub.registry.home_id(home.key_id) is None


def test_key_linked_already_refused(hub: Hub, home: Identity) -> None:
    with HubClient(hub.url, home) as client:
        client.link(_code(hub), "once")
        refused = _refusal(lambda: client.link(_code(hub), "twice"))
    assert (refused.status, refused.detail) == (409, "already linked")


def test_link_signed_by_another_key_refused(hub: Hub, home: Identity, stranger: Identity) -> None:
    code = _code(hub)
    body = _link_body(code, offered=home)
    # Signed by the stranger as itself: not the key offered.
    response = _post_link(hub, stranger, body)
    assert (response.status_code, response.json()) == (401, {"detail": "unknown key"})
    # Signed by the stranger under the offered key's name: the signature does not hold.
    response = _post_link(hub, stranger, body, key_header=home.key_id)
    assert (response.status_code, response.json()) == (401, {"detail": "bad signature"})
    assert hub.registry.home_id(home.key_id) is None
    assert hub.registry.home_id(stranger.key_id) is None
    # The code was not used up by the refusals.
    assert _post_link(hub, home, body).status_code == 200


def test_tampered_body_refused(hub: Hub, home: Identity) -> None:
    code = _code(hub)
    signed = _link_body(code, home, name="signed name")
    sent = _link_body(code, home, name="other name")
    headers = sign_request(home, "POST", LINK, signed, time.time())
    response = httpx.post(hub.url + LINK, content=sent, headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": "bad signature"})
    _checked(hub, response, headers[NONCE_HEADER])
    assert hub.registry.home_id(home.key_id) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "malformed link request"),
        (b'{"code": "ABCDE-FGHJK", "name": "no key"}', "public_key"),
        (b'{"code": "ABCDE-FGHJK", "public_key": "AAAA", "name": "x"}', "public_key"),
        (b'{"code": "ABCDE-FGHJK", "public_key": 7, "name": "x"}', "public_key"),
    ],
)
def test_malformed_link_body_refused(hub: Hub, home: Identity, body: bytes, problem: str) -> None:
    response = _post_link(hub, home, body)
    assert response.status_code == 422
    assert problem in response.json()["detail"]


def test_unlinked_key_refused(hub: Hub, stranger: Identity) -> None:
    with HubClient(hub.url, stranger, hub_key=hub.identity.public) as client:
        refused = _refusal(client.hello)
    assert (refused.status, refused.detail) == (401, "unknown key")


def test_replayed_request_refused(hub: Hub, home: Identity) -> None:
    with HubClient(hub.url, home) as client:
        client.link(_code(hub), "home")
    headers = sign_request(home, "GET", HELLO, b"", time.time())
    first = httpx.get(hub.url + HELLO, headers=headers)
    assert first.status_code == 200
    again = httpx.get(hub.url + HELLO, headers=headers)
    assert (again.status_code, again.json()) == (401, {"detail": "replayed"})
    _checked(hub, again, headers[NONCE_HEADER])


def test_signature_covers_the_query(hub: Hub, home: Identity) -> None:
    with HubClient(hub.url, home) as client:
        client.link(_code(hub), "home")
    target = HELLO + "?since=5&camera=front%20door"
    headers = sign_request(home, "GET", target, b"", time.time())
    assert httpx.get(hub.url + target, headers=headers).status_code == 200
    headers = sign_request(home, "GET", target, b"", time.time())
    moved = httpx.get(hub.url + HELLO + "?since=6&camera=front%20door", headers=headers)
    assert (moved.status_code, moved.json()) == (401, {"detail": "bad signature"})


def test_every_answer_is_signed(hub: Hub) -> None:
    nonce = "A" * 22
    unknown = httpx.get(hub.url + "/hub/v1/nowhere", headers={NONCE_HEADER: nonce})
    assert unknown.status_code == 404
    _checked(hub, unknown, nonce)
    unsigned = httpx.get(hub.url + HELLO)
    assert (unsigned.status_code, unsigned.json()) == (401, {"detail": "missing header"})
    _checked(hub, unsigned, "")
    with pytest.raises(SignatureError):  # bound to its request's nonce
        _checked(hub, unsigned, nonce)


def test_client_pinned_to_another_hub_refuses_answers(
    hub: Hub, home: Identity, stranger: Identity
) -> None:
    with HubClient(hub.url, home, hub_key=stranger.public) as client:
        with pytest.raises(SignatureError):
            client.link(_code(hub), "home")
        with pytest.raises(SignatureError):
            client.hello()
    # The same hub, pinned right, is believed.
    with HubClient(hub.url, home, hub_key=hub.identity.public) as client:
        assert client.hello() == hub.registry.home_id(home.key_id)


def test_unlink_then_hello_refused(hub: Hub, home: Identity) -> None:
    with HubClient(hub.url, home) as client:
        linked = client.link(_code(hub), "home")
        client.unlink()
        refused = _refusal(client.hello)
        assert (refused.status, refused.detail) == (401, "unknown key")
        refused = _refusal(client.unlink)
        assert (refused.status, refused.detail) == (401, "unknown key")
        assert hub.registry.home_id(home.key_id) is None
        # A new code links the same key again, as the same home.
        assert client.link(_code(hub), "home again").home_id == linked.home_id
        assert client.hello() == linked.home_id


def test_hello_needs_a_pinned_key(hub: Hub, home: Identity) -> None:
    with HubClient(hub.url, home) as client, pytest.raises(HubError, match="link first"):
        client.hello()


def test_two_links_racing_one_code_link_one_home(hub: Hub, tmp_path: Path) -> None:
    code = _code(hub)
    homes = [load_or_create(tmp_path / f"racer{i}.pem") for i in range(4)]
    start = threading.Barrier(len(homes))
    outcomes: dict[str, object] = {}

    def race(identity: Identity) -> None:
        with HubClient(hub.url, identity) as client:
            start.wait()
            try:
                outcomes[identity.key_id] = client.link(code, identity.key_id)
            except HubRefused as refused:
                outcomes[identity.key_id] = refused

    threads = [threading.Thread(target=race, args=(identity,)) for identity in homes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    linked = [key for key, outcome in outcomes.items() if isinstance(outcome, Linked)]
    refused = [outcome for outcome in outcomes.values() if isinstance(outcome, HubRefused)]
    assert len(linked) == 1
    assert [(r.status, r.detail) for r in refused] == [(403, "unknown or used code")] * 3
    assert [hub.registry.home_id(identity.key_id) is not None for identity in homes].count(
        True
    ) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty hub database: a SQLite file, or a database on the tests' PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    host: str = request.getfixturevalue("postgres_host")
    return new_database(host)


def test_registry_race_on_one_code(registry_url: str, tmp_path: Path) -> None:
    registry = HubRegistry.open(registry_url)
    try:
        code = registry.new_code(time.time())
        homes = [load_or_create(tmp_path / f"home{i}.pem") for i in range(8)]
        start = threading.Barrier(len(homes))
        results: list[int | str] = []
        lock = threading.Lock()

        def race(identity: Identity) -> None:
            start.wait()
            try:
                outcome: int | str = registry.link(code, identity.public_b64, "racer", time.time())
            except LinkRefused as refused:
                outcome = refused.reason
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=race, args=(identity,)) for identity in homes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results, key=str).count("unknown or used code") == 7
        assert len([r for r in results if isinstance(r, int)]) == 1
    finally:
        registry.close()


def test_registry_unlink_and_keys(registry_url: str, home: Identity) -> None:
    registry = HubRegistry.open(registry_url)
    try:
        now = time.time()
        assert registry.public_key(home.key_id) is None
        home_id = registry.link(registry.new_code(now), home.public_b64, "home", now)
        public = registry.public_key(home.key_id)
        assert public is not None
        assert fingerprint_of(public) == home.fingerprint()
        assert registry.home_id(home.key_id) == home_id
        assert registry.unlink(home.key_id, now) is True
        assert registry.unlink(home.key_id, now) is False
        assert registry.public_key(home.key_id) is None
        assert registry.home_id(home.key_id) is None
    finally:
        registry.close()
