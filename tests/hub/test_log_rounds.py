"""The hub's view log served to linked homes, end to end: a real uvicorn hub on loopback whose
registry and view log share one SQLite file, real identity and audit keys, homes linked with
codes. Honest rounds are clean and grow the home's state, a home gets only its own entries, and
a hub that cuts its log back or shows another log at the same size is named by the home."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from hearthcam.hub.client import HubClient, HubRefused, Linked
from hearthcam.hub.identity import (
    HubError,
    Identity,
    decode_b64,
    encode_b64,
    load_or_create,
)
from hearthcam.hub.monitor import Alarm, Finding, HomeLogState
from hearthcam.hub.registry import HubRegistry
from hearthcam.hub.server import hub_app, start_hub
from hearthcam.hub.signing import NONCE_HEADER, sign_request, sign_response, verify_response
from hearthcam.store.db import Store
from hearthcam.viewlog import merkle
from hearthcam.viewlog.entry import parse_entry
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from tests.viewlog.test_log import view
from tests.viewlog.test_tampering import truncate_to

LOG = "/hub/v1/log"


@dataclass
class Hub:
    """A running hub: its address, keys, registry and view log, and the file they share."""

    url: str
    identity: Identity
    registry: HubRegistry
    log: AuditLog
    key: AuditKey
    database: Path

    def code(self) -> str:
        return self.registry.new_code(time.time(), note="test")

    def append(self, *households: int, viewer: int = 7) -> None:
        """Logs one view of each household's clips, in order (entry i is ``view(i, ...)``)."""
        for household in households:
            self.log.append(view(self.log.size(), household=household, viewer=viewer))


@dataclass
class Home:
    """A linked home: its client (pinned to the hub) and what the link answered."""

    client: HubClient
    linked: Linked

    @property
    def id(self) -> int:
        return self.linked.home_id

    def round(self, log_key: AuditKey, state: HomeLogState) -> tuple[HomeLogState, list[Finding]]:
        return self.client.log_round(log_key.public_key, state, self.id)


@pytest.fixture
def resources() -> Iterator[ExitStack]:
    """Closes what a test opened (servers, clients, databases), last opened first."""
    with ExitStack() as stack:
        yield stack


def open_hub(
    resources: ExitStack,
    *,
    database: Path,
    identity: Identity,
    key: AuditKey,
    registry_database: Path | None = None,
) -> Hub:
    """A hub on a free loopback port serving the view log in ``database`` (a SQLite file),
    with its registry in the same file unless ``registry_database`` names another."""
    url = f"sqlite:///{database}"
    store = resources.enter_context(Store.open(url))  # migrates first, then the hub's tables
    registry = HubRegistry.open(f"sqlite:///{registry_database or database}")
    resources.callback(registry.close)
    log = AuditLog(store, key)
    server = start_hub(hub_app(registry, identity, log=log), "127.0.0.1", 0)
    resources.callback(server.stop)
    return Hub(server.url, identity, registry, log, key, database)


@pytest.fixture
def hub(tmp_path: Path, resources: ExitStack) -> Hub:
    folder = tmp_path / "hub"
    identity = load_or_create(folder / "identity.pem")
    key = AuditKey.load_or_create(key_path(folder))
    return open_hub(resources, database=folder / "hub.sqlite", identity=identity, key=key)


def link(hub: Hub, path: Path, resources: ExitStack, name: str) -> Home:
    client = HubClient(hub.url, load_or_create(path))
    resources.callback(client.close)
    return Home(client, client.link(hub.code(), name))


@pytest.fixture
def homes(hub: Hub, tmp_path: Path, resources: ExitStack) -> tuple[Home, Home]:
    first = link(hub, tmp_path / "home1.pem", resources, "Maple Street")
    second = link(hub, tmp_path / "home2.pem", resources, "Oak Lane")
    assert first.id != second.id
    return first, second


def alarms(findings: list[Finding]) -> list[tuple[Alarm, int | None]]:
    return [(f.alarm, f.index) for f in findings]


def indexes_of(hub: Hub, home: Home) -> list[int]:
    return [e.index for e in hub.log.entries_for_household(home.id)]


def test_registry_and_view_log_share_one_file(hub: Hub, homes: tuple[Home, Home]) -> None:
    hub.append(homes[0].id)
    with closing(sqlite3.connect(hub.database)) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        assert {"hub_homes", "hub_link_codes", "audit_views", "audit_checkpoints"} <= tables
        assert db.execute("SELECT count(*) FROM hub_homes").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM audit_views").fetchone() == (1,)


def test_the_link_names_the_log_key(hub: Hub, homes: tuple[Home, Home]) -> None:
    for home in homes:
        assert home.linked.log_key_b64 == encode_b64(hub.key.public_raw())
        assert home.linked.log_key_b64 != home.linked.hub_key_b64  # two keys of the hub's


def test_honest_rounds_are_clean_and_the_state_grows(hub: Hub, homes: tuple[Home, Home]) -> None:
    first, second = homes
    states = {first.id: HomeLogState(), second.id: HomeLogState()}
    one, two = first.id, second.id
    # The second batch holds nothing of the first home's, the last nothing at all.
    for batch in [(one, two, one), (two, two), (one, two, one, one), ()]:
        hub.append(*batch)
        for home in homes:
            # From the second round on the growth must be proven against the kept checkpoint.
            states[home.id], findings = home.round(hub.key, states[home.id])
            assert findings == []
            latest = hub.log.latest_checkpoint()
            assert states[home.id].checkpoint == latest
            assert latest is not None
            assert latest.size == hub.log.size()
    # One checkpoint per size the log had when asked: an unchanged log is not signed again.
    assert [c.size for c in hub.log.checkpoints()] == [3, 5, 9]
    for home in homes:
        seen = states[home.id].seen
        assert sorted(seen) == indexes_of(hub, home)
        assert dict(seen) == {e.index: e.data for e in hub.log.entries_for_household(home.id)}
    assert sorted(states[one].seen) == [0, 2, 5, 7, 8]
    assert sorted(states[two].seen) == [1, 3, 4, 6]


def test_a_home_never_receives_another_homes_entries(
    hub: Hub, homes: tuple[Home, Home], tmp_path: Path
) -> None:
    first, second = homes
    hub.append(first.id, second.id, second.id, first.id, second.id)
    # The answer as it comes off the wire, before any check could drop what it lists.
    home_identity = load_or_create(tmp_path / "home1.pem")
    target = f"{LOG}?kept=0"
    headers = sign_request(home_identity, "GET", target, b"", time.time())
    response = httpx.get(hub.url + target, headers=headers)
    verify_response(
        hub.identity.public,
        headers[NONCE_HEADER],
        response.status_code,
        response.content,
        response.headers,
    )
    assert response.status_code == 200
    listed = response.json()["entries"]
    assert [item["index"] for item in listed] == [0, 3]
    for item in listed:
        _index, entry = parse_entry(decode_b64(item["bytes"]))
        assert entry.household_id == first.id
    # And through the client: only its own, all of them, nothing found.
    state, findings = first.round(hub.key, HomeLogState())
    assert findings == []
    assert sorted(state.seen) == [0, 3]
    state, findings = second.round(hub.key, HomeLogState())
    assert findings == []
    assert sorted(state.seen) == [1, 2, 4]


def test_a_log_cut_back_is_shrunk_and_dropped(hub: Hub, homes: tuple[Home, Home]) -> None:
    first, second = homes
    hub.append(first.id, second.id, first.id, second.id, first.id, first.id)
    state, findings = first.round(hub.key, HomeLogState())
    assert findings == []
    assert state.checkpoint is not None
    assert state.checkpoint.size == 6
    truncate_to(hub.database, 3)  # as if nobody had viewed since entry 2
    for _ in range(2):  # the kept state stays, so every round alarms again
        new, findings = first.round(hub.key, state)
        assert alarms(findings) == [(Alarm.SHRUNK, None), (Alarm.DROPPED, 4), (Alarm.DROPPED, 5)]
        assert new is state
    # What the hub signed and served: the smaller log, not an error.
    latest = hub.log.latest_checkpoint()
    assert latest is not None
    assert latest.size == 3
    assert latest.signed_by(hub.key.public_key)
    # A home that kept nothing sees the cut log as a clean one: only the kept state catches it.
    fresh, findings = first.round(hub.key, HomeLogState())
    assert findings == []
    assert sorted(fresh.seen) == [0, 2]


def test_a_different_log_at_the_same_size_is_forked(
    hub: Hub, homes: tuple[Home, Home], tmp_path: Path, resources: ExitStack
) -> None:
    first, second = homes
    hub.append(first.id, second.id, first.id, second.id)
    state, findings = first.round(hub.key, HomeLogState())
    assert findings == []
    # The same hub (identity, registry, log key) serving another log of four entries, which
    # differs from the first only in entry 3, a view of the other home's clips.
    forked = open_hub(
        resources,
        database=tmp_path / "forked.sqlite",
        identity=hub.identity,
        key=hub.key,
        registry_database=hub.database,
    )
    forked.append(first.id, second.id, first.id)
    forked.append(second.id, viewer=8)
    assert forked.log.size() == hub.log.size()
    pinned = first.client.hub_key
    assert pinned is not None
    client = HubClient(forked.url, load_or_create(tmp_path / "home1.pem"), hub_key=pinned)
    resources.callback(client.close)
    assert client.hello() == first.id  # the same registry: the home is linked there too
    new, findings = client.log_round(hub.key.public_key, state, first.id)
    assert alarms(findings) == [(Alarm.FORKED, None)]
    assert new is state
    # The honest hub's next round, from the same state, is still clean.
    _state, findings = first.round(hub.key, state)
    assert findings == []


def test_an_unlinked_home_is_refused(
    hub: Hub, homes: tuple[Home, Home], tmp_path: Path, resources: ExitStack
) -> None:
    first, _second = homes
    hub.append(first.id)
    stranger = HubClient(
        hub.url, load_or_create(tmp_path / "stranger.pem"), hub_key=hub.identity.public
    )
    resources.callback(stranger.close)
    with pytest.raises(HubRefused) as caught:
        stranger.log_round(hub.key.public_key, HomeLogState(), first.id)
    assert (caught.value.status, caught.value.detail) == (401, "unknown key")
    first.client.unlink()
    with pytest.raises(HubRefused) as caught:
        first.round(hub.key, HomeLogState())
    assert (caught.value.status, caught.value.detail) == (401, "unknown key")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("kept=0", 200),
        ("kept=99", 200),  # more than the log holds: answered, for the home to name it
        ("kept=-1", 422),
        ("kept=1.5", 422),
        ("kept=", 422),
        ("", 422),
        ("kept=1&kept=2", 422),
        ("kept=1&size=2", 422),
    ],
)
def test_the_kept_size_must_be_one_whole_number(
    hub: Hub, homes: tuple[Home, Home], tmp_path: Path, query: str, status: int
) -> None:
    hub.append(homes[0].id, homes[1].id)
    target = f"{LOG}?{query}" if query else LOG
    identity = load_or_create(tmp_path / "home1.pem")
    headers = sign_request(identity, "GET", target, b"", time.time())
    response = httpx.get(hub.url + target, headers=headers)
    verify_response(
        hub.identity.public,
        headers[NONCE_HEADER],
        response.status_code,
        response.content,
        response.headers,
    )
    assert response.status_code == status
    if status == 200:
        assert response.json()["checkpoint"]["size"] == 2
        assert response.json()["consistency"] == []
    else:
        assert response.json()["detail"].startswith("malformed log request")


def test_a_hub_without_a_view_log(tmp_path: Path, resources: ExitStack) -> None:
    identity = load_or_create(tmp_path / "hub.pem")
    registry = HubRegistry.open(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    resources.callback(registry.close)
    server = start_hub(hub_app(registry, identity), "127.0.0.1", 0)
    resources.callback(server.stop)
    client = HubClient(server.url, load_or_create(tmp_path / "home.pem"))
    resources.callback(client.close)
    linked = client.link(registry.new_code(time.time()), "home")
    assert linked.log_key_b64 is None
    some_key = AuditKey.load_or_create(tmp_path / "audit.pem")
    with pytest.raises(HubRefused) as caught:
        client.log_round(some_key.public_key, HomeLogState(), linked.home_id)
    assert (caught.value.status, caught.value.detail) == (404, "no view log")


def test_a_log_opened_without_its_key_is_refused(tmp_path: Path, resources: ExitStack) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    store = resources.enter_context(Store.open(url))
    registry = HubRegistry.open(url)
    resources.callback(registry.close)
    with pytest.raises(HubError, match="signing key"):
        hub_app(registry, load_or_create(tmp_path / "hub.pem"), log=AuditLog(store, None))


GOOD_CHECKPOINT = {"size": 1, "root": encode_b64(bytes(32)), "time_ms": 5, "signature": "AA"}


def fake_hub(tmp_path: Path, resources: ExitStack, answer: object) -> HubClient:
    """A client pinned to a stand-in hub whose log route answers ``answer``, signed."""
    identity = load_or_create(tmp_path / "fake-hub.pem")
    body = json.dumps(answer).encode()
    app = FastAPI()

    @app.get(LOG)
    async def signed(request: Request) -> Response:
        headers = sign_response(identity, request.headers.get(NONCE_HEADER, ""), 200, body)
        return Response(body, media_type="application/json", headers=headers)

    server = start_hub(app, "127.0.0.1", 0)
    resources.callback(server.stop)
    client = HubClient(server.url, load_or_create(tmp_path / "home.pem"), hub_key=identity.public)
    resources.callback(client.close)
    return client


@pytest.mark.parametrize(
    "answer",
    [
        {"consistency": [], "entries": []},
        {"checkpoint": [], "consistency": [], "entries": []},
        {"checkpoint": {**GOOD_CHECKPOINT, "size": "1"}, "consistency": [], "entries": []},
        {"checkpoint": {**GOOD_CHECKPOINT, "size": True}, "consistency": [], "entries": []},
        {"checkpoint": {**GOOD_CHECKPOINT, "root": "not b64!"}, "consistency": [], "entries": []},
        {"checkpoint": {**GOOD_CHECKPOINT, "time_ms": None}, "consistency": [], "entries": []},
        {"checkpoint": GOOD_CHECKPOINT, "consistency": "AA", "entries": []},
        {"checkpoint": GOOD_CHECKPOINT, "consistency": [7], "entries": []},
        {"checkpoint": GOOD_CHECKPOINT, "consistency": []},
        {"checkpoint": GOOD_CHECKPOINT, "consistency": [], "entries": {}},
        {"checkpoint": GOOD_CHECKPOINT, "consistency": [], "entries": [{"index": 0}]},
        {
            "checkpoint": GOOD_CHECKPOINT,
            "consistency": [],
            "entries": [{"index": -1, "bytes": "AA", "proof": []}],
        },
        {
            "checkpoint": GOOD_CHECKPOINT,
            "consistency": [],
            "entries": [{"index": 0, "bytes": "AA", "proof": None}],
        },
    ],
)
def test_an_answer_not_in_shape_is_a_hub_error(
    tmp_path: Path, resources: ExitStack, answer: dict[str, object]
) -> None:
    client = fake_hub(tmp_path, resources, answer)
    key = AuditKey.load_or_create(tmp_path / "audit.pem")
    with pytest.raises(HubError, match="log answer is not one") as caught:
        client.log_round(key.public_key, HomeLogState(), 1)
    assert not isinstance(caught.value, HubRefused)


def test_a_well_formed_answer_from_a_fake_hub_reaches_the_check(
    tmp_path: Path, resources: ExitStack
) -> None:
    """The control of the test above: an answer in shape, whose checkpoint no key signed, is
    judged by the check (BAD_SIGNATURE), not refused as a shape."""
    answer = {"checkpoint": GOOD_CHECKPOINT, "consistency": [], "entries": []}
    client = fake_hub(tmp_path, resources, answer)
    key = AuditKey.load_or_create(tmp_path / "audit.pem")
    state, findings = client.log_round(key.public_key, HomeLogState(), 1)
    assert alarms(findings) == [(Alarm.BAD_SIGNATURE, None)]
    assert state == HomeLogState()


@pytest.mark.parametrize(
    ("query", "pair"),
    [
        ("first=3&second=5", (3, 5)),
        ("first=5&second=5", (5, 5)),
        ("first=0&second=5", None),
        ("first=6&second=5", None),
        ("first=3", None),
        ("first=3&second=5&kept=1", None),
        ("first=3&first=4&second=5", None),
        ("first=-1&second=5", None),
        ("first=3&second=5e3", None),
        ("first=3&second=" + "9" * 19, None),
    ],
)
def test_a_consistency_request_names_two_sizes_in_order(
    query: str, pair: tuple[int, int] | None
) -> None:
    from hearthcam.hub.server import _pair_query

    assert _pair_query(f"/hub/v1/log/consistency?{query}") == pair


def test_a_home_gets_the_proof_between_two_sizes_and_nothing_beyond_the_log(
    hub: Hub, homes: tuple[Home, Home]
) -> None:
    first, second = homes
    hub.append(first.id, second.id)
    two = hub.log.checkpoint(time.time())
    hub.append(first.id, second.id, first.id)
    five = hub.log.checkpoint(time.time())
    proof = first.client.consistency(2, 5)
    assert merkle.verify_consistency(2, 5, two.root, five.root, proof)
    assert not merkle.verify_consistency(2, 5, five.root, two.root, proof)
    assert first.client.consistency(5, 5) == ()
    with pytest.raises(HubRefused) as caught:
        first.client.consistency(3, 6)
    assert (caught.value.status, caught.value.detail) == (422, "the log has fewer than 6 entries")
