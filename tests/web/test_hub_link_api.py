"""POST /api/hub/link and /api/hub/unlink, GET /api/hub/link: an admin links the installation to
a real review hub on loopback (uvicorn, its registry, clip store and view log on SQLite, real
keys) with a one-time code, and unlinks it; owners read the link; every refusal is a 4xx whose
detail is one line naming what failed."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from hearthcam.hub import linking
from hearthcam.hub.home import HOME_IDENTITY, LINK_FILE, UNLINKED_FILE
from hearthcam.hub.identity import load_or_create
from tests.conftest import free_port
from tests.hub.test_delivery import hub
from tests.support.hubs import TERMS, TestHub
from tests.support.world import World
from tests.web.conftest import ClientFor

__all__ = ["hub"]


def code(hub: TestHub) -> str:
    return hub.registry.new_code(time.time())


def refused(client: TestClient, body: dict[str, str], status: int) -> str:
    """The one-line detail of a refused link."""
    answer = client.post("/api/hub/link", json=body)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, str)
    assert "\n" not in detail
    return detail


def test_an_admin_links_with_a_code_and_sees_the_fingerprint_and_terms(
    world: World, client_for: ClientFor, hub: TestHub
) -> None:
    ada, alice, mia = client_for("ada"), client_for("alice"), client_for("mia")
    before = ada.get("/api/hub/link").json()
    assert (before["linked"], before["can_manage"]) == (False, True)
    assert before["default_name"]  # this box's name, for the form
    assert alice.get("/api/hub/link").json()["can_manage"] is False
    body = {"address": hub.url + "/", "code": code(hub), "name": "Maple Street"}
    assert alice.post("/api/hub/link", json=body).status_code == 403  # admins only
    assert mia.get("/api/hub/link").status_code == 403

    answer = ada.post("/api/hub/link", json=body)
    assert answer.status_code == 200, answer.text
    linked = answer.json()
    assert linked["linked"] is True
    assert linked["address"] == hub.url
    assert linked["fingerprint"] == hub.identity.fingerprint()
    assert linked["terms"] == {
        "operator": TERMS.operator, "annotators_in": TERMS.annotators_in,
        "keep_days": TERMS.keep_days,
    }  # fmt: skip
    assert linked["keeps_log"] is True
    identity = load_or_create(world.data_dir / HOME_IDENTITY)
    assert hub.registry.home_id(identity.key_id) == linked["home_id"]
    assert linking.current_link(world.data_dir).home_id == linked["home_id"]
    # The owner reads the same link; they may not change it.
    seen = alice.get("/api/hub/link").json()
    assert {k: seen[k] for k in ("address", "fingerprint", "terms")} == {
        k: linked[k] for k in ("address", "fingerprint", "terms")
    }
    assert (seen["can_manage"], seen["default_name"]) == (False, "")


def test_each_refusal_names_what_failed(world: World, client_for: ClientFor, hub: TestHub) -> None:
    ada = client_for("ada")
    assert "is not a hub address" in refused(
        ada, {"address": "hub.example.org", "code": code(hub)}, 422
    )
    unknown = refused(ada, {"address": hub.url, "code": "ABCDE-FGHJK"}, 400)
    assert unknown == (
        "the hub refused the code: it is unknown there, or was used already; ask the hub's "
        "operator for a new one"
    )
    late = hub.registry.new_code(time.time() - 3600, ttl_s=60)
    assert "the hub refused the code: it has expired;" in refused(
        ada, {"address": hub.url, "code": late}, 400
    )
    dead = f"http://127.0.0.1:{free_port()}"
    assert refused(ada, {"address": dead, "code": code(hub)}, 424).startswith(
        f"cannot reach the hub at {dead}"
    )
    refused(ada, {"address": hub.url, "code": code(hub), "name": "tab\there"}, 422)
    assert not (world.data_dir / LINK_FILE).exists()

    assert ada.post("/api/hub/link", json={"address": hub.url, "code": code(hub)}).is_success
    again = refused(ada, {"address": hub.url, "code": code(hub)}, 409)
    assert again == f"this home is linked already to the hub at {hub.url}: unlink it first"


def test_unlinking_has_the_hub_delete_every_clip_with_a_receipt(
    world: World, client_for: ClientFor, hub: TestHub
) -> None:
    ada, alice = client_for("ada"), client_for("alice")
    made = ada.post("/api/hub/link", json={"address": hub.url, "code": code(hub)}).json()
    link = linking.current_link(world.data_dir)
    with linking.client_for(link, load_or_create(world.data_dir / HOME_IDENTITY)) as home:
        home.send_clip("clip-1", b"redacted", "ab" * 32, int(time.time()) + 3600)
    assert alice.post("/api/hub/unlink").status_code == 403
    answer = ada.post("/api/hub/unlink")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"address": hub.url, "deleted": 1, "forgotten": ""}
    assert hub.clips.list(made["home_id"]) == []
    assert not (world.data_dir / LINK_FILE).exists()
    [receipts] = json.loads((world.data_dir / UNLINKED_FILE).read_text())
    assert [r["clip_id"] for r in receipts["receipts"]] == ["clip-1"]
    assert ada.get("/api/hub/link").json()["linked"] is False
    gone = ada.post("/api/hub/unlink")
    assert gone.status_code == 409
    assert gone.json()["detail"].startswith("this home is not linked to a hub")


def test_a_hub_away_keeps_the_link_and_says_so(
    world: World, client_for: ClientFor, hub: TestHub
) -> None:
    ada = client_for("ada")
    assert ada.post("/api/hub/link", json={"address": hub.url, "code": code(hub)}).is_success
    hub.stop()
    away = ada.post("/api/hub/unlink")
    assert away.status_code == 424
    assert away.json()["detail"].startswith(f"cannot reach the hub at {hub.url}")
    assert (world.data_dir / LINK_FILE).is_file()
    hub.start()  # back on the same port: the unlink goes through
    assert ada.post("/api/hub/unlink").json() == {"address": hub.url, "deleted": 0, "forgotten": ""}


def test_a_link_the_hub_forgot_is_410_and_forgotten_on_request(
    world: World, client_for: ClientFor, hub: TestHub
) -> None:
    ada, alice = client_for("ada"), client_for("alice")
    assert ada.post("/api/hub/link", json={"address": hub.url, "code": code(hub)}).is_success
    identity = load_or_create(world.data_dir / HOME_IDENTITY)
    assert hub.registry.unlink(identity.key_id, time.time())  # the operator removed the home
    gone = ada.post("/api/hub/unlink")
    assert gone.status_code == 410, gone.text
    assert "the hub does not know this home any more" in gone.json()["detail"]
    assert (world.data_dir / LINK_FILE).is_file()
    assert alice.post("/api/hub/unlink?forget=true").status_code == 403
    forgot = ada.post("/api/hub/unlink?forget=true")
    assert forgot.status_code == 200, forgot.text
    assert forgot.json() == {
        "address": hub.url, "deleted": 0, "forgotten": "the hub did not know this home any more"
    }  # fmt: skip
    assert not (world.data_dir / LINK_FILE).exists()
    assert ada.get("/api/hub/link").json()["linked"] is False


def test_a_hub_gone_for_good_is_forgotten_only_on_request(
    world: World, client_for: ClientFor, hub: TestHub
) -> None:
    ada = client_for("ada")
    assert ada.post("/api/hub/link", json={"address": hub.url, "code": code(hub)}).is_success
    hub.stop()
    assert ada.post("/api/hub/unlink").status_code == 424
    forgot = ada.post("/api/hub/unlink?forget=true")
    assert forgot.status_code == 200, forgot.text
    assert forgot.json()["forgotten"].startswith(
        f"the hub could not be reached (cannot reach the hub at {hub.url}"
    )
    assert not (world.data_dir / LINK_FILE).exists()


def test_a_hub_without_terms_and_a_damaged_link_are_shown(
    world: World, client_for: ClientFor, tmp_path: Path
) -> None:
    ada = client_for("ada")
    quiet = TestHub(tmp_path / "quiet", terms=None)
    quiet.start()
    try:
        made = ada.post("/api/hub/link", json={"address": quiet.url, "code": code(quiet)})
        assert made.status_code == 200, made.text
        assert (made.json()["linked"], made.json()["terms"]) == (True, None)
    finally:
        quiet.close()
    (world.data_dir / LINK_FILE).write_text("{")
    shown = ada.get("/api/hub/link").json()
    assert shown["linked"] is True
    assert "is damaged" in shown["problem"]
    assert ada.post("/api/hub/unlink").status_code == 409
