"""Sharing over HTTP: consent to the receipt shown, owners only, and deletion of the event
withdrawing its shares (a shared copy is one of the event's derivatives)."""

from __future__ import annotations

from hearthcam.privacy.consent import copy_path
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
