"""Sharing over HTTP: consent to the receipt shown, owners only, and deletion of the event
withdrawing its shares (a shared copy is one of the event's derivatives)."""

from __future__ import annotations

import dataclasses

from hearthcam.privacy.consent import HubDestination, copy_path
from hearthcam.store.hub_deliveries import DeliveryState, HubDeliveryStore
from hearthcam.vault.media import read_bytes, write_bytes
from tests.support.world import World
from tests.web.conftest import ClientFor


def test_the_owner_shares_under_the_receipt_shown_and_nobody_else_can(
    world: World, client_for: ClientFor
) -> None:
    event = world.add_event("front")
    alice, mia = client_for("alice"), client_for("mia")
    shown = alice.get(f"/api/events/{event.id}/share/receipt").json()
    assert shown["receipt"]["clip"]["camera"] == "Front door"
    stale = alice.post(f"/api/events/{event.id}/share", json={"receipt_sha256": "0" * 64})
    assert stale.status_code == 409
    assert "receipt changed" in stale.json()["detail"]
    assert (
        mia.post(
            f"/api/events/{event.id}/share", json={"receipt_sha256": shown["sha256"]}
        ).status_code
        == 403
    )
    made = alice.post(f"/api/events/{event.id}/share", json={"receipt_sha256": shown["sha256"]})
    assert made.status_code == 201
    again = alice.post(f"/api/events/{event.id}/share", json={"receipt_sha256": shown["sha256"]})
    assert again.status_code == 409
    assert [s["id"] for s in alice.get("/api/shares").json()] == [made.json()["id"]]
    assert mia.get("/api/shares").status_code == 403


def test_deleting_the_event_withdraws_its_shares(world: World, client_for: ClientFor) -> None:
    one, two = world.add_event("front"), world.add_event("front")
    first, second = world.add_share(one), world.add_share(two)
    mia = client_for("mia")  # a member may delete the household's events
    assert mia.delete(f"/api/events/{one.id}").status_code == 204
    assert world.services.sharing.shares.get(first.id) is None
    assert not copy_path(world.data_dir, first.id).exists()
    assert mia.post("/api/events/delete", json={"ids": [two.id]}).json() == {"deleted": 1}
    assert world.services.sharing.shares.get(second.id) is None
    assert not (world.data_dir / "shares" / second.id).exists()


def _failed(world: World, share_id: str) -> None:
    """The share's checks ran and failed (the second check refused): owner only."""
    shares, now = world.services.sharing.shares, world.clock()
    assert shares.set_status(share_id, "consented", "checking", now)
    assert shares.set_status(
        share_id,
        "checking",
        "owner_only",
        now,
        "Failed — owner only: faces",
        {"failed_step": "check"},
    )


def test_the_owner_reruns_the_checks_of_a_failed_share(world: World, client_for: ClientFor) -> None:
    share = world.add_share(world.add_event("front"))
    alice, mia, bob = client_for("alice"), client_for("mia"), client_for("bob")
    url = f"/api/shares/{share.id}/rerun"
    early = alice.post(url)
    assert early.status_code == 409  # still waiting: nothing to re-run
    assert "only a failed share" in early.json()["detail"]
    _failed(world, share.id)
    assert mia.post(url).status_code == 403  # members do not share
    assert bob.post(url).status_code == 404  # another household's share: as if none
    assert world.services.sharing.shares.get(share.id).status == "owner_only"  # type: ignore[union-attr]
    done = alice.post(url)
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "consented"
    assert body["receipt_sha256"] == share.receipt_sha256
    assert body["facts"] == {}
    last = body["history"][-1]
    assert (last["event"], last["before"], last["after"], last["by"]) == (
        "retry", "owner_only", "consented", "alice",
    )  # fmt: skip
    assert last["note"] == "Failed — owner only: faces"
    assert alice.get(f"/api/shares/{share.id}").json()["history"] == body["history"]
    assert alice.post(url).status_code == 409  # once: it is waiting again


def test_a_disposed_share_cannot_be_rerun_over_http(world: World, client_for: ClientFor) -> None:
    share = world.add_share(world.add_event("front"))
    shares, now = world.services.sharing.shares, world.clock()
    assert shares.set_status(share.id, "consented", "checking", now)
    assert shares.set_status(share.id, "checking", "disposed", now, "Not shared")
    refused = client_for("alice").post(f"/api/shares/{share.id}/rerun")
    assert refused.status_code == 409
    assert "Share the clip again" in refused.json()["detail"]


def test_a_long_events_second_clip_is_shared_under_its_own_receipt(
    world: World, client_for: ClientFor
) -> None:
    event = world.add_event("front")
    assert event.clip is not None
    second = event.clip.with_name(f"{event.id}.part2.mp4")
    write_bytes(world.services.media, second, event.camera, b"the second clip")
    world.store.save_event(dataclasses.replace(event, clip_parts=(second,)))
    alice = client_for("alice")
    base = f"/api/events/{event.id}/share"
    shown = alice.get(f"{base}/receipt", params={"part": 2}).json()
    assert shown["receipt"]["clip"]["part"] == 2
    assert shown["receipt"]["clip"]["parts"] == 2
    assert alice.get(f"{base}/receipt", params={"part": 3}).status_code == 404
    assert alice.get(f"{base}/receipt", params={"part": 0}).status_code == 422
    # The digest of clip 2's receipt does not share clip 1.
    assert alice.post(base, json={"receipt_sha256": shown["sha256"]}).status_code == 409
    made = alice.post(base, json={"receipt_sha256": shown["sha256"], "part": 2})
    assert made.status_code == 201
    share_id = made.json()["id"]
    copy = copy_path(world.config.data_dir, share_id)
    assert read_bytes(world.services.media, copy) == b"the second clip"
    listed = alice.get("/api/shares").json()
    assert [s["receipt"]["clip"]["part"] for s in listed] == [2]


HUB = HubDestination(
    "http://127.0.0.1:8470", "Northwind Review Co-op", "Portugal", 14, "ab12 " * 15 + "ab12"
)


def test_a_linked_home_shares_with_the_hub_under_a_receipt_that_names_it(
    world: World, client_for: ClientFor
) -> None:
    alice, mia = client_for("alice"), client_for("mia")
    assert alice.get("/api/hub").json()["linked"] is False
    event = world.add_event("front")
    base = f"/api/events/{event.id}/share"
    unlinked = alice.get(f"{base}/receipt", params={"to": "hub"})
    assert unlinked.status_code == 404
    assert "not linked to a review hub" in unlinked.json()["detail"]

    world.services.sharing.hub = lambda: HUB
    assert mia.get("/api/hub").status_code == 403  # owners only
    assert alice.get("/api/hub").json() == {
        "linked": True, "address": HUB.url, "operator": HUB.operator,
        "annotators_in": "Portugal", "keep_days": 14, "fingerprint": HUB.fingerprint, "log": None,
    }  # fmt: skip
    home = alice.get(f"{base}/receipt").json()
    shown = alice.get(f"{base}/receipt", params={"to": "hub"}).json()
    assert "hub" not in home["receipt"]
    assert shown["receipt"]["hub"]["operator"] == HUB.operator
    assert shown["receipt"]["kept_days"] == 14
    # The digest of the home receipt does not consent to the hub's, nor the other way round.
    wrong = alice.post(base, json={"receipt_sha256": home["sha256"], "to": "hub"})
    assert wrong.status_code == 409
    made = alice.post(base, json={"receipt_sha256": shown["sha256"], "to": "hub"})
    assert made.status_code == 201, made.text
    share = made.json()
    assert share["receipt"] == shown["receipt"]
    assert share["hub"] is None
    again = alice.post(base, json={"receipt_sha256": home["sha256"]})
    assert again.status_code == 409  # one live share per clip, wherever it goes
    assert alice.post(base, json={"receipt_sha256": shown["sha256"], "to": "x"}).status_code == 422

    deliveries = HubDeliveryStore(world.store)
    assert deliveries.begin(share["id"], "c" * 32, share_household(world, share), "k" * 16, 5.0)
    listed = alice.get(f"/api/shares/{share['id']}").json()
    assert listed["hub"]["state"] == "sending"
    assert listed["hub"]["receipt"] is None
    assert alice.get("/api/hub/deletions").json() == []  # its share is still there

    assert alice.delete(f"/api/shares/{share['id']}").status_code == 200
    receipt = {"clip_id": "c" * 32, "deleted_at": 7}
    # No delivery listens in this app (tests/hub/test_delivery.py has it): as if the hub answered.
    assert deliveries.move(
        share["id"], DeliveryState.SENDING, DeliveryState.DELETED, 9.0, deletion=receipt
    )
    [gone] = alice.get("/api/hub/deletions").json()
    assert (gone["share_id"], gone["state"], gone["receipt"]) == (share["id"], "deleted", receipt)
    assert client_for("bob").get("/api/hub/deletions").json() == []  # another household's


def share_household(world: World, share: dict[str, object]) -> int:
    record = world.services.sharing.shares.get(str(share["id"]))
    assert record is not None
    return record.household_id
